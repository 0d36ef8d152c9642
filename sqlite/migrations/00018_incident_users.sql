-- The users each incident names (vigil.Incident.Users: its reported user,
-- victims and intended recipients), kept in step with the incident's body
-- by every write of it, so that a purge can tell in one query whether
-- another incident still kept names a user whose account facts it would
-- delete. A purged or discarded incident's rows go with its evidence:
-- only incidents still kept have rows.

-- +goose Up
CREATE TABLE incident_users (
	user_id     TEXT NOT NULL,
	incident_id INTEGER NOT NULL REFERENCES incidents (id),
	PRIMARY KEY (user_id, incident_id)
);
CREATE INDEX incident_users_incident ON incident_users (incident_id);

-- The incidents stored before: their users are in their bodies.
INSERT OR IGNORE INTO incident_users (user_id, incident_id)
	SELECT reported_user, id FROM incidents WHERE purged_at IS NULL AND reported_user <> '';
INSERT OR IGNORE INTO incident_users (user_id, incident_id)
	SELECT v.value, i.id FROM incidents i, json_each(i.body, '$.victims') v
	WHERE i.purged_at IS NULL AND v.value <> '';
INSERT OR IGNORE INTO incident_users (user_id, incident_id)
	SELECT r.value, i.id FROM incidents i, json_each(i.body, '$.conversations') c, json_each(c.value, '$.intended_recipients') r
	WHERE i.purged_at IS NULL AND r.value <> '';

-- +goose Down
DROP TABLE incident_users;
