-- The PHM service's chaff ring (phm/server, issue 16): an inbox voucher
-- that keeps nothing (it did not open, a replay, an account past its
-- bound) writes random bytes here, as many as a voucher that opened below
-- the threshold writes into phm_vouchers and phm_accounts, so that the
-- store's work does not say which it was, and its storage is bounded by
-- the ring's rows (vigil.PHMChaffSlots) whatever clients send. The rows
-- are made here so that every write of the ring is an update.

-- +goose Up
CREATE TABLE phm_chaff (
	slot INTEGER PRIMARY KEY,
	data BLOB NOT NULL
);

INSERT INTO phm_chaff (slot, data)
	WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < 255)
	SELECT n, X'' FROM s;

-- +goose Down
DROP TABLE phm_chaff;
