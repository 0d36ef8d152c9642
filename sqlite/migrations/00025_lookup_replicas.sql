-- The replicas that share each lookup key's rate limit: each records when
-- it was last seen at every flush of its lookup counts, and divides a
-- key's rate by the replicas seen within the live window.

-- +goose Up
CREATE TABLE lookup_replicas (
	replica TEXT PRIMARY KEY,
	seen_at INTEGER NOT NULL -- Unix nanoseconds, the replica's clock
) WITHOUT ROWID;

-- +goose Down
DROP TABLE lookup_replicas;
