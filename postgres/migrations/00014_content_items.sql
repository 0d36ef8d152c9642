-- Content items (HMA's bank content) and the bank's matching ratio (the
-- PostgreSQL form of sqlite/migrations/00014_content_items.sql).
--
-- An HMA client adds content and gets a new id back every time, even when
-- the hash equals one the bank holds, and a lookup reports every such
-- item. Entries added any other way stay de-duplicated per bank (imports
-- and feeds rely on it to be repeatable), so the active-value unique index
-- now covers only entries outside items. An item is its entries
-- (entries.item_id, the id of the item's first entry, so that item ids and
-- the ids of entries outside items share one space) and a row of its own
-- for what HMA keeps beside the signals.
--
-- Subscriptions gain a state (HMA's exchanges are paused and deleted) and
-- public_only: a subscription made through the HMA routes, by a curator
-- key, may sync from public addresses only (see internal/netguard).

-- +goose Up
ALTER TABLE banks ADD COLUMN match_ratio DOUBLE PRECISION NOT NULL DEFAULT 1;
ALTER TABLE entries ADD COLUMN item_id BIGINT;

DROP INDEX entries_active_value;
CREATE UNIQUE INDEX entries_active_value ON entries (bank_id, signal_type, value)
	WHERE retracted_at IS NULL AND item_id IS NULL;
CREATE INDEX entries_item ON entries (item_id) WHERE item_id IS NOT NULL;

ALTER TABLE subscriptions ADD COLUMN state TEXT NOT NULL DEFAULT 'active'
	CHECK (state IN ('active', 'paused', 'removed'));
ALTER TABLE subscriptions ADD COLUMN public_only BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE content_items (
	id            BIGINT PRIMARY KEY, -- the id of the item's first entry
	bank_id       BIGINT NOT NULL REFERENCES banks (id),
	disable_until BIGINT NOT NULL DEFAULT 1, -- HMA's disable_until_ts: 0 off, 1 on, else a Unix time
	note          TEXT NOT NULL DEFAULT '',
	metadata      TEXT, -- JSON object, or NULL
	added_by      TEXT NOT NULL,
	added_at      TEXT NOT NULL,
	updated_at    TEXT NOT NULL
);

-- +goose Down
DROP TABLE content_items;
ALTER TABLE subscriptions DROP COLUMN public_only;
ALTER TABLE subscriptions DROP COLUMN state;
DROP INDEX entries_item;
DROP INDEX entries_active_value;
CREATE UNIQUE INDEX entries_active_value ON entries (bank_id, signal_type, value)
	WHERE retracted_at IS NULL;
ALTER TABLE entries DROP COLUMN item_id;
ALTER TABLE banks DROP COLUMN match_ratio;
