// Package sqlite stores Vigil's state in an embedded SQLite database, the
// default store: `vigil serve` needs no setup. It uses modernc.org/sqlite, a
// pure Go SQLite, so the binary stays static and cgo-free.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/groupcommit"
	"github.com/vigil-oss/vigil/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// FileName is the name of the database file in the data directory.
const FileName = "vigil.db"

// timeFormat is fixed-width so that stored times sort as text.
const timeFormat = sqlstore.TimeFormat

// busyTimeout bounds how long a connection waits for another process (a CLI
// command beside the server) to release the database.
const busyTimeout = 10 * time.Second

// DB is an open Vigil database. Its services are created with NewBankService,
// NewEntryService and NewKeyService.
type DB struct {
	// Now returns the current time. Set it before use to fake the clock.
	Now func() time.Time

	// Rand is the source of API key secrets.
	Rand io.Reader

	path   string
	logger *slog.Logger

	// SQLite has one writer at a time. Writes go through a pool of one
	// connection whose transactions BEGIN IMMEDIATE, so that writers queue
	// in Go (obeying contexts) instead of failing with SQLITE_BUSY when a
	// read transaction tries to upgrade to a write. Reads use their own
	// pool and, in WAL mode, run beside the writer.
	wdb *sql.DB
	rdb *sql.DB

	// importBatch is the number of rows per multi-row INSERT in bulk
	// imports; the baseline benchmark sets it to 1.
	importBatch int

	// findEntry is findEntryByID prepared once on the read pool: the
	// matcher runs it for every match, and preparing it each time cost
	// as much as running it.
	findEntry *sql.Stmt
	// findEntrySeq and changeSeq serve vigil.EntryVersions, which the
	// matcher calls on every lookup that matches.
	findEntrySeq, changeSeq *sql.Stmt
	// entrySeq is the entry change counter shared with every process that
	// has the database open (entryseq.go); nil off Linux.
	entrySeq *entrySeq

	// wstmt holds preparedWrites, prepared on the write connection.
	wstmt map[string]*sql.Stmt

	// group shares commits among writes made at once (writeGrouped).
	group groupcommit.Group[func(tx *sql.Tx) error]
	// onGroup, if set, sees the size of every group committed in one
	// transaction (tests).
	onGroup func(n int)
	// ungrouped makes writeGrouped commit every write alone, as before
	// group commit: the baseline of BenchmarkOpenCaseConcurrent.
	ungrouped bool

	// barrier makes committed writes durable (syncbarrier.go) when the
	// store was opened with it; nil by default, with synchronous=FULL,
	// whose COMMIT syncs in SQLite.
	barrier *syncBarrier
	// unsynced counts the write transactions that changed rows and whose
	// writers have not yet seen them synced: counted before the COMMIT,
	// inside the writer, so that a later transaction that changed nothing
	// sees every earlier change that may not be durable (syncNeedOf).
	unsynced atomic.Int64
	// lastChanges is the writer's total_changes() at the end of its last
	// transaction; only the holder of the write connection uses it.
	lastChanges int64
}

// syncNeed is what a committed write must wait for before its caller is
// told.
type syncNeed int

const (
	syncWait    syncNeed = iota // a sync of the log
	syncChanged                 // a sync; it changed rows, counted in unsynced
	syncNone                    // nothing: see syncNeedOf
)

// options change how Open opens a store (tests and benchmarks).
type options struct {
	// barrier opens the writer with synchronous=NORMAL and the sync
	// barrier, so that a group's sync overlaps the next group's
	// transaction. Off by default, which is synchronous=FULL, each COMMIT
	// syncing the log while it holds the writer: measured on two cores
	// (docs/benchmarks.md, "p-fsync (session 10)"), the overlap made the
	// groups smaller, and their extra commits cost more CPU than the
	// overlap saved, so a request with a case per match came out slower.
	// Kept, tested, for the benchmarks and for a host with slower syncs.
	barrier bool
	// syncFile, if set, replaces the barrier's fdatasync of the log.
	syncFile func(f *os.File) error
}

// Open opens (creating it if needed) the database in dir, brings its schema
// up to date and returns it.
func Open(ctx context.Context, dir string, logger *slog.Logger) (*DB, error) {
	return open(ctx, dir, logger, options{})
}

