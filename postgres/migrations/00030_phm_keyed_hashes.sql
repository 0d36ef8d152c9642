-- The PHM review service's keyed second hash (phm/second) of a bank entry's
-- picture, under one secret key: kept where Vigil held the listed picture
-- (vigil phm key-entries), so that the second check of a revealed
-- derivative can compare it with the picture, not only with its PDQ.

-- +goose Up
-- One hash per entry and key: the listed picture as held, in its own
-- orientation (the derivative is hashed in all eight, which covers every
-- relative orientation). key_id is the key's fingerprint
-- (second.Key.ID), never the key.
CREATE TABLE phm_keyed_hashes (
	entry_id   BIGINT NOT NULL REFERENCES entries (id),
	key_id     TEXT NOT NULL,
	keyed_hash BYTEA NOT NULL CHECK (length(keyed_hash) = 16),
	created_at TEXT NOT NULL,
	PRIMARY KEY (key_id, entry_id)
);

-- +goose Down
DROP TABLE phm_keyed_hashes;
