package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/groupcommit"
	"github.com/vigil-oss/vigil/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// timeFormat is the stored form of times, the same as SQLite's: fixed-width
// so that it sorts as text, with nanoseconds, which the audit chain's hashes
// cover (timestamptz keeps only microseconds).
const timeFormat = sqlstore.TimeFormat

// writeLockKey is the advisory lock every write transaction takes first
// (an arbitrary constant: "vigil" in ASCII). It makes the writers of every
// replica one queue, as SQLite's single writer is: the audit chain gets
// one head and no fork, change sequence numbers commit in order, and the
// services' check-then-write steps (a name already taken, a case already
// decided) stay race-free under READ COMMITTED.
const writeLockKey = 0x766967696c

// DB is an open Vigil database on PostgreSQL. Its services are created
// with NewBankService, NewEntryService, NewKeyService and the others, as
// in package sqlite.
type DB struct {
	// Now returns the current time. Set it before use to fake the clock.
	Now func() time.Time

	// Rand is the source of API key secrets.
	Rand io.Reader

	url    string
	logger *slog.Logger
	pool   *pgxpool.Pool
	sdb    *sql.DB

	// wdb and rdb are one pool: PostgreSQL has no single-writer limit.
	// Both names stay so that the services read as sqlite's do.
	wdb, rdb *sqlDB

	// writer lets one write transaction of this process at a time wait
	// for the write lock: writers queued on the lock would each hold a
	// pooled connection, and a long import with a few writers behind it
	// would leave none for reads (authenticating requests).
	writer chan struct{}

	// group shares commits among writes made at once (writeGrouped).
	group groupcommit.Group[func(tx *pgTx) error]
	// onGroup, if set, sees the size of every group committed in one
	// transaction (tests).
	onGroup func(n int)
}

// Open connects to the PostgreSQL database at url (postgres://…), brings
// its schema up to date and returns it. Replicas opening one empty
// database at once are safe: goose holds a session advisory lock while it
// migrates.
func Open(ctx context.Context, url string, logger *slog.Logger) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The URL may hold a password: do not repeat it.
		return nil, fmt.Errorf("open postgres: bad connection URL")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redact(cfg), err)
	}
	db := &DB{
		Now:    time.Now,
		Rand:   rand.Reader,
		url:    redact(cfg),
		logger: logger,
		pool:   pool,
		sdb:    stdlib.OpenDBFromPool(pool),
		writer: make(chan struct{}, 1),
	}
	db.wdb = &sqlDB{db.sdb}
	db.rdb = db.wdb
	db.group.Commit = db.commitGroup
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres %s: %w", db.url, err)
	}
	return db, nil
}

// redact names the server and database of cfg, without credentials.
func redact(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// migrate applies the embedded migrations that the database lacks.
func (db *DB) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db.sdb, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithSessionLocker(locker),
		goose.WithSlog(db.logger),
		// As in package sqlite: migration numbers are handed to branches
		// merged in any order, so a store that has a later number must
		// still take an earlier one that lands after it.
		goose.WithAllowOutofOrder(true),
	)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		db.logger.Info("applied migration", "version", r.Source.Version, "path", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// Close closes the database's connections.
func (db *DB) Close() error {
	var errs []error
	if db.sdb != nil {
		errs = append(errs, db.sdb.Close())
	}
	if db.pool != nil {
		db.pool.Close()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close postgres: %w", err)
	}
	return nil
}

// Path returns the server and database the store is on, without
// credentials.
func (db *DB) Path() string { return db.url }

// Ping checks that the server answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// write runs fn in a write transaction and commits it if fn returns nil.
// The audit record pending on ctx (vigil.WithAudit), if any, is stored in
// the same transaction, after fn, as in package sqlite.
func (db *DB) write(ctx context.Context, fn func(tx *pgTx) error) error {
	return db.writeAudited(ctx, vigil.PendingAudit(ctx), fn)
}

// writeAudited is write with the audit record given (nil: none).
func (db *DB) writeAudited(ctx context.Context, rec *vigil.AuditRecord, fn func(tx *pgTx) error) (err error) {
	tx, end, err := db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer end()
	if err := fn(tx); err != nil {
		return err
	}
	if rec != nil {
		// A record sealed in a transaction that then fails was not
		// written: unseal it, so it stays pending.
		defer func() {
			if err != nil {
				rec.Unseal()
			}
		}()
		if err := appendAudit(ctx, tx, db.now(), rec); err != nil {
			return fmt.Errorf("audit %s %s: %w", rec.Action, rec.Target, err)
		}
	}
	return tx.tx.Commit()
}

// beginWrite waits for this process's turn to write, then begins a
// transaction that holds the store-wide write lock; end rolls back what
// was not committed and gives the turn up.
func (db *DB) beginWrite(ctx context.Context) (tx *pgTx, end func(), err error) {
	select {
	case db.writer <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	// A connection of its own, so that bulk imports can reach pgx's COPY
	// on the connection that holds the transaction (Tx.copyFrom).
	conn, err := db.sdb.Conn(ctx)
	if err != nil {
		<-db.writer
		return nil, nil, err
	}
	stx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		<-db.writer
		return nil, nil, err
	}
	end = func() {
		stx.Rollback()
		conn.Close()
		<-db.writer
	}
	tx = &pgTx{tx: stx, conn: conn}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(writeLockKey)); err != nil {
		end()
		return nil, nil, fmt.Errorf("take write lock: %w", err)
	}
	return tx, end, nil
}

