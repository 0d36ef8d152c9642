package postgres

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// shared is db as the services whose SQL package sqlstore holds use it.
//
// The services whose SQL is all in package sqlstore are its types embedded
// under an unexported alias (type bankService = sqlstore.BankService): the
// methods are promoted and the field stays hidden, so the exported type and
// its constructor are what they were.
type shared struct{ db *DB }

var _ sqlstore.DB = shared{}

func (db *DB) shared() shared { return shared{db} }

func (s shared) Reader() sqlstore.Querier { return s.db.rdb }

func (s shared) ReadRow(ctx context.Context, query string, args ...any) *sql.Row {
	return s.db.rdb.QueryRowContext(ctx, query, args...)
}

func (s shared) Read(ctx context.Context, fn func(tx sqlstore.Querier) error) error {
	return s.db.read(ctx, func(tx *pgTx) error { return fn(tx) })
}

func (s shared) Write(ctx context.Context, fn func(tx sqlstore.Querier) error) error {
	return s.db.write(ctx, func(tx *pgTx) error { return fn(tx) })
}

func (s shared) WriteAudited(ctx context.Context, rec *vigil.AuditRecord, fn func(tx sqlstore.Querier) error) error {
	return s.db.writeAudited(ctx, rec, func(tx *pgTx) error { return fn(tx) })
}

func (s shared) Unlocked(ctx context.Context, fn func(q sqlstore.Querier) error) error {
	// Outside the write lock: a bulk import holds that lock for its whole
	// length. Each statement is its own transaction on the pool, with no
	// audit record or sequence.
	return fn(s.db.wdb)
}

func (s shared) Logger() *slog.Logger { return s.db.logger }

func (s shared) Now() time.Time { return s.db.now() }

func (s shared) Rand() io.Reader { return s.db.Rand }

func (s shared) NextSeq(ctx context.Context, tx sqlstore.Querier, n int64) (int64, error) {
	return nextSeq(ctx, tx, n)
}

func (shared) JSONText(col, field string) string { return "(" + col + "::jsonb ->> '" + field + "')" }

func (shared) SecondsBetween(later, earlier string) string {
	return `EXTRACT(EPOCH FROM ((` + later + `)::timestamptz - (` + earlier + `)::timestamptz))::float8`
}
