-- The PHM service's hand-off grid (phm/server, issue 16): a batch of
-- vouchers no longer recovers an account's key or reveals its matches;
-- it marks the account due, in a column every account row writes alike,
-- and the next tick of the grid recovers and reveals, with a fixed
-- quantum of work whether or not anything is due.

-- +goose Up
ALTER TABLE phm_accounts ADD COLUMN due INTEGER NOT NULL DEFAULT 0;
CREATE INDEX phm_accounts_due ON phm_accounts (updated_at) WHERE due = 1;

-- +goose Down
DROP INDEX phm_accounts_due;
ALTER TABLE phm_accounts DROP COLUMN due;
