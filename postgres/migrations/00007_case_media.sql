-- Cases opened from one upload share its media blob. This index finds the
-- live cases that hold a blob, so that retention deletes it only with the
-- last of them. The expression must be written the same way in queries
-- (mediaIDExpr in case.go) for PostgreSQL to use it.

-- +goose Up
CREATE INDEX cases_media_id ON cases (((content::jsonb) ->> 'media_id'))
	WHERE purged_at IS NULL;

-- +goose Down
DROP INDEX cases_media_id;
