-- A key's name is how people tell it apart in lists, the audit log and case
-- history: no two unrevoked keys share one. Keys that already share a name
-- keep working: all but the oldest get "#ID" appended to their name.

-- +goose Up
UPDATE api_keys SET name = name || '#' || id
	WHERE revoked_at IS NULL
	AND id NOT IN (SELECT MIN(id) FROM api_keys WHERE revoked_at IS NULL GROUP BY name);
CREATE UNIQUE INDEX api_keys_unrevoked_name ON api_keys (name) WHERE revoked_at IS NULL;

-- +goose Down
DROP INDEX api_keys_unrevoked_name;
