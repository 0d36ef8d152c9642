-- Classifier scores as case evidence, and review precision per classifier,
-- label and score band (the PostgreSQL form of
-- sqlite/migrations/00017_classifier_scores.sql).

-- +goose Up
ALTER TABLE cases ADD COLUMN scores TEXT; -- JSON of []vigil.ClassifierScore

CREATE TABLE case_scores (
	case_id    BIGINT NOT NULL REFERENCES cases (id),
	classifier TEXT NOT NULL,
	label      TEXT NOT NULL,
	band       BIGINT NOT NULL,
	verdict    TEXT,          -- confirmed or false_positive, once decided
	decided_at TEXT,          -- when, for precision over a recent window
	PRIMARY KEY (case_id, classifier, label)
);
CREATE INDEX case_scores_decided ON case_scores (decided_at) WHERE decided_at IS NOT NULL;

CREATE TABLE classifier_stats (
	classifier      TEXT NOT NULL,
	label           TEXT NOT NULL,
	band            BIGINT NOT NULL,
	cases           BIGINT NOT NULL DEFAULT 0,
	confirmed       BIGINT NOT NULL DEFAULT 0,
	false_positives BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (classifier, label, band)
);

-- +goose Down
DROP TABLE classifier_stats;
DROP TABLE case_scores;
ALTER TABLE cases DROP COLUMN scores;