// writeGrouped is write for small writes that many callers make at once
// (cases opened by rules at every match), as in package sqlite: fn runs
// in a transaction shared with the writes that queued while the previous
// one committed, each in a savepoint of its own with its audit record, and
// returns only once that transaction has committed. A write that fails in
// the group is undone alone and run again in a transaction of its own;
// if the shared commit fails, every write of the group is run again alone.
// So fn may run more than once and must set its results afresh each time.
func (db *DB) writeGrouped(ctx context.Context, fn func(tx *pgTx) error) error {
	return db.group.Do(ctx, fn)
}

// commitGroup commits a group of writeGrouped's writes.
func (db *DB) commitGroup(ops []*groupcommit.Op[func(tx *pgTx) error]) {
	alone := ops
	if len(ops) > 1 {
		alone = db.commitShared(ops)
	}
	for _, op := range alone {
		op.Err = db.write(op.Ctx, op.Fn)
	}
}

// commitShared runs ops in one transaction, each in a savepoint, and
// returns those that must be run again alone: the ones that failed, or
// all of them if the transaction itself failed.
func (db *DB) commitShared(ops []*groupcommit.Op[func(tx *pgTx) error]) (alone []*groupcommit.Op[func(tx *pgTx) error]) {
	// No one caller's context: one that gives up must not undo the others.
	ctx := context.WithoutCancel(ops[0].Ctx)
	tx, end, err := db.beginWrite(ctx)
	if err != nil {
		return ops
	}
	defer end()
	var sealed []*vigil.AuditRecord // records of the writes kept so far
	fail := func() []*groupcommit.Op[func(tx *pgTx) error] {
		for _, rec := range sealed {
			rec.Unseal()
		}
		return ops
	}
	for _, op := range ops {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT grouped"); err != nil {
			return fail()
		}
		rec := vigil.PendingAudit(op.Ctx)
		werr := op.Fn(tx)
		if werr == nil && rec != nil {
			werr = appendAudit(op.Ctx, tx, db.now(), rec)
		}
		if werr != nil {
			if rec != nil {
				rec.Unseal()
			}
			// Also what lets the transaction go on after a failed
			// statement, which PostgreSQL otherwise refuses.
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT grouped"); err != nil {
				return fail()
			}
			alone = append(alone, op)
		} else if rec != nil {
			sealed = append(sealed, rec)
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT grouped"); err != nil {
			return fail()
		}
	}
	if err := tx.tx.Commit(); err != nil {
		return fail()
	}
	if db.onGroup != nil {
		db.onGroup(len(ops))
	}
	return alone
}

// read runs fn in a read-only transaction: one consistent snapshot, as a
// SQLite read transaction is.
func (db *DB) read(ctx context.Context, fn func(tx *pgTx) error) error {
	stx, err := db.sdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return err
	}
	defer stx.Rollback()
	return fn(&pgTx{tx: stx})
}

// now returns the current time in the form that is stored.
func (db *DB) now() time.Time { return db.Now().UTC() }

func formatTime(t time.Time) string { return sqlstore.FormatTime(t) }

func parseTime(s string) (time.Time, error) { return sqlstore.ParseTime(s) }

func parseNullTime(s sql.NullString) (*time.Time, error) { return sqlstore.ParseNullTime(s) }

// nextSeq hands out n change sequence numbers in tx and returns the first.
// The UPDATE locks change_seq's row until tx ends, so a writer that takes
// later numbers waits for this one to commit: changes become visible in
// sequence order, and a replica that has read up to s never later finds a
// change numbered s or less.
func nextSeq(ctx context.Context, tx querier, n int64) (int64, error) {
	var last int64
	if err := tx.QueryRowContext(ctx, "UPDATE change_seq SET value = value + ? WHERE id = 1 RETURNING value", n).Scan(&last); err != nil {
		return 0, fmt.Errorf("next change seq: %w", err)
	}
	// Sent at commit, and not at all if tx rolls back: it wakes the
	// replicas that Follow the changes. A lost notification costs only
	// latency, as they also poll the sequence table.
	if _, err := tx.ExecContext(ctx, "SELECT pg_notify(?, ?)", changeChannel, strconv.FormatInt(last, 10)); err != nil {
		return 0, fmt.Errorf("notify change: %w", err)
	}
	return last - n + 1, nil
}

