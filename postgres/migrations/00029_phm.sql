-- Private hash matching: the quality of PDQ entries, and the service's state per account and epoch
-- (phm/server): what was counted, what was revealed and the recovered
-- key, so that a restart forgets no positive and counts none twice.

-- +goose Up
-- A PDQ entry's quality, where its list gave one (NULL: unknown); the PHM
-- list selection drops PDQ below 50.
ALTER TABLE entries ADD COLUMN quality SMALLINT;

CREATE TABLE phm_accounts (
	account      TEXT NOT NULL,
	epoch        BIGINT NOT NULL,
	positives    INTEGER NOT NULL,
	account_key  BYTEA,  -- sealed to the review key; NULL before the threshold
	recovered_at TEXT,
	updated_at   TEXT NOT NULL,
	PRIMARY KEY (account, epoch)
);

-- Every counted voucher, kept for good: its id refuses a replay.
CREATE TABLE phm_vouchers (
	account    TEXT NOT NULL,
	epoch      BIGINT NOT NULL,
	voucher_id BYTEA NOT NULL,
	n          INTEGER NOT NULL, -- order of arrival in the account's epoch
	state      TEXT NOT NULL CHECK (state IN ('pending', 'revealed', 'handled', 'dropped')),
	data       BYTEA, -- pending: the opened header; revealed: the sealed payload
	opened_at  TEXT NOT NULL,
	PRIMARY KEY (account, epoch, voucher_id)
);

CREATE INDEX phm_vouchers_state ON phm_vouchers (state, opened_at) WHERE state IN ('pending', 'revealed');

-- +goose Down
DROP TABLE phm_vouchers;
DROP TABLE phm_accounts;
ALTER TABLE entries DROP COLUMN quality;