// open is Open with options.
func open(ctx context.Context, dir string, logger *slog.Logger, opt options) (*DB, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	db := &DB{
		Now:         time.Now,
		Rand:        rand.Reader,
		path:        filepath.Join(dir, FileName),
		logger:      logger,
		importBatch: defaultImportBatch,
	}
	db.group.Commit = db.commitGroup

	if err := createFile(ctx, db.path); err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", db.path, err)
	}
	if opt.barrier {
		db.barrier = newSyncBarrier(db.path, opt.syncFile)
		db.group.Sync = db.syncGroup
		db.group.Ready = db.barrier.waitNextStarted
	}
	var err error
	if db.entrySeq, err = openEntrySeq(db.path); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", db.path, err)
	}
	if db.wdb, err = sql.Open("sqlite", db.dsn(false, !opt.barrier)); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", db.path, err)
	}
	db.wdb.SetMaxOpenConns(1)
	// Keep the one connection for good: its page cache is worth keeping.
	db.wdb.SetConnMaxIdleTime(0)
	db.wdb.SetConnMaxLifetime(0)

	if db.rdb, err = sql.Open("sqlite", db.dsn(true, true)); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", db.path, err)
	}
	db.rdb.SetMaxOpenConns(max(4, runtime.NumCPU()))

	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", db.path, err)
	}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{{&db.findEntry, findEntryByID}, {&db.findEntrySeq, findEntryAndSeq}, {&db.changeSeq, sqlChangeSeq}} {
		if *p.st, err = db.rdb.PrepareContext(ctx, p.q); err != nil {
			db.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", db.path, err)
		}
	}
	db.wstmt = map[string]*sql.Stmt{}
	for _, q := range preparedWrites {
		if db.wstmt[q], err = db.wdb.PrepareContext(ctx, q); err != nil {
			db.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", db.path, err)
		}
	}
	db.repairEntrySeq(ctx)
	return db, nil
}

// pageSize is the database page size. Larger pages than SQLite's default
// of 4 KiB make shallower B-trees, with fewer page splits in bulk imports.
const pageSize = 16384

// createFile creates the database file with the page size, which SQLite
// fixes once the file is written, if the file does not exist yet.
func createFile(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d; PRAGMA journal_mode = WAL", pageSize))
	return err
}

// dsn returns the data source name of a writing or a reading connection.
// fullSync sets synchronous=FULL, else NORMAL.
func (db *DB) dsn(readOnly, fullSync bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// A committed change must survive a power cut, not only a crash. By
	// default the writer runs FULL, whose COMMIT syncs the log, holding
	// the one writer meanwhile; with the sync barrier (options.barrier)
	// it runs NORMAL, whose COMMIT does not sync the log, and every write
	// then waits for the barrier to sync it (durable). Readers
	// write nothing, save the checkpoint when the last connection closes,
	// which syncs alike under both; they keep FULL.
	if fullSync {
		q.Add("_pragma", "synchronous(FULL)")
	} else {
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
		// A bigger page cache keeps the entries' unique index in memory
		// during bulk imports (64 MiB; negative means KiB).
		q.Add("_pragma", "cache_size(-65536)")
		// Each multi-row INSERT keeps a statement journal, so that it can be
		// undone alone; in a file it cost a third of a bulk import in write
		// system calls.
		q.Add("_pragma", "temp_store(MEMORY)")
	}
	return "file:" + db.path + "?" + q.Encode()
}

