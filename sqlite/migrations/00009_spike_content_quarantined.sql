-- Review: the spike trigger counts distinct content, and an index of the
-- quarantined entries.
--
-- The spike trigger counts the distinct content an entry matched, not its
-- cases: repeats of one file are one item, so uploading it many times
-- cannot quarantine the entry that detects it. content_key is the
-- content's SHA-256 ('sha256:' and lower-case hex) or, without one, its
-- uploader ('user:' and the platform's user id); NULL when neither is
-- known, and then the case is not counted (see sqlite/case.go, spikeKey).

-- +goose Up
ALTER TABLE case_entries ADD COLUMN content_key TEXT;
UPDATE case_entries SET content_key = (
	SELECT CASE
		WHEN COALESCE(json_extract(c.content, '$.sha256'), '') <> ''
			THEN 'sha256:' || lower(json_extract(c.content, '$.sha256'))
		WHEN COALESCE(json_extract(c.content, '$.user_id'), '') <> ''
			THEN 'user:' || json_extract(c.content, '$.user_id')
	END
	FROM cases c WHERE c.id = case_entries.case_id);
-- Covering, so the spike count reads the index alone.
DROP INDEX case_entries_entry;
CREATE INDEX case_entries_entry ON case_entries (entry_id, created_at, content_key);

-- The quarantined entries, for GET /v1/quarantine's pages: few among
-- millions, so the list reads them alone.
CREATE INDEX entries_quarantined ON entries (id) WHERE quarantined_at IS NOT NULL;

-- +goose Down
DROP INDEX entries_quarantined;
DROP INDEX case_entries_entry;
CREATE INDEX case_entries_entry ON case_entries (entry_id, created_at);
ALTER TABLE case_entries DROP COLUMN content_key;
