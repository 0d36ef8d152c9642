-- Centre mode (vigil.CentreService): the providers registered with a
-- centre, and the reports they send, each stored with its raw body and
-- the body's digest, triaged.
--
-- A provider's key is its own credential, apart from the keys table: a
-- provider key authenticates only the centre's intake and status routes,
-- and no role of the keys table can be given to it by mistake.
--
-- A report is unique on its provider and the provider's report id, so a
-- resend finds the report it already made. body holds the triage as JSON
-- (files, flags, duplicates, priority, decision); the columns beside it
-- are what queries select and order on. centre_report_hashes lists each
-- report's file SHA-256 values for the duplicate check.

-- +goose Up
CREATE TABLE centre_providers (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	secret_hash TEXT NOT NULL UNIQUE, -- hex SHA-256 of the key
	hint        TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	revoked_at  TEXT
);

CREATE TABLE centre_reports (
	id                 INTEGER PRIMARY KEY,
	provider_id        INTEGER NOT NULL REFERENCES centre_providers (id),
	provider_report_id TEXT NOT NULL,
	format             TEXT NOT NULL CHECK (format IN ('eu', 'ncmec')),
	digest             TEXT NOT NULL,
	raw                BLOB NOT NULL,
	status             TEXT NOT NULL CHECK (status IN ('received', 'forwarded', 'unfounded', 'more_info')),
	priority           INTEGER NOT NULL,
	reported_user      TEXT NOT NULL DEFAULT '',
	body               TEXT NOT NULL,
	received_at        TEXT NOT NULL,
	decided_at         TEXT,
	UNIQUE (provider_id, provider_report_id)
);
CREATE INDEX centre_reports_queue ON centre_reports (priority DESC, id) WHERE status = 'received';
CREATE INDEX centre_reports_user ON centre_reports (provider_id, reported_user);

CREATE TABLE centre_report_hashes (
	sha256    TEXT NOT NULL,
	report_id INTEGER NOT NULL REFERENCES centre_reports (id),
	PRIMARY KEY (sha256, report_id)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE centre_report_hashes;
DROP TABLE centre_reports;
DROP TABLE centre_providers;