// migrate applies the embedded migrations that the database lacks.
func (db *DB) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.wdb, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(db.logger),
		// Migration numbers are handed out to branches developed side by
		// side and merged in any order, and each creates its own tables:
		// a store that already has 00013 must still take 00012 when it
		// lands later.
		goose.WithAllowOutofOrder(true),
	)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	// Goose commits each migration itself: sync them all (this first sync
	// also opens the log and syncs the directory's entries of the new
	// files).
	if err := db.durable(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		db.logger.Info("applied migration", "version", r.Source.Version, "path", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// Close closes the database, once a final sync of the log has made every
// committed write durable.
func (db *DB) Close() error {
	var errs []error
	if db.barrier != nil {
		errs = append(errs, db.durable())
	}
	for _, st := range []*sql.Stmt{db.findEntry, db.findEntrySeq, db.changeSeq} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, st := range db.wstmt {
		errs = append(errs, st.Close())
	}
	if db.rdb != nil {
		errs = append(errs, db.rdb.Close())
	}
	if db.wdb != nil {
		errs = append(errs, db.wdb.Close())
	}
	if db.barrier != nil {
		errs = append(errs, db.barrier.close())
	}
	errs = append(errs, db.entrySeq.close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close sqlite: %w", err)
	}
	return nil
}

// Path returns the path of the database file.
func (db *DB) Path() string { return db.path }

// IntegrityCheck runs SQLite's integrity check and returns an error
// describing any problem it finds.
func (db *DB) IntegrityCheck(ctx context.Context) error {
	rows, err := db.rdb.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	defer rows.Close()
	var problems []error
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("integrity check: %w", err)
		}
		if s != "ok" {
			problems = append(problems, errors.New(s))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if err := errors.Join(problems...); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	return nil
}

// write runs fn in a write transaction and commits it if fn returns nil.
// The audit record pending on ctx (vigil.WithAudit), if any, is stored in
// the same transaction, after fn: every write of every service gets its
// record from here, and a change whose record cannot be stored is not made.
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.writeAudited(ctx, vigil.PendingAudit(ctx), fn)
}

// writeAudited is write with the audit record given (nil: none).
func (db *DB) writeAudited(ctx context.Context, rec *vigil.AuditRecord, fn func(tx *sql.Tx) error) error {
	need, err := db.writeUnsynced(ctx, rec, fn)
	if err != nil {
		return err
	}
	return db.settle(need, 1)
}

// syncNeedOf returns what the write in tx, about to commit, must wait for
// (n writes sharing it, for the count in unsynced). A transaction that
// changed no rows (an idempotent OpenCase that found its case) has nothing
// of its own to sync, but it may have read changes that are committed and
// not yet durable, and its caller must not be told of them before they
// are: it need not wait only when no write that changed rows is waiting
// for its sync. Changes are counted by SQLite's total_changes(), rows
// inserted, updated or deleted; a schema change is not counted, and none
// is made in a write transaction (migrations sync in migrate).
func (db *DB) syncNeedOf(ctx context.Context, tx *sql.Tx, n int64) syncNeed {
	if db.barrier == nil {
		return syncNone // FULL: the COMMIT syncs
	}
	var total int64
	st, err := db.stmt(ctx, tx, sqlTotalChanges)
	if err == nil {
		err = st.QueryRowContext(ctx).Scan(&total)
	}
	if err != nil || total != db.lastChanges {
		db.lastChanges = total
		db.unsynced.Add(n)
		return syncChanged
	}
	if db.unsynced.Load() == 0 {
		return syncNone
	}
	return syncWait
}

// settle waits for what a committed write needs (syncNeedOf), for n
// writes.
func (db *DB) settle(need syncNeed, n int64) error {
	switch need {
	case syncNone:
		return nil
	case syncChanged:
		if err := db.durable(); err != nil {
			return err // and stays counted: nothing is known durable now
		}
		db.unsynced.Add(-n)
		return nil
	}
	return db.durable()
}

// Every write commits in writeUnsynced or runShared and then, before its
// caller hears of it, waits in durable for the log to be synced: so does
// every write path (write, writeAudited, both paths of writeGrouped, bulk
// imports, which are writes, and the migrations), and Close syncs once
// more. A write made any other way, such as a bare wdb.ExecContext, would
// be committed but not durable: there is none outside tests.

// durable returns once every write committed before the call is durable:
// at once without the barrier, whose COMMIT synced; else once the sync barrier
// has synced the log. Its error means the write committed but may not be
// on disk.
func (db *DB) durable() error {
	if db.barrier == nil {
		return nil
	}
	if err := db.barrier.wait(); err != nil {
		return fmt.Errorf("committed, but not known to be durable: %w", err)
	}
	return nil
}

// refused returns the error that stops all writes after a failed sync, if
// any.
func (db *DB) refused() error {
	if db.barrier == nil {
		return nil
	}
	return db.barrier.failed()
}

// writeUnsynced is writeAudited without the wait for durability: the
// write is committed, but under synchronous=NORMAL not yet synced.
// It returns what the write must wait for (syncNeedOf).
func (db *DB) writeUnsynced(ctx context.Context, rec *vigil.AuditRecord, fn func(tx *sql.Tx) error) (need syncNeed, err error) {
	if err := db.refused(); err != nil {
		return syncWait, err
	}
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		return syncWait, err
	}
	defer db.entrySeq.settle(tx) // after the COMMIT or rollback
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return syncWait, err
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
			return syncWait, fmt.Errorf("audit %s %s: %w", rec.Action, rec.Target, err)
		}
	}
	db.entrySeq.raise(tx) // if tx changed entries
	need = db.syncNeedOf(ctx, tx, 1)
	if err := tx.Commit(); err != nil {
		if need == syncChanged {
			db.unsynced.Add(-1) // rolled back: nothing to sync
		}
		return syncWait, err
	}
	return need, nil
}

