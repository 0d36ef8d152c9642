-- One case per detection: a case opened with a key (the item and the
-- queue, see vigil.Case.Key) is the only live one with that key, so that
-- acting on one detection twice (a retried job, a resent request, a
-- queued retry of a failed open) finds the case instead of opening another.
-- Purging the case's evidence clears its key: the item detected again after
-- its retention opens a new case.

-- +goose Up
ALTER TABLE cases ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX cases_dedup_key ON cases (dedup_key) WHERE dedup_key IS NOT NULL;

-- +goose Down
DROP INDEX cases_dedup_key;
ALTER TABLE cases DROP COLUMN dedup_key;
