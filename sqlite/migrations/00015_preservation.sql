-- Preservation: legal holds, and incidents purged when their retention
-- ends (vigil.PreservationService).
--
-- A hold names an incident or a case and keeps it, and its evidence, past
-- retention until hold_until, unless released earlier. Holds are never
-- deleted: released and lapsed ones are the record of what was asked.
-- The partial indexes serve the purge queries, which look only for
-- unreleased holds.
--
-- An incident's purged_at is set when its retention ended and its
-- evidence was deleted: the row stays (its id, state, case ids and times
-- are what transparency figures count) and incident_cases with it, so a
-- case is still reported once.

-- +goose Up
CREATE TABLE holds (
	id             INTEGER PRIMARY KEY,
	incident_id    INTEGER REFERENCES incidents (id),
	case_id        INTEGER REFERENCES cases (id),
	reason         TEXT NOT NULL,
	requested_by   TEXT NOT NULL DEFAULT '',
	hold_until     TEXT NOT NULL,
	created_by     TEXT NOT NULL,
	created_at     TEXT NOT NULL,
	updated_at     TEXT NOT NULL,
	released_by    TEXT,
	released_at    TEXT,
	release_reason TEXT,
	CHECK ((incident_id IS NULL) <> (case_id IS NULL))
);
CREATE INDEX holds_incident ON holds (incident_id, hold_until) WHERE released_at IS NULL;
CREATE INDEX holds_case ON holds (case_id, hold_until) WHERE released_at IS NULL;

ALTER TABLE incidents ADD COLUMN purged_at TEXT;
CREATE INDEX incidents_live ON incidents (id) WHERE purged_at IS NULL;
-- The purge reads every submission of each candidate incident; the
-- partial index of live submissions does not serve that.
CREATE INDEX submissions_incident ON submissions (incident_id);

-- +goose Down
DROP INDEX submissions_incident;
DROP INDEX incidents_live;
ALTER TABLE incidents DROP COLUMN purged_at;
DROP TABLE holds;
