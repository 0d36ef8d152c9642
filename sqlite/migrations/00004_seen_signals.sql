-- Signals (never content) of items matched against the banks, kept for a
-- retention period, and the matches found for them when entries are added
-- later (retroactive re-matching).

-- +goose Up
CREATE TABLE seen_signals (
	id             INTEGER PRIMARY KEY,
	content_sha256 TEXT NOT NULL,
	signal_type    TEXT NOT NULL,
	value          TEXT NOT NULL,
	seen_at        TEXT NOT NULL,
	expires_at     TEXT NOT NULL,
	UNIQUE (signal_type, value, content_sha256)
);
CREATE INDEX seen_signals_expires_at ON seen_signals (expires_at);

CREATE TABLE rematches (
	id             INTEGER PRIMARY KEY,
	content_sha256 TEXT NOT NULL,
	match          TEXT NOT NULL, -- JSON of vigil.Match
	seen_at        TEXT NOT NULL,
	found_at       TEXT NOT NULL,
	entry_id       INTEGER NOT NULL,
	UNIQUE (content_sha256, entry_id)
);

-- +goose Down
DROP TABLE rematches;
DROP TABLE seen_signals;
