-- One case per detection (see the sqlite migration of the same number).

-- +goose Up
ALTER TABLE cases ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX cases_dedup_key ON cases (dedup_key) WHERE dedup_key IS NOT NULL;

-- +goose Down
DROP INDEX cases_dedup_key;
ALTER TABLE cases DROP COLUMN dedup_key;
