// Package sqlstore holds the SQL and the row mapping that Vigil's two SQL
// stores share: package sqlite and package postgres each open a database,
// migrate it and run its transactions, and serve the services whose SQL is
// the same in both dialects from here, so that a store change is written
// once and the two stores cannot drift.
//
// The SQL is written in SQLite's form, with anonymous parameters (?) and
// times stored as fixed-width text; package postgres rebinds the
// parameters in its transactions. Where the dialects really differ the
// store passes a hook in; its fast paths (PostgreSQL's COPY, SQLite's
// prepared statements) stay in its own package.
package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
)

// Querier runs SQL: a transaction or a pool of the store. Queries are in
// SQLite's form; a store whose dialect differs rewrites them.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// DB is what the shared services need of a store.
type DB interface {
	// Reader is the pool that reads outside a transaction use.
	Reader() Querier
	// ReadRow runs a query of one row outside a transaction, a
	// consistent read by itself (a dialect hook: SQLite serves the entry
	// reads the matcher makes for every match, FindEntryByIDSQL,
	// FindEntryAndSeqSQL and ChangeSeqSQL, from statements prepared once;
	// PostgreSQL and any other query use the reader pool).
	ReadRow(ctx context.Context, query string, args ...any) *sql.Row
	// Read runs fn in a read transaction: one consistent snapshot.
	Read(ctx context.Context, fn func(tx Querier) error) error
	// Write runs fn in a write transaction and commits it if fn returns
	// nil, with the audit record pending on ctx (vigil.WithAudit), if
	// any, stored in the same transaction.
	Write(ctx context.Context, fn func(tx Querier) error) error
	// WriteAudited is Write with the audit record given (nil: none).
	WriteAudited(ctx context.Context, rec *vigil.AuditRecord, fn func(tx Querier) error) error
	// Unlocked runs fn for bookkeeping writes that no one audits (a key's
	// or a session's last use, failed logins), never with the caller's
	// pending audit record, and where the dialect allows outside the
	// store's write lock, so that a bulk import holding the lock does not
	// stall requests (a dialect hook: SQLite has one writer, and runs fn
	// in a write transaction of it; PostgreSQL runs each statement of fn
	// alone on its write pool). A caller bounds the wait with ctx.
	Unlocked(ctx context.Context, fn func(q Querier) error) error
	// Logger is the store's logger.
	Logger() *slog.Logger
	// Now returns the current time in UTC.
	Now() time.Time
	// Rand is the source of secrets (API keys, tokens).
	Rand() io.Reader
	// NextSeq hands out n change sequence numbers in tx, a write
	// transaction, and returns the first; numbers become visible to
	// readers in order (a dialect hook: PostgreSQL also notifies the
	// replicas that follow the changes).
	NextSeq(ctx context.Context, tx Querier, n int64) (int64, error)
	// JSONText is the SQL of the text of field in col, a column that holds
	// a JSON object (a dialect hook).
	JSONText(col, field string) string
	// SecondsBetween is the SQL of the duration in seconds, a float,
	// between two stored times, later and earlier (SQL expressions; a
	// dialect hook).
	SecondsBetween(later, earlier string) string
}

// TimeFormat is the stored form of times: fixed-width so that stored
// times sort as text, with nanoseconds, which the audit chain's hashes
// cover.
const TimeFormat = "2006-01-02T15:04:05.000000000Z"

// FormatTime returns t in its stored form.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// ParseTime parses a stored time.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse stored time %q: %w", s, err)
	}
	return t, nil
}

// ParseNullTime parses a nullable time column.
func ParseNullTime(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := ParseTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// Scanner is what *sql.Row and *sql.Rows have in common.
type Scanner interface {
	Scan(dest ...any) error
}

// QueryAll runs a query and returns every row as scan reads it.
func QueryAll[T any](ctx context.Context, q Querier, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// PageLimit is the number of rows a page of n holds: the default for 0 or
// less, at most vigil.MaxEntryLimit.
func PageLimit(n int) int {
	if n <= 0 {
		return vigil.DefaultEntryLimit
	}
	return min(n, vigil.MaxEntryLimit)
}

// ValidateActor checks the name of whoever changes banks, keys or cases
// (what).
func ValidateActor(what, actor string) error {
	if actor == "" {
		return vigil.Errorf(vigil.EINVALID, "changes to %s must say who made them", what)
	} else if len(actor) > vigil.MaxEntryFieldLen {
		return vigil.Errorf(vigil.EINVALID, "actor name longer than %d bytes", vigil.MaxEntryFieldLen)
	} else if !vigil.Printable(actor) {
		return vigil.Errorf(vigil.EINVALID, "actor name must be UTF-8 without control or invisible characters")
	}
	return nil
}

// Placeholders returns n comma-separated "?".
func Placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
