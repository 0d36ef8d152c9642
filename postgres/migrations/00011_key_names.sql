-- No two unrevoked keys share a name (see the sqlite migration of the same
-- number).

-- +goose Up
UPDATE api_keys SET name = name || '#' || id
	WHERE revoked_at IS NULL
	AND id NOT IN (SELECT MIN(id) FROM api_keys WHERE revoked_at IS NULL GROUP BY name);
CREATE UNIQUE INDEX api_keys_unrevoked_name ON api_keys (name) WHERE revoked_at IS NULL;

-- +goose Down
DROP INDEX api_keys_unrevoked_name;
