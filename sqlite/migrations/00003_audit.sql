-- The append-only, hash-chained audit log. Rows are only ever inserted;
-- the triggers refuse updates and deletes made through SQL, and the chain
-- reveals any change made around them.

-- +goose Up
CREATE TABLE audit_log (
	seq       INTEGER PRIMARY KEY,
	time      TEXT NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	target    TEXT NOT NULL,
	detail    TEXT NOT NULL DEFAULT '',
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL
);

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit log is append-only');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'audit log is append-only');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_log;
