-- Conversation scoring state for the grooming detector (see the sqlite
-- migration of the same number).

-- +goose Up
CREATE TABLE conversations (
	id         TEXT PRIMARY KEY,
	state      BYTEA NOT NULL,
	risk       BYTEA NOT NULL,
	messages   BIGINT NOT NULL DEFAULT 0,
	score      DOUBLE PRECISION NOT NULL DEFAULT 0,
	flagged    BOOLEAN NOT NULL DEFAULT FALSE,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	expires_at TEXT NOT NULL
);
CREATE INDEX conversations_expires_at ON conversations (expires_at);

-- +goose Down
DROP TABLE conversations;
