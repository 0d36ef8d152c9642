-- The users each incident names, kept in step with its body (the
-- PostgreSQL form of sqlite/migrations/00018_incident_users.sql, which
-- says why).

-- +goose Up
CREATE TABLE incident_users (
	user_id     TEXT NOT NULL,
	incident_id BIGINT NOT NULL REFERENCES incidents (id),
	PRIMARY KEY (user_id, incident_id)
);
CREATE INDEX incident_users_incident ON incident_users (incident_id);

INSERT INTO incident_users (user_id, incident_id)
	SELECT reported_user, id FROM incidents WHERE purged_at IS NULL AND reported_user <> ''
	ON CONFLICT DO NOTHING;
INSERT INTO incident_users (user_id, incident_id)
	SELECT v, i.id FROM incidents i, jsonb_array_elements_text(COALESCE(i.body::jsonb -> 'victims', '[]'::jsonb)) v
	WHERE i.purged_at IS NULL AND v <> ''
	ON CONFLICT DO NOTHING;
INSERT INTO incident_users (user_id, incident_id)
	SELECT r, i.id FROM incidents i,
		jsonb_array_elements(COALESCE(i.body::jsonb -> 'conversations', '[]'::jsonb)) c,
		jsonb_array_elements_text(COALESCE(c -> 'intended_recipients', '[]'::jsonb)) r
	WHERE i.purged_at IS NULL AND r <> ''
	ON CONFLICT DO NOTHING;

-- +goose Down
DROP TABLE incident_users;
