-- Classifier scores as case evidence, and review precision per classifier,
-- label and score band: the per-entry precision of case_entries and
-- entry_stats, for models.

-- +goose Up
-- JSON of []vigil.ClassifierScore; NULL when the case holds none, and
-- after PurgeCase.
ALTER TABLE cases ADD COLUMN scores TEXT;

-- The classifier labels each case held and their bands, once per case:
-- decisions count against them. No evidence, so rows outlive a purge.
CREATE TABLE case_scores (
	case_id    INTEGER NOT NULL REFERENCES cases (id),
	classifier TEXT NOT NULL,
	label      TEXT NOT NULL,
	band       INTEGER NOT NULL,
	verdict    TEXT,          -- confirmed or false_positive, once decided
	decided_at TEXT,          -- when, for precision over a recent window
	PRIMARY KEY (case_id, classifier, label)
) WITHOUT ROWID;
CREATE INDEX case_scores_decided ON case_scores (decided_at) WHERE decided_at IS NOT NULL;

CREATE TABLE classifier_stats (
	classifier      TEXT NOT NULL,
	label           TEXT NOT NULL,
	band            INTEGER NOT NULL,
	cases           INTEGER NOT NULL DEFAULT 0,
	confirmed       INTEGER NOT NULL DEFAULT 0,
	false_positives INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (classifier, label, band)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE classifier_stats;
DROP TABLE case_scores;
ALTER TABLE cases DROP COLUMN scores;
