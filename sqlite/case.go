package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// CaseService stores review queues and cases in SQLite, with the SQL of
// package sqlstore; the statements of OpenCase are SQLite's own
// (caseDialect).
type CaseService struct{ *caseService }

type caseService = sqlstore.CaseService

// AutoQuarantine describes an automatic quarantine: the entry, the case
// whose opening or decision caused it, and the policy's reason.
type AutoQuarantine = sqlstore.AutoQuarantine

var (
	_ vigil.CaseService            = (*CaseService)(nil)
	_ vigil.ClassifierStatsService = (*CaseService)(nil)
)

// NewCaseService returns a CaseService on db with automatic quarantine off.
func NewCaseService(db *DB) *CaseService {
	return &CaseService{sqlstore.NewCaseService(db.shared(), caseDialect{db})}
}

// caseDialect is OpenCase's work in SQLite's form: statements prepared
// once (preparedWrites) on the write connection.
type caseDialect struct{ db *DB }

var _ sqlstore.CaseDialect = caseDialect{}

// writeTx is tx as this store's write transaction: Write, WriteAudited
// and writeGrouped hand their functions *sql.Tx, the only transactions a
// write has.
func writeTx(what string, tx sqlstore.Querier) (*sql.Tx, error) {
	t, ok := tx.(*sql.Tx)
	if !ok {
		return nil, fmt.Errorf("%s: %T is not a write transaction of this store", what, tx)
	}
	return t, nil
}

func (d caseDialect) WriteGrouped(ctx context.Context, fn func(tx sqlstore.Querier) error) error {
	return d.db.writeGrouped(ctx, func(tx *sql.Tx) error { return fn(tx) })
}

func (d caseDialect) InsertCase(ctx context.Context, tx sqlstore.Querier, queue string, row []any) (int64, bool, error) {
	t, err := writeTx("insert case", tx)
	if err != nil {
		return 0, false, err
	}
	st, err := d.db.stmt(ctx, t, sqlInsertCase)
	if err != nil {
		return 0, false, err
	}
	res, err := st.ExecContext(ctx, append([]any{queue}, row...)...)
	if err != nil {
		// No such queue: its id is NULL, which the insert refuses (SQLite
		// carries on with the transaction after a failed statement).
		var n int
		if qerr := t.QueryRowContext(ctx, `SELECT COUNT(*) FROM queues WHERE name = ?`, queue).Scan(&n); qerr != nil {
			return 0, false, fmt.Errorf("%w (and the queue could not be read: %v)", err, qerr)
		} else if n == 0 {
			return 0, false, nil
		}
		return 0, false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, false, err
	} else if n == 0 {
		return 0, false, nil // the dedup key is taken
	}
	id, err := res.LastInsertId()
	return id, err == nil, err
}

func (d caseDialect) CaseByKey(ctx context.Context, tx sqlstore.Querier, key string) (*vigil.Case, error) {
	t, err := writeTx("find case by key", tx)
	if err != nil {
		return nil, err
	}
	st, err := d.db.stmt(ctx, t, sqlCaseByKey)
	if err != nil {
		return nil, err
	}
	return sqlstore.ScanCase(st.QueryRowContext(ctx, key))
}

func (d caseDialect) CountMatch(ctx context.Context, tx sqlstore.Querier, caseID, entryID int64, ts string, key sql.NullString) (int64, bool, error) {
	t, err := writeTx("count match", tx)
	if err != nil {
		return 0, false, err
	}
	st, err := d.db.stmt(ctx, t, sqlCountCaseEntry)
	if err != nil {
		return 0, false, err
	}
	res, err := st.ExecContext(ctx, caseID, entryID, ts, key)
	if err != nil {
		return 0, false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, false, err
	} else if n == 0 {
		return 0, false, nil
	}
	if st, err = d.db.stmt(ctx, t, sqlCountEntryMatch); err != nil {
		return 0, false, err
	}
	var matched int64
	if err := st.QueryRowContext(ctx, entryID).Scan(&matched); err != nil {
		return 0, false, err
	}
	return matched, true, nil
}

