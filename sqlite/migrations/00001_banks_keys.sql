-- Banks, their entries, the change sequence and API keys.
-- Times are UTC text in a fixed-width RFC 3339 form, so they sort as text and
-- stay readable in the sqlite3 shell.

-- +goose Up
CREATE TABLE banks (
	id             INTEGER PRIMARY KEY,
	name           TEXT NOT NULL UNIQUE,
	description    TEXT NOT NULL DEFAULT '',
	enabled        INTEGER NOT NULL DEFAULT 1,
	negative       INTEGER NOT NULL DEFAULT 0,
	thresholds     TEXT NOT NULL DEFAULT '{}', -- JSON: signal type -> distance
	version        INTEGER NOT NULL DEFAULT 1,
	active_entries INTEGER NOT NULL DEFAULT 0, -- kept up to date so lists need no COUNT(*)
	created_at     TEXT NOT NULL,
	updated_at     TEXT NOT NULL
);

-- Entries are never deleted: a retraction keeps the row for provenance.
CREATE TABLE entries (
	id              INTEGER PRIMARY KEY,
	-- Checked at commit: an immediate check could abort a multi-row INSERT
	-- part-way, so SQLite would keep a statement journal (a copy of every
	-- page the statement changes) to undo it, a fifth of a bulk import's time.
	bank_id         INTEGER NOT NULL REFERENCES banks (id) DEFERRABLE INITIALLY DEFERRED,
	signal_type     TEXT NOT NULL,
	value           BLOB NOT NULL, -- hashes as bytes, other values as UTF-8
	source          TEXT NOT NULL DEFAULT '',
	source_entry_id TEXT NOT NULL DEFAULT '',
	category        TEXT NOT NULL DEFAULT '',
	added_by        TEXT NOT NULL DEFAULT '',
	added_at        TEXT NOT NULL,
	retracted_by    TEXT NOT NULL DEFAULT '',
	retracted_at    TEXT,
	retract_reason  TEXT NOT NULL DEFAULT '',
	seq             INTEGER NOT NULL -- change sequence of the latest change
);

-- At most one active entry per (bank, type, value); retracted ones may repeat.
CREATE UNIQUE INDEX entries_active_value ON entries (bank_id, signal_type, value)
	WHERE retracted_at IS NULL;

-- Serves both the index loader (all entries of a type) and the change feed
-- (entries of a type changed after a sequence number). Every index costs
-- bulk-import speed, so there are only these two.
CREATE INDEX entries_type_seq ON entries (signal_type, seq);

-- One row: the last change sequence number handed out.
CREATE TABLE change_seq (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	value INTEGER NOT NULL
);
INSERT INTO change_seq (id, value) VALUES (1, 0);

CREATE TABLE api_keys (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL,
	role         TEXT NOT NULL CHECK (role IN ('admin', 'curator', 'matcher', 'reviewer')),
	secret_hash  TEXT NOT NULL UNIQUE, -- hex SHA-256 of the secret
	hint         TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	created_by   TEXT NOT NULL DEFAULT '',
	last_used_at TEXT,
	revoked_at   TEXT,
	revoked_by   TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE change_seq;
DROP TABLE entries;
DROP TABLE banks;
