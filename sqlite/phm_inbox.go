package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// The PHM inbox's SQL is package sqlstore's, on PHMService; SQLite adds
// two hooks: appends share commits (writeGrouped), and deletions overwrite
// the deleted vouchers' bytes.
var (
	_ vigil.PHMInbox         = (*PHMService)(nil)
	_ sqlstore.GroupedWriter = shared{}
	_ sqlstore.SecureDeleter = shared{}
)

// WriteGrouped runs fn in a transaction shared with the writes made at
// the same time (writeGrouped): requests that store their vouchers at once
// pay one commit and one fsync.
func (s shared) WriteGrouped(ctx context.Context, fn func(tx sqlstore.Querier) error) error {
	return s.db.writeGrouped(ctx, func(tx *sql.Tx) error { return fn(tx) })
}

// WriteSecureDelete runs fn in a write transaction with SQLite's
// secure_delete on: the cells and overflow pages of the rows fn deletes
// are overwritten with zeros, in the database file once checkpointed.
// Only the inbox's deletions pay for it; the setting is put back after.
// What the write-ahead log held before the deletion stays in it until the
// log is written over.
func (s shared) WriteSecureDelete(ctx context.Context, fn func(tx sqlstore.Querier) error) error {
	return s.db.writeAudited(ctx, nil, func(tx *sql.Tx) error {
		var prev int
		if err := tx.QueryRowContext(ctx, `PRAGMA secure_delete`).Scan(&prev); err != nil {
			return fmt.Errorf("secure_delete: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `PRAGMA secure_delete = 1`); err != nil {
			return fmt.Errorf("secure_delete: %w", err)
		}
		err := fn(tx)
		if prev != 1 {
			// The setting is the connection's, not the transaction's.
			if _, rerr := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA secure_delete = %d`, prev)); rerr != nil && err == nil {
				err = fmt.Errorf("secure_delete: %w", rerr)
			}
		}
		return err
	})
}
