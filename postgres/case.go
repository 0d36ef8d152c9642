package postgres

import (
	"context"
	"database/sql"
	"errors"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// CaseService stores review queues and cases in PostgreSQL, with the SQL
// of package sqlstore; the statements of OpenCase are PostgreSQL's own
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

// caseDialect is OpenCase's work in PostgreSQL's form: no statement of it
// may fail on a constraint, since a failed statement ends the transaction
// (a missing queue is looked up first, a missing entry selects nothing to
// insert).
type caseDialect struct{ db *DB }

var _ sqlstore.CaseDialect = caseDialect{}

func (d caseDialect) WriteGrouped(ctx context.Context, fn func(tx sqlstore.Querier) error) error {
	return d.db.writeGrouped(ctx, func(tx *pgTx) error { return fn(tx) })
}

func (caseDialect) InsertCase(ctx context.Context, tx sqlstore.Querier, queue string, row []any) (int64, bool, error) {
	var queueID int64
	if err := tx.QueryRowContext(ctx, `SELECT id FROM queues WHERE name = ?`, queue).Scan(&queueID); errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	} else if err != nil {
		return 0, false, err
	}
	// A taken dedup key inserts nothing: one round trip fewer than a
	// SELECT first.
	var id int64
	err := tx.QueryRowContext(ctx, `
		INSERT INTO cases (queue_id, `+sqlstore.CaseRow+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
		RETURNING id`, append([]any{queueID}, row...)...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	} else if err != nil {
		return 0, false, err
	}
	return id, true, nil
}

func (caseDialect) CaseByKey(ctx context.Context, tx sqlstore.Querier, key string) (*vigil.Case, error) {
	return sqlstore.ScanCase(tx.QueryRowContext(ctx, `SELECT `+sqlstore.CaseSelect+`WHERE c.dedup_key = ?`, key))
}

func (caseDialect) CountMatch(ctx context.Context, tx sqlstore.Querier, caseID, entryID int64, ts string, key sql.NullString) (int64, bool, error) {
	res, err := tx.ExecContext(ctx, `
		INSERT INTO case_entries (case_id, entry_id, bank_id, created_at, content_key)
		SELECT ?, id, bank_id, ?, ? FROM entries WHERE id = ?`, caseID, ts, key, entryID)
	if err != nil {
		return 0, false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, false, err
	} else if n == 0 {
		return 0, false, nil
	}
	var matched int64
	if err := tx.QueryRowContext(ctx, `
		INSERT INTO entry_stats (entry_id, bank_id, matches)
		SELECT id, bank_id, 1 FROM entries WHERE id = ?
		ON CONFLICT (entry_id) DO UPDATE SET matches = entry_stats.matches + 1
		RETURNING matches`, entryID).Scan(&matched); err != nil {
		return 0, false, err
	}
	return matched, true, nil
}

func (caseDialect) SpikeEntry(ctx context.Context, tx sqlstore.Querier, entryID int64, start string) *sql.Row {
	// One round trip: the entry's age and verdicts, and its distinct
	// content in the window since the later of the window's start and the
	// entry's last release.
	return tx.QueryRowContext(ctx, `
		SELECT e.added_at, COALESCE(s.confirmed, 0), COALESCE(s.false_positives, 0),
			(SELECT COUNT(DISTINCT ce.content_key) FROM case_entries ce
			 WHERE ce.entry_id = e.id AND ce.created_at > GREATEST(?::text, COALESCE(s.released_at, ?::text)))
		FROM entries e LEFT JOIN entry_stats s ON s.entry_id = e.id
		WHERE e.id = ?`, start, start, entryID)
}

func (caseDialect) AddEvent(ctx context.Context, tx sqlstore.Querier, caseID int64, ts, actor, kind, detail string) error {
	return sqlstore.AddCaseEvent(ctx, tx, caseID, ts, actor, kind, detail)
}

// QuarantinedFrom: the entries_quarantined partial index, which the
// planner picks for the same predicate, holds only the quarantined
// entries, so the page costs no scan of the bank entries or their
// statistics.
func (caseDialect) QuarantinedFrom() string { return "entries e" }
