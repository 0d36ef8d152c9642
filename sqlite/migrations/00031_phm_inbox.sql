-- The private hash matching service's durable inbox (phm/server): the
-- vouchers POST /v1/phm/vouchers received, raw, in order of arrival,
-- until the service's worker has processed them. A row is deleted as soon
-- as its voucher is processed, whatever it did.

-- +goose Up
CREATE TABLE phm_inbox (
	id          INTEGER PRIMARY KEY AUTOINCREMENT, -- order of arrival; never reused
	account     TEXT NOT NULL,
	voucher     BLOB NOT NULL,
	received_at TEXT NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0, -- failed attempts (a store error)
	retry_at    TEXT -- not before (after a failed attempt); NULL: due
);

-- +goose Down
DROP TABLE phm_inbox;