func (d caseDialect) SpikeEntry(ctx context.Context, tx sqlstore.Querier, entryID int64, start string) *sql.Row {
	if t, ok := tx.(*sql.Tx); ok {
		if st, err := d.db.stmt(ctx, t, sqlSpikeEntry); err == nil {
			return st.QueryRowContext(ctx, entryID, start)
		}
	}
	return tx.QueryRowContext(ctx, sqlSpikeEntry, entryID, start)
}

func (d caseDialect) AddEvent(ctx context.Context, tx sqlstore.Querier, caseID int64, ts, actor, kind, detail string) error {
	t, err := writeTx("add case event", tx)
	if err != nil {
		return err
	}
	st, err := d.db.stmt(ctx, t, sqlstore.SQLAddCaseEvent)
	if err == nil {
		_, err = st.ExecContext(ctx, caseID, ts, actor, kind, detail)
	}
	if err != nil {
		return fmt.Errorf("add %s event: %w", kind, err)
	}
	return nil
}

// QuarantinedFrom names the entries_quarantined index, which holds only
// the quarantined entries, so the page costs no scan of the bank entries
// or their statistics.
func (caseDialect) QuarantinedFrom() string { return "entries e INDEXED BY entries_quarantined" }

// The statements of OpenCase, prepared once (preparedWrites): rules open a
// case at every match. Each costs about as much in database/sql and the
// VDBE's setup as in its B-tree work, so a case runs as few as it can.
//
// The two counting inserts are each of one row of VALUES, with subqueries
// for what they read, rather than INSERT … SELECT: SQLite treats an
// INSERT … SELECT, and any statement with RETURNING (compiled as a
// trigger), as one that may write many rows, and one that may also fail
// on a constraint (NOT NULL, UNIQUE, a foreign key: every insert here)
// then keeps a statement journal so that it can be undone alone. Within a
// transaction that copies each page the statement is first to change,
// 16 KiB a page, to the journal: about 40 µs of CPU a case with the
// savepoints. Only sqlInsertCase and sqlCountEntryMatch keep RETURNING.
const (
	// sqlInsertCase takes the queue by name (NULL, refused by NOT NULL:
	// no such queue) and skips a taken dedup key (no row inserted), which
	// were two statements of their own before it.
	sqlInsertCase = `
		INSERT INTO cases (queue_id, ` + sqlstore.CaseRow + `)
		VALUES ((SELECT id FROM queues WHERE name = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
		RETURNING id`
	// sqlCaseByKey finds the case open for a detection (OpenCase's dedup
	// check).
	sqlCaseByKey = `SELECT ` + sqlstore.CaseSelect + `WHERE c.dedup_key = ?`
	// sqlCountCaseEntry counts a case's match of an entry, with the
	// entry's bank; for an entry the store does not hold the bank is
	// NULL and the row is skipped (OR IGNORE: the primary key cannot
	// conflict, as a case counts each entry once).
	sqlCountCaseEntry = `
		INSERT OR IGNORE INTO case_entries (case_id, entry_id, bank_id, created_at, content_key)
		VALUES (?1, ?2, (SELECT bank_id FROM entries WHERE id = ?2), ?3, ?4)`
	// sqlSpikeEntry is the spike check's read (CaseDialect.SpikeEntry),
	// run for an entry a new case counts when its matches reach the
	// policy's minimum.
	sqlSpikeEntry = `
		SELECT e.added_at, COALESCE(s.confirmed, 0), COALESCE(s.false_positives, 0),
			(SELECT COUNT(DISTINCT ce.content_key) FROM case_entries ce
			 WHERE ce.entry_id = e.id AND ce.created_at > MAX(?2, COALESCE(s.released_at, ?2)))
		FROM entries e LEFT JOIN entry_stats s ON s.entry_id = e.id
		WHERE e.id = ?1`
	// sqlCountEntryMatch returns the entry's matches, counting this one.
	sqlCountEntryMatch = `
		INSERT INTO entry_stats (entry_id, bank_id, matches) VALUES (?1, (SELECT bank_id FROM entries WHERE id = ?1), 1)
		ON CONFLICT (entry_id) DO UPDATE SET matches = matches + 1
		RETURNING matches`
)
