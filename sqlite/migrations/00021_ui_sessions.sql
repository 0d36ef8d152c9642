-- Review UI sessions and failed-login counts in the store
-- (vigil.SessionService), so that every replica on one database sees the
-- same ones and they survive a restart.

-- +goose Up
-- A session is known by the SHA-256 of its token, never the token. It ends
-- SessionIdle after last_seen_at (recorded at most once a minute) or at
-- expires_at (login + SessionMaxAge), or with its key's revocation.
CREATE TABLE ui_sessions (
	id           TEXT PRIMARY KEY, -- hex SHA-256 of the session token
	key_id       INTEGER NOT NULL REFERENCES api_keys (id),
	created_at   TEXT NOT NULL,
	last_seen_at TEXT NOT NULL,
	expires_at   TEXT NOT NULL,
	decided      INTEGER NOT NULL DEFAULT 0,
	since_break  INTEGER NOT NULL DEFAULT 0,
	break_from   TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX ui_sessions_key ON ui_sessions (key_id, created_at);
CREATE INDEX ui_sessions_last_seen ON ui_sessions (last_seen_at);
CREATE INDEX ui_sessions_expires ON ui_sessions (expires_at);

-- Failed logins per remote address in the current window (since); rows
-- whose window has ended are pruned at every failure.
CREATE TABLE login_failures (
	addr     TEXT PRIMARY KEY,
	since    TEXT NOT NULL,
	failures INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_failures_since ON login_failures (since);

-- +goose Down
DROP TABLE login_failures;
DROP TABLE ui_sessions;
