-- Hosted lookups: the lookup role, per-key lookup limits, what each bank
-- reveals to lookup keys, and per-key daily lookup counts (quotas and
-- transparency figures). Mirrors sqlite/migrations/00023.

-- +goose Up
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'curator', 'matcher', 'reviewer', 'lookup'));
ALTER TABLE api_keys ADD COLUMN limits TEXT; -- JSON vigil.KeyLimits; NULL: the server's defaults

-- The least (bank name and distance) for every bank that exists: other
-- roles' answers do not depend on it.
ALTER TABLE banks ADD COLUMN reveal TEXT NOT NULL DEFAULT 'bank' CHECK (reveal IN ('full', 'source', 'bank'));

CREATE TABLE lookup_counts (
	key_id  BIGINT NOT NULL,
	day     TEXT NOT NULL, -- UTC, YYYY-MM-DD
	lookups BIGINT NOT NULL DEFAULT 0, -- signals looked up
	PRIMARY KEY (key_id, day)
);
CREATE INDEX lookup_counts_day ON lookup_counts (day);

-- +goose Down
DROP TABLE lookup_counts;
ALTER TABLE banks DROP COLUMN reveal;
DELETE FROM api_keys WHERE role = 'lookup';
ALTER TABLE api_keys DROP COLUMN limits;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('admin', 'curator', 'matcher', 'reviewer'));
