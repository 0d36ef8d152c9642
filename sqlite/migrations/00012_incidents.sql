-- Incidents: confirmed cases packaged for a centre, the account facts a
-- platform gives for the users they are about, and their submissions.
--
-- An incident's content (files, excerpts, the reviewer's classification)
-- is a JSON snapshot taken from its cases when it is built: a case's
-- evidence is purged when its retention ends, what was reported is not.
-- incident_cases holds each case once, so a case is reported once.

-- +goose Up
CREATE TABLE incidents (
	id            INTEGER PRIMARY KEY,
	state         TEXT NOT NULL CHECK (state IN ('draft', 'approved')),
	reported_user TEXT NOT NULL,
	body          TEXT NOT NULL, -- JSON of vigil.Incident
	created_by    TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL,
	approved_by   TEXT,
	approved_at   TEXT
);
CREATE INDEX incidents_state ON incidents (state);

CREATE TABLE incident_cases (
	case_id     INTEGER PRIMARY KEY REFERENCES cases (id),
	incident_id INTEGER NOT NULL REFERENCES incidents (id)
);
CREATE INDEX incident_cases_incident ON incident_cases (incident_id);

CREATE TABLE account_facts (
	user_id    TEXT PRIMARY KEY,
	body       TEXT NOT NULL, -- JSON of vigil.AccountFacts
	updated_at TEXT NOT NULL
);

-- One row per sending of an incident to a destination, its progress and
-- attempts as JSON (vigil.Submission), rewritten whole in each step's
-- transaction. The partial unique index allows one live submission per
-- incident and destination: a failed one may be tried again.
CREATE TABLE submissions (
	id          INTEGER PRIMARY KEY,
	incident_id INTEGER NOT NULL REFERENCES incidents (id),
	destination TEXT NOT NULL,
	state       TEXT NOT NULL,
	body        TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX submissions_live ON submissions (incident_id, destination) WHERE state <> 'failed';

-- +goose Down
DROP TABLE submissions;
DROP TABLE account_facts;
DROP TABLE incident_cases;
DROP TABLE incidents;
