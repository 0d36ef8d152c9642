-- Review: queues, cases with their evidence and history, what decisions say
-- about bank entries, and entry quarantine.

-- +goose Up
CREATE TABLE queues (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	description TEXT NOT NULL DEFAULT '',
	roles       TEXT NOT NULL DEFAULT '[]', -- JSON: roles that see the queue
	created_at  TEXT NOT NULL
);

-- Evidence is JSON, read and written whole with its case. PurgeCase sets
-- matches, conversation and content to NULL and purged_at when retention
-- ends; the row stays, so counts and the history outlive the evidence.
CREATE TABLE cases (
	id           INTEGER PRIMARY KEY,
	queue_id     INTEGER NOT NULL REFERENCES queues (id),
	kind         TEXT NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('open', 'assigned', 'decided', 'escalated')),
	priority     INTEGER NOT NULL DEFAULT 0,
	rule         TEXT NOT NULL DEFAULT '',
	content      TEXT,          -- JSON of vigil.ContentRef
	matches      TEXT,          -- JSON of []vigil.Match
	conversation TEXT,          -- JSON of vigil.CaseConversation
	assigned_to  TEXT NOT NULL DEFAULT '',
	decision     TEXT,          -- JSON of vigil.Decision, the latest
	created_at   TEXT NOT NULL,
	updated_at   TEXT NOT NULL,
	retain_until TEXT NOT NULL,
	purged_at    TEXT
);
CREATE INDEX cases_queue_state ON cases (queue_id, state);
CREATE INDEX cases_retain_until ON cases (retain_until) WHERE purged_at IS NULL;

CREATE TABLE case_events (
	id      INTEGER PRIMARY KEY,
	case_id INTEGER NOT NULL REFERENCES cases (id),
	time    TEXT NOT NULL,
	actor   TEXT NOT NULL,
	kind    TEXT NOT NULL,
	detail  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX case_events_case ON case_events (case_id, id);

-- The entries each case matched, once per case: decisions count against
-- them and the spike trigger counts cases per entry over time. Ids only,
-- no evidence, so rows outlive a purge.
CREATE TABLE case_entries (
	case_id    INTEGER NOT NULL REFERENCES cases (id),
	entry_id   INTEGER NOT NULL,
	bank_id    INTEGER NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (case_id, entry_id)
) WITHOUT ROWID;
CREATE INDEX case_entries_entry ON case_entries (entry_id, created_at);

-- Review counters per entry. released_at and fp_at_release remember the
-- last release, after which the automatic triggers count afresh.
CREATE TABLE entry_stats (
	entry_id        INTEGER PRIMARY KEY,
	bank_id         INTEGER NOT NULL,
	confirmed       INTEGER NOT NULL DEFAULT 0,
	false_positives INTEGER NOT NULL DEFAULT 0,
	matches         INTEGER NOT NULL DEFAULT 0,
	released_at     TEXT,
	fp_at_release   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX entry_stats_bank ON entry_stats (bank_id);

-- Adding nullable columns rewrites nothing, however many entries there are.
ALTER TABLE entries ADD COLUMN quarantined_at TEXT;
ALTER TABLE entries ADD COLUMN quarantine_reason TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE entries DROP COLUMN quarantine_reason;
ALTER TABLE entries DROP COLUMN quarantined_at;
DROP TABLE entry_stats;
DROP TABLE case_entries;
DROP TABLE case_events;
DROP TABLE cases;
DROP TABLE queues;
