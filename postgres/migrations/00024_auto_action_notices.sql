-- Automatic actions taken on content (a corroborated auto rule), recorded
-- on the case opened for the content, so that the user's notice falls due
-- when the action was taken, not when (if ever) a reviewer confirms it,
-- and a complaint can name the action by its case.
-- Mirrors sqlite/migrations/00024.

-- +goose Up
CREATE TABLE auto_actions (
	case_id    BIGINT PRIMARY KEY REFERENCES cases (id),
	rule       TEXT NOT NULL,            -- the auto rule that fired
	actions    TEXT NOT NULL,            -- JSON array of the actions taken (block, …)
	taken_at   TEXT NOT NULL,
	notice_due TEXT                      -- taken_at until the notice is sent
);
CREATE INDEX auto_actions_notice_due ON auto_actions (notice_due) WHERE notice_due IS NOT NULL;

-- +goose Down
DROP TABLE auto_actions;
