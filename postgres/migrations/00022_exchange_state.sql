-- State of fetches from outside hash exchanges (NCMEC, StopNCII,
-- ThreatExchange): each fetch's cursor per bank, and the review counts
-- last sent back per entry, so that an opinion is sent again only when
-- it changes.

-- +goose Up
CREATE TABLE exchange_cursors (
	exchange   TEXT NOT NULL,
	bank_id    BIGINT NOT NULL REFERENCES banks (id),
	cursor     TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (exchange, bank_id)
);

CREATE TABLE exchange_opinions (
	exchange        TEXT NOT NULL,
	entry_id        BIGINT NOT NULL REFERENCES entries (id),
	confirmed       BIGINT NOT NULL,
	false_positives BIGINT NOT NULL,
	sent_at         TEXT NOT NULL,
	PRIMARY KEY (exchange, entry_id)
);

-- An exchange's deletions and updates name entries by the exchange's id:
-- found by it without a scan of the bank. Partial, so that lists without
-- source ids cost nothing more to import.
CREATE INDEX entries_source_entry ON entries (bank_id, source_entry_id) WHERE source_entry_id <> '';

-- +goose Down
DROP INDEX entries_source_entry;
DROP TABLE exchange_opinions;
DROP TABLE exchange_cursors;
