-- Hosted lookups: the lookup role, per-key lookup limits, what each bank
-- reveals to lookup keys, and per-key daily lookup counts (quotas and
-- transparency figures).

-- +goose Up
-- SQLite cannot change a CHECK constraint: the table is rebuilt with the
-- new role. Nothing references api_keys, so dropping it is safe.
CREATE TABLE api_keys_new (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL,
	role         TEXT NOT NULL CHECK (role IN ('admin', 'curator', 'matcher', 'reviewer', 'lookup')),
	secret_hash  TEXT NOT NULL UNIQUE, -- hex SHA-256 of the secret
	hint         TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	created_by   TEXT NOT NULL DEFAULT '',
	last_used_at TEXT,
	revoked_at   TEXT,
	revoked_by   TEXT NOT NULL DEFAULT '',
	limits       TEXT -- JSON vigil.KeyLimits; NULL: the server's defaults
);
INSERT INTO api_keys_new (id, name, role, secret_hash, hint, created_at, created_by, last_used_at, revoked_at, revoked_by)
	SELECT id, name, role, secret_hash, hint, created_at, created_by, last_used_at, revoked_at, revoked_by FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_new RENAME TO api_keys;
CREATE UNIQUE INDEX api_keys_unrevoked_name ON api_keys (name) WHERE revoked_at IS NULL;

-- The least (bank name and distance) for every bank that exists: other
-- roles' answers do not depend on it.
ALTER TABLE banks ADD COLUMN reveal TEXT NOT NULL DEFAULT 'bank' CHECK (reveal IN ('full', 'source', 'bank'));

CREATE TABLE lookup_counts (
	key_id  INTEGER NOT NULL,
	day     TEXT NOT NULL, -- UTC, YYYY-MM-DD
	lookups INTEGER NOT NULL DEFAULT 0, -- signals looked up
	PRIMARY KEY (key_id, day)
) WITHOUT ROWID;
CREATE INDEX lookup_counts_day ON lookup_counts (day);

-- +goose Down
DROP TABLE lookup_counts;
ALTER TABLE banks DROP COLUMN reveal;
DELETE FROM api_keys WHERE role = 'lookup';
CREATE TABLE api_keys_old (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL,
	role         TEXT NOT NULL CHECK (role IN ('admin', 'curator', 'matcher', 'reviewer')),
	secret_hash  TEXT NOT NULL UNIQUE,
	hint         TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	created_by   TEXT NOT NULL DEFAULT '',
	last_used_at TEXT,
	revoked_at   TEXT,
	revoked_by   TEXT NOT NULL DEFAULT ''
);
INSERT INTO api_keys_old SELECT id, name, role, secret_hash, hint, created_at, created_by, last_used_at, revoked_at, revoked_by FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_old RENAME TO api_keys;
CREATE UNIQUE INDEX api_keys_unrevoked_name ON api_keys (name) WHERE revoked_at IS NULL;
