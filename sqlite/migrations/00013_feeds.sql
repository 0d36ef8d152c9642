-- Feeds this instance publishes and feeds it subscribes to.

-- +goose Up
CREATE TABLE feeds (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,
	banks        TEXT NOT NULL,            -- JSON list of bank names
	verifier_key TEXT NOT NULL,
	cursor       INTEGER NOT NULL DEFAULT 0, -- bank change sequence published through
	size         INTEGER NOT NULL DEFAULT 0, -- batches
	head         TEXT NOT NULL DEFAULT '',   -- signed tlog checkpoint
	meta         TEXT NOT NULL DEFAULT '{}', -- JSON: bank name -> published metadata
	created_at   TEXT NOT NULL
);

-- Batches and tlog hashes are append-only, like the audit log.
CREATE TABLE feed_batches (
	feed_id INTEGER NOT NULL REFERENCES feeds (id),
	number  INTEGER NOT NULL,
	note    BLOB NOT NULL,
	PRIMARY KEY (feed_id, number)
) WITHOUT ROWID;

CREATE TABLE feed_hashes (
	feed_id INTEGER NOT NULL REFERENCES feeds (id),
	idx     INTEGER NOT NULL, -- tlog stored hash index
	hash    BLOB NOT NULL,
	PRIMARY KEY (feed_id, idx)
) WITHOUT ROWID;

-- +goose StatementBegin
CREATE TRIGGER feed_batches_no_update BEFORE UPDATE ON feed_batches
BEGIN
	SELECT RAISE(ABORT, 'feed batches are append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER feed_batches_no_delete BEFORE DELETE ON feed_batches
BEGIN
	SELECT RAISE(ABORT, 'feed batches are append-only');
END;
-- +goose StatementEnd

CREATE TABLE subscriptions (
	id         INTEGER PRIMARY KEY,
	url        TEXT NOT NULL,
	feed       TEXT NOT NULL,
	key        TEXT NOT NULL,
	bank_id    INTEGER NOT NULL REFERENCES banks (id),
	applied    INTEGER NOT NULL DEFAULT 0,
	last_hash  TEXT NOT NULL DEFAULT '',
	tree_size  INTEGER NOT NULL DEFAULT 0,
	tree_hash  TEXT NOT NULL DEFAULT '',
	error      TEXT NOT NULL DEFAULT '',
	synced_at  TEXT,
	created_at TEXT NOT NULL
);

-- The local entry each publisher entry became. owned is 0 when the bank
-- already held the signal: a retraction from the feed then leaves the
-- entry alone, since the feed did not put it there.
CREATE TABLE subscription_entries (
	subscription_id INTEGER NOT NULL REFERENCES subscriptions (id),
	remote_id       INTEGER NOT NULL,
	entry_id        INTEGER NOT NULL REFERENCES entries (id),
	owned           INTEGER NOT NULL,
	PRIMARY KEY (subscription_id, remote_id)
) WITHOUT ROWID;

-- What each subscriber's reviewers said of a feed's entries: absolute
-- counts, replaced on each report, so that a report sent twice counts once.
CREATE TABLE feed_feedback (
	feed_id         INTEGER NOT NULL REFERENCES feeds (id),
	subscriber      TEXT NOT NULL, -- the reporting key, key:ID:NAME
	entry_id        INTEGER NOT NULL REFERENCES entries (id),
	confirmed       INTEGER NOT NULL,
	false_positives INTEGER NOT NULL,
	updated_at      TEXT NOT NULL,
	PRIMARY KEY (feed_id, entry_id, subscriber)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE feed_feedback;
DROP TABLE subscription_entries;
DROP TABLE subscriptions;
DROP TABLE feed_hashes;
DROP TABLE feed_batches;
DROP TABLE feeds;