// changeChannel is the LISTEN/NOTIFY channel of entry changes; the payload
// is the last change sequence number of the committed transaction.
const changeChannel = "vigil_changes"

// Follow calls refresh (normally the matcher's Refresh) whenever another
// transaction commits entry changes, woken by LISTEN/NOTIFY, and at least
// every interval, so that a replica that missed notifications (its
// listening connection dropped) still catches up from the change sequence
// table. It returns when ctx ends. Refresh errors are logged, not fatal:
// the indexes keep serving what they hold.
func (db *DB) Follow(ctx context.Context, interval time.Duration, refresh func(context.Context) error) {
	wake := make(chan struct{}, 1)
	go db.listen(ctx, wake)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
		}
		if err := refresh(ctx); err != nil && ctx.Err() == nil {
			db.logger.Error("index refresh", "err", err)
		}
	}
}

// listen holds a connection LISTENing on changeChannel and signals wake
// (without blocking: one pending wake-up covers any number of changes)
// for each notification, reconnecting after a failure until ctx ends.
func (db *DB) listen(ctx context.Context, wake chan<- struct{}) {
	signal := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, signal)
		if ctx.Err() != nil {
			return
		}
		db.logger.Warn("change notifications lost; reconnecting", "err", err)
		// Changes made while the connection was down are found by the
		// refresh this wakes; the pause keeps a dead server from being
		// hammered.
		signal()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (db *DB) listenOnce(ctx context.Context, signal func()) error {
	pc, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection that was LISTENing must not go back to the pool.
	c := pc.Hijack()
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "LISTEN "+changeChannel); err != nil {
		return err
	}
	// Whatever committed before LISTEN took effect sent its notification
	// to no one: one refresh now catches up on it.
	signal()
	for {
		if _, err := c.WaitForNotification(ctx); err != nil {
			return err
		}
		signal()
	}
}

// validateActor checks the name of whoever changes banks, keys or cases
// (what).
func validateActor(what, actor string) error { return sqlstore.ValidateActor(what, actor) }

// rebind turns the services' SQLite-style anonymous parameters (?) into
// PostgreSQL's numbered ones ($1, $2, …), outside quoted text. The SQL
// of package sqlstore, shared with package sqlite, is in SQLite's form, as
// is this package's own; no query uses the jsonb ? operator.
func rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// sqlDB is a *sql.DB whose queries are rebound.
type sqlDB struct{ db *sql.DB }

func (d *sqlDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.db.QueryContext(ctx, rebind(query), args...)
}

func (d *sqlDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return d.db.QueryRowContext(ctx, rebind(query), args...)
}

func (d *sqlDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.db.ExecContext(ctx, rebind(query), args...)
}

// pgTx is a transaction whose queries are rebound. A write transaction keeps
// its connection, for COPY.
type pgTx struct {
	tx   *sql.Tx
	conn *sql.Conn
}

func (t *pgTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, rebind(query), args...)
}

func (t *pgTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, rebind(query), args...)
}

func (t *pgTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, rebind(query), args...)
}

func (t *pgTx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return t.tx.PrepareContext(ctx, rebind(query))
}

// copyFrom streams rows into table with COPY, on the connection that holds
// t (a write transaction), and returns the number of rows copied.
func (t *pgTx) copyFrom(ctx context.Context, table string, columns []string, rows iter.Seq2[[]any, error]) (int64, error) {
	next, stop := iter.Pull2(rows)
	defer stop()
	src := &pullSource{next: next}
	var n int64
	err := t.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("copy into %s: driver connection is %T, not pgx's", table, dc)
		}
		var err error
		n, err = c.Conn().CopyFrom(ctx, pgx.Identifier{table}, columns, src)
		return err
	})
	if src.err != nil {
		// The source's own error (an invalid entry), not pgx's wrapping.
		return n, src.err
	}
	if err != nil {
		return n, fmt.Errorf("copy into %s: %w", table, err)
	}
	return n, nil
}

// pullSource is a pgx.CopyFromSource over a pulled iterator.
type pullSource struct {
	next func() ([]any, error, bool)
	row  []any
	err  error
}

func (s *pullSource) Next() bool {
	row, err, ok := s.next()
	if !ok {
		return false
	}
	if err != nil {
		s.err = err
		return false
	}
	s.row = row
	return true
}

func (s *pullSource) Values() ([]any, error) { return s.row, nil }

func (s *pullSource) Err() error { return s.err }

// Initialized reports whether the database at url holds a Vigil store
// (its migrations table), without creating anything: commands other than
// init and serve refuse a database that does not.
func Initialized(ctx context.Context, url string) (bool, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return false, fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&ok); err != nil {
		return false, fmt.Errorf("look for a Vigil store: %w", err)
	}
	return ok, nil
}
