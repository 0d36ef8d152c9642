-- Review: the spike trigger counts distinct content, and an index of the
-- quarantined entries (see the sqlite migration of the same number).

-- +goose Up
ALTER TABLE case_entries ADD COLUMN content_key TEXT;
UPDATE case_entries SET content_key = (
	SELECT CASE
		WHEN COALESCE((c.content::jsonb) ->> 'sha256', '') <> ''
			THEN 'sha256:' || lower((c.content::jsonb) ->> 'sha256')
		WHEN COALESCE((c.content::jsonb) ->> 'user_id', '') <> ''
			THEN 'user:' || ((c.content::jsonb) ->> 'user_id')
	END
	FROM cases c WHERE c.id = case_entries.case_id);
DROP INDEX case_entries_entry;
CREATE INDEX case_entries_entry ON case_entries (entry_id, created_at, content_key);

CREATE INDEX entries_quarantined ON entries (id) WHERE quarantined_at IS NOT NULL;

-- +goose Down
DROP INDEX entries_quarantined;
DROP INDEX case_entries_entry;
CREATE INDEX case_entries_entry ON case_entries (entry_id, created_at);
ALTER TABLE case_entries DROP COLUMN content_key;