// writeGrouped is write for small writes that many callers make at once
// (cases opened by rules at every match): fn runs in a transaction shared
// with the writes that queued while the previous one committed, so that a
// group pays one commit and one fsync, and that fsync runs while the next
// group's transaction does. Each write runs in a savepoint of
// its own with its audit record, and returns only once its transaction
// has committed. A write that fails in the group is undone alone (the
// others commit) and run again in a transaction of its own, whose result
// is its result; if the shared commit fails, every write of the group is
// run again alone. So fn may run more than once: it must set its results
// afresh on each run, as a retried transaction would need anyway.
func (db *DB) writeGrouped(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if db.ungrouped {
		return db.write(ctx, fn)
	}
	return db.group.Do(ctx, fn)
}

// commitGroup commits a group of writeGrouped's writes, and syncGroup,
// called once the next group may commit, makes them durable: one group's
// sync overlaps the next one's transaction.
func (db *DB) commitGroup(ops []*groupcommit.Op[func(tx *sql.Tx) error]) {
	alone := ops
	if len(ops) > 1 {
		alone = db.commitShared(ops)
	}
	for _, op := range alone {
		var need syncNeed
		need, op.Err = db.writeUnsynced(op.Ctx, vigil.PendingAudit(op.Ctx), op.Fn)
		op.Mark = int(need)
	}
}

// syncGroup waits for the writes of a group committed by commitGroup to
// be durable, and fails those committed if they cannot be known to be.
// Each op's Mark is its syncNeed; a shared transaction counts once in
// unsynced, on the first of its writes.
func (db *DB) syncGroup(ops []*groupcommit.Op[func(tx *sql.Tx) error]) {
	var changed int64
	wait := false
	for _, op := range ops {
		if op.Err != nil {
			continue
		}
		switch syncNeed(op.Mark) {
		case syncChanged:
			changed++
		case syncWait:
			wait = true
		}
	}
	if changed == 0 && !wait {
		return
	}
	if err := db.settle(syncChanged, changed); err != nil {
		for _, op := range ops {
			if op.Err == nil {
				op.Err = err
			}
		}
	}
}

// commitShared runs ops in one transaction and returns those that must be
// run again alone: the ones that failed, or all of them if the transaction
// itself failed. It first runs them one after the other with nothing
// between them, which is all a group takes when none fails; only when one
// fails is the group undone and run again with each write in a savepoint
// of its own, so that the failing one is undone alone. A savepoint is
// not free in SQLite: within one, the first change to each page copies
// the page (16 KiB) to the statement journal, so that the savepoint can be
// rolled back; for a case that was about 40 µs of CPU of its 375.
func (db *DB) commitShared(ops []*groupcommit.Op[func(tx *sql.Tx) error]) []*groupcommit.Op[func(tx *sql.Tx) error] {
	// No one caller's context: one that gives up must not undo the others.
	ctx := context.WithoutCancel(ops[0].Ctx)
	if alone, ok := db.runShared(ctx, ops, false); ok {
		return alone
	}
	alone, _ := db.runShared(ctx, ops, true)
	return alone
}

