-- Review UI sessions and failed-login counts in the store (see the sqlite
-- migration of the same number).

-- +goose Up
CREATE TABLE ui_sessions (
	id           TEXT PRIMARY KEY, -- hex SHA-256 of the session token
	key_id       BIGINT NOT NULL REFERENCES api_keys (id),
	created_at   TEXT NOT NULL,
	last_seen_at TEXT NOT NULL,
	expires_at   TEXT NOT NULL,
	decided      BIGINT NOT NULL DEFAULT 0,
	since_break  BIGINT NOT NULL DEFAULT 0,
	break_from   TEXT NOT NULL
);
CREATE INDEX ui_sessions_key ON ui_sessions (key_id, created_at);
CREATE INDEX ui_sessions_last_seen ON ui_sessions (last_seen_at);
CREATE INDEX ui_sessions_expires ON ui_sessions (expires_at);

CREATE TABLE login_failures (
	addr     TEXT PRIMARY KEY,
	since    TEXT NOT NULL,
	failures BIGINT NOT NULL
);
CREATE INDEX login_failures_since ON login_failures (since);

-- +goose Down
DROP TABLE login_failures;
DROP TABLE ui_sessions;
