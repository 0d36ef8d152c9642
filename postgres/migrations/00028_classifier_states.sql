-- Curators' run-time decisions on classifiers (the PostgreSQL form of
-- sqlite/migrations/00028_classifier_states.sql).

-- +goose Up
CREATE TABLE classifier_states (
	name       TEXT PRIMARY KEY,
	paused     BOOLEAN NOT NULL,
	reason     TEXT NOT NULL,
	updated_by TEXT NOT NULL,
	updated_at TEXT NOT NULL
);

-- +goose Down
DROP TABLE classifier_states;
