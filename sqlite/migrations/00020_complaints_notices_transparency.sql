-- Users' rights and the transparency figures: complaints about decisions,
-- the notices sent to platforms about actions on their users' content,
-- and the columns the transparency queries aggregate without reading
-- every case's JSON.

-- +goose Up
-- The standing review verdict and when the case was decided (NULL while
-- undecided or escalated). The decision's JSON keeps what the reviewer
-- said; review_verdict turns false_positive when a complaint against a
-- confirmation is upheld, so figures count the mistake where it was.
ALTER TABLE cases ADD COLUMN review_verdict TEXT;
ALTER TABLE cases ADD COLUMN decided_at TEXT;
UPDATE cases SET review_verdict = json_extract(decision, '$.verdict'),
	decided_at = strftime('%Y-%m-%dT%H:%M:%S.000000000Z', json_extract(decision, '$.decided_at'))
	WHERE state = 'decided' AND decision IS NOT NULL;
-- Covering the transparency queries: a period's cases are read from the
-- index alone, in order, not looked up row by row.
CREATE INDEX cases_created_at ON cases (created_at, kind);
-- notice_due is when a case's user.notice fell due (its confirmation),
-- until it is sent or the action is reversed: the notice loop reads only
-- these. Decisions made before notices existed are not announced.
ALTER TABLE cases ADD COLUMN notice_due TEXT;
CREATE INDEX cases_notice_due ON cases (notice_due) WHERE notice_due IS NOT NULL;
CREATE INDEX cases_decided_at ON cases (decided_at, created_at, review_verdict, kind) WHERE decided_at IS NOT NULL;

-- A user's complaint about an action on their content, forwarded by the
-- platform, and its outcome.
CREATE TABLE complaints (
	id           INTEGER PRIMARY KEY,
	case_id      INTEGER NOT NULL REFERENCES cases (id),
	reference    TEXT NOT NULL,           -- what the platform gave: a case or statement id
	user_id      TEXT NOT NULL DEFAULT '',
	body         TEXT NOT NULL,           -- the user's text
	state        TEXT NOT NULL CHECK (state IN ('open', 'upheld', 'rejected')),
	reasons      TEXT NOT NULL DEFAULT '',
	created_by   TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	decided_by   TEXT,
	decided_at   TEXT
);
CREATE INDEX complaints_case ON complaints (case_id);
CREATE INDEX complaints_open ON complaints (id) WHERE state = 'open';
CREATE INDEX complaints_created_at ON complaints (created_at);

-- Notices delivered (or deliberately skipped) to the platform: one per
-- case and kind, so a notice is never sent twice.
CREATE TABLE notices (
	case_id      INTEGER NOT NULL REFERENCES cases (id),
	kind         TEXT NOT NULL,           -- notice (tell the user) or reversal (undo the action)
	complaint_id INTEGER NOT NULL DEFAULT 0,
	event_id     TEXT NOT NULL,
	sent_at      TEXT NOT NULL,
	PRIMARY KEY (case_id, kind, complaint_id)
) WITHOUT ROWID;


-- Items checked, by day and kind: the transparency report's first figure.
CREATE TABLE checked_daily (
	day   TEXT NOT NULL,                  -- YYYY-MM-DD, UTC
	kind  TEXT NOT NULL,                  -- image, video, text, conversation, signals
	n     INTEGER NOT NULL,
	PRIMARY KEY (day, kind)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE checked_daily;
DROP TABLE notices;
DROP TABLE complaints;
DROP INDEX cases_decided_at;
DROP INDEX cases_notice_due;
ALTER TABLE cases DROP COLUMN notice_due;
DROP INDEX cases_created_at;
ALTER TABLE cases DROP COLUMN decided_at;
ALTER TABLE cases DROP COLUMN review_verdict;
