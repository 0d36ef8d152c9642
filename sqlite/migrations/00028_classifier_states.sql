-- Curators' run-time decisions on classifiers: a paused classifier is not
-- called, on any replica, until a curator resumes it; the state outlives
-- a restart.

-- +goose Up
CREATE TABLE classifier_states (
	name       TEXT PRIMARY KEY,
	paused     INTEGER NOT NULL,
	reason     TEXT NOT NULL,
	updated_by TEXT NOT NULL,
	updated_at TEXT NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE classifier_states;
