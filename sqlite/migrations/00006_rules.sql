-- Rules: what to do with matches and conversation risks. The conditions and
-- the action are kept as JSON (the vigil.Rule fields), since rules are few
-- and always read whole.

-- +goose Up
CREATE TABLE rules (
	id            INTEGER PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	description   TEXT NOT NULL DEFAULT '',
	enabled       INTEGER NOT NULL,
	source        TEXT NOT NULL, -- file or api
	conditions    TEXT NOT NULL, -- JSON of vigil.RuleConditions
	action        TEXT NOT NULL, -- JSON of vigil.RuleAction
	corroboration INTEGER NOT NULL DEFAULT 0,
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL,
	updated_by    TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE rules;