// runShared runs ops in one transaction and commits it. With guarded set,
// each op runs in a savepoint, a failing op is undone alone and returned
// in alone, and ok is always true. Without, the first op that fails ends
// the run: the transaction is rolled back, nothing is written, and ok is
// false (alone is nil); ok is also false, with every op in alone, if the
// transaction cannot be begun or committed.
func (db *DB) runShared(ctx context.Context, ops []*groupcommit.Op[func(tx *sql.Tx) error], guarded bool) (alone []*groupcommit.Op[func(tx *sql.Tx) error], ok bool) {
	if db.refused() != nil {
		return ops, true // each refused alone
	}
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		return ops, true
	}
	defer db.entrySeq.settle(tx) // after the COMMIT or rollback
	defer tx.Rollback()
	var sealed []*vigil.AuditRecord // records of the writes kept so far
	fail := func() ([]*groupcommit.Op[func(tx *sql.Tx) error], bool) {
		for _, rec := range sealed {
			rec.Unseal()
		}
		return ops, true
	}
	for _, op := range ops {
		if guarded {
			if err := db.exec(ctx, tx, sqlSavepoint); err != nil {
				return fail()
			}
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
			if !guarded {
				// Rolled back by the deferred Rollback: the group runs
				// again, guarded.
				fail()
				return nil, false
			}
			if err := db.exec(ctx, tx, sqlRollbackTo); err != nil {
				return fail()
			}
			alone = append(alone, op)
		} else if rec != nil {
			sealed = append(sealed, rec)
		}
		if guarded {
			if err := db.exec(ctx, tx, sqlRelease); err != nil {
				return fail()
			}
		}
	}
	db.entrySeq.raise(tx) // if tx changed entries
	need := db.syncNeedOf(ctx, tx, 1)
	if err := tx.Commit(); err != nil {
		if need == syncChanged {
			db.unsynced.Add(-1)
		}
		return fail()
	}
	first := true
	for _, op := range ops {
		if slices.Contains(alone, op) {
			continue
		}
		op.Mark = int(need)
		if need == syncChanged && !first {
			op.Mark = int(syncWait) // counted once, on the first
		}
		first = false
	}
	if db.onGroup != nil {
		db.onGroup(len(ops))
	}
	return alone, true
}

// preparedWrites are the statements of the writes made at every match
// (opening a case), prepared once at Open: SQLite took as long to prepare
// each as to run it.
var preparedWrites = []string{sqlCaseByKey, sqlInsertCase, sqlstore.SQLAddCaseEvent, sqlCountCaseEntry, sqlCountEntryMatch,
	sqlSpikeEntry, sqlSavepoint, sqlRollbackTo, sqlRelease, sqlTotalChanges}

// sqlTotalChanges counts the rows the writer has changed since it opened
// (syncNeedOf).
const sqlTotalChanges = "SELECT total_changes()"

// The savepoint of each write in a group (commitShared).
const (
	sqlSavepoint  = "SAVEPOINT grouped"
	sqlRollbackTo = "ROLLBACK TO grouped"
	sqlRelease    = "RELEASE grouped"
)

// stmt returns query as a statement of tx: one of preparedWrites, already
// prepared on tx's connection, or else prepared now.
func (db *DB) stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if st := db.wstmt[query]; st != nil {
		return tx.StmtContext(ctx, st), nil
	}
	return tx.PrepareContext(ctx, query)
}

// exec runs query, one of preparedWrites, in tx.
func (db *DB) exec(ctx context.Context, tx *sql.Tx, query string) error {
	st, err := db.stmt(ctx, tx, query)
	if err == nil {
		_, err = st.ExecContext(ctx)
	}
	return err
}

// read runs fn in a read transaction: one consistent snapshot.
func (db *DB) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// now returns the current time in the form that is stored.
func (db *DB) now() time.Time { return db.Now().UTC() }

func formatTime(t time.Time) string { return sqlstore.FormatTime(t) }

func parseTime(s string) (time.Time, error) { return sqlstore.ParseTime(s) }

func parseNullTime(s sql.NullString) (*time.Time, error) { return sqlstore.ParseNullTime(s) }

// nextSeq hands out n change sequence numbers in tx and returns the first.
// Numbers are taken inside the write transaction, and SQLite has one writer,
// so they become visible to readers in order: a reader that has seen
// sequence s will never later find a change numbered s or less. It raises
// the entry change counter for tx too, at its commit (entryseq.go): every
// entry change takes a number here.
func (db *DB) nextSeq(ctx context.Context, tx querier, n int64) (int64, error) {
	db.entrySeq.mark(tx)
	var last int64
	if err := tx.QueryRowContext(ctx, "UPDATE change_seq SET value = value + ? WHERE id = 1 RETURNING value", n).Scan(&last); err != nil {
		return 0, fmt.Errorf("next change seq: %w", err)
	}
	return last - n + 1, nil
}

// validateActor checks the name of whoever changes banks, keys or cases
// (what).
func validateActor(what, actor string) error { return sqlstore.ValidateActor(what, actor) }
