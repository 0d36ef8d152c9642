-- Conversation scoring state for the grooming detector: a bounded summary
-- (evidence spans and counters), never the messages' text, kept until
-- expires_at.

-- +goose Up
CREATE TABLE conversations (
	id         TEXT PRIMARY KEY,
	state      BLOB NOT NULL,
	risk       BLOB NOT NULL,
	messages   INTEGER NOT NULL DEFAULT 0,
	score      REAL NOT NULL DEFAULT 0,
	flagged    INTEGER NOT NULL DEFAULT 0,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	expires_at TEXT NOT NULL
);
CREATE INDEX conversations_expires_at ON conversations (expires_at);

-- +goose Down
DROP TABLE conversations;
