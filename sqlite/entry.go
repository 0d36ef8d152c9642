package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// Ensure EntryService implements the interface.
var _ vigil.EntryService = (*EntryService)(nil)

// defaultImportBatch is the number of rows per INSERT statement in bulk
// imports. Each row binds 6 parameters, well under SQLite's limit of 32766;
// past a few hundred rows the statement overhead is already amortised.
const defaultImportBatch = 256

// EntryService stores bank entries in SQLite: its bulk writes here, its
// reads and retraction with the SQL of package sqlstore.
type EntryService struct {
	*entryQueries
	db *DB
}

type entryQueries = sqlstore.EntryQueries

// NewEntryService returns an EntryService on db.
func NewEntryService(db *DB) *EntryService {
	return &EntryService{entryQueries: sqlstore.NewEntryQueries(db.shared()), db: db}
}

// The matcher keeps provenance in memory only over a store that says
// when entries change.
var _ vigil.EntryVersions = (*EntryService)(nil)

// AddEntries adds a batch of entries to a bank in one transaction.
func (s *EntryService) AddEntries(ctx context.Context, bankID int64, by string, entries []*vigil.Entry) (vigil.ImportResult, error) {
	var res vigil.ImportResult
	if err := validateActor("banks", by); err != nil {
		return res, err
	}
	for i, e := range entries {
		e.AddedBy = by
		if err := e.Validate(); err != nil {
			return res, entryError(i+1, err)
		}
	}
	now := s.db.now()
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		bank, err := findBank(ctx, tx, "id = ?", bankID)
		if errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "bank %d not found", bankID)
		} else if err != nil {
			return err
		}
		res.Version = bank.Version

		ins, err := tx.PrepareContext(ctx, `
			INSERT INTO entries (bank_id, signal_type, value, source, source_entry_id, category, added_by, added_at, seq, quality)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING
			RETURNING id`)
		if err != nil {
			return err
		}
		defer ins.Close()
		// Sequence numbers are taken up front for the whole batch; the
		// ones duplicates would have had are left as gaps.
		seq, err := s.db.nextSeq(ctx, tx, int64(len(entries)))
		if err != nil {
			return err
		}
		for i, e := range entries {
			err := ins.QueryRowContext(ctx, bankID, e.SignalType, encodeValue(e.SignalType, e.Value), e.Source, e.SourceEntryID,
				e.Category, by, formatTime(now), seq+int64(i), nullQuality(e.Quality)).Scan(&e.ID)
			if errors.Is(err, sql.ErrNoRows) {
				// A duplicate: hand back the entry the bank already holds.
				if err := tx.QueryRowContext(ctx, `
					SELECT id FROM entries
					WHERE bank_id = ? AND signal_type = ? AND value = ? AND retracted_at IS NULL AND item_id IS NULL`,
					bankID, e.SignalType, encodeValue(e.SignalType, e.Value)).Scan(&e.ID); err != nil {
					return fmt.Errorf("find duplicate of entry %d: %w", i+1, err)
				}
				res.Duplicates++
				continue
			} else if err != nil {
				return fmt.Errorf("insert entry %d: %w", i+1, err)
			}
			e.BankID, e.BankName, e.AddedAt, e.Seq = bankID, bank.Name, now, seq+int64(i)
			res.Added++
		}
		if res.Added > 0 {
			if res.Version, err = bumpBank(ctx, tx, bankID, int64(res.Added), formatTime(now)); err != nil {
				return err
			}
		}
		// The counts belong in the batch's audit record.
		return vigil.AuditResult(ctx, res)
	})
	if err != nil {
		return vigil.ImportResult{}, fmt.Errorf("add entries to bank %d: %w", bankID, err)
	}
	return res, nil
}

// ImportEntries streams entries into a bank in one transaction.
func (s *EntryService) ImportEntries(ctx context.Context, bankID int64, by string, entries iter.Seq2[*vigil.Entry, error]) (vigil.ImportResult, error) {
	var res vigil.ImportResult
	if err := validateActor("banks", by); err != nil {
		return res, err
	}
	now := formatTime(s.db.now())
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT version FROM banks WHERE id = ?`, bankID).Scan(&res.Version); errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "bank %d not found", bankID)
		} else if err != nil {
			return err
		}

		ins := &batchInserter{db: s.db, tx: tx, size: s.db.importBatch, bankID: bankID, by: by, now: now}
		defer ins.close()
		n := 0
		for e, err := range entries {
			if err != nil {
				return err
			}
			n++
			if err := e.Validate(); err != nil {
				return entryError(n, err)
			}
			if err := ins.add(ctx, e); err != nil {
				return err
			}
		}
		if err := ins.flush(ctx); err != nil {
			return err
		}
		res.Added, res.Duplicates = int(ins.added), n-int(ins.added)
		if ins.added > 0 {
			var err error
			if res.Version, err = bumpBank(ctx, tx, bankID, ins.added, now); err != nil {
				return err
			}
		}
		// The counts belong in the import's audit record.
		return vigil.AuditResult(ctx, res)
	})
	if err != nil {
		return vigil.ImportResult{}, fmt.Errorf("import entries to bank %d: %w", bankID, err)
	}
	return res, nil
}

// batchInserter inserts entries with multi-row INSERT statements, prepared
// once for a full batch. The values all rows share (bank, added by, added
// at, the batch's first sequence number) are bound once per statement, so
// that each row binds only its own six values.
type batchInserter struct {
	db     *DB
	tx     *sql.Tx
	size   int
	bankID int64
	by     string
	now    string

	full  *sql.Stmt // prepared for size rows
	args  []any
	rows  int
	added int64
}

// perRow is the number of parameters each row binds.
const perRow = 6

// insertSQL returns the statement that inserts rows entries. It uses only
// anonymous parameters: SQLite looks numbered ones (?NNN) up by a linear
// scan for every parameter bound, which made large batches quadratic.
func insertSQL(rows int) string {
	var b strings.Builder
	b.WriteString(`WITH c (bank_id, added_by, added_at, seq) AS (VALUES (?, ?, ?, ?))
		INSERT OR IGNORE INTO entries (bank_id, added_by, added_at, seq, signal_type, value, source, source_entry_id, category, quality)
		SELECT c.bank_id, c.added_by, c.added_at, c.seq + v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7
		FROM c, (VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "(%d,?,?,?,?,?,?)", i)
	}
	// Duplicates, of entries already held or within the import, are
	// skipped; the rows changed tell how many were added. OR IGNORE rather
	// than ON CONFLICT DO NOTHING: only then can SQLite tell that the
	// statement never aborts, and skip its statement journal.
	b.WriteString(`) AS v`)
	return b.String()
}

func (ins *batchInserter) add(ctx context.Context, e *vigil.Entry) error {
	if ins.args == nil {
		ins.args = make([]any, 4, 4+ins.size*perRow)
	}
	ins.args = append(ins.args, string(e.SignalType), encodeValue(e.SignalType, e.Value), e.Source, e.SourceEntryID, e.Category, nullQuality(e.Quality))
	ins.rows++
	if ins.rows < ins.size {
		return nil
	}
	if ins.full == nil {
		var err error
		if ins.full, err = ins.tx.PrepareContext(ctx, insertSQL(ins.size)); err != nil {
			return fmt.Errorf("prepare insert: %w", err)
		}
	}
	return ins.exec(ctx, ins.full)
}

// flush inserts the rows of a last, partial batch.
func (ins *batchInserter) flush(ctx context.Context) error {
	if ins.rows == 0 {
		return nil
	}
	stmt, err := ins.tx.PrepareContext(ctx, insertSQL(ins.rows))
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	defer stmt.Close()
	return ins.exec(ctx, stmt)
}

func (ins *batchInserter) exec(ctx context.Context, stmt *sql.Stmt) error {
	seq, err := ins.db.nextSeq(ctx, ins.tx, int64(ins.rows))
	if err != nil {
		return err
	}
	ins.args[0], ins.args[1], ins.args[2], ins.args[3] = ins.bankID, ins.by, ins.now, seq
	r, err := stmt.ExecContext(ctx, ins.args...)
	if err != nil {
		return fmt.Errorf("insert entries: %w", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return fmt.Errorf("insert entries: %w", err)
	}
	ins.added += n
	ins.args, ins.rows = ins.args[:4], 0
	return nil
}

func (ins *batchInserter) close() {
	if ins.full != nil {
		ins.full.Close()
	}
}

// The queries of sqlstore.EntryQueries that Open prepares once on the
// read pool (findEntry, findEntrySeq, changeSeq), served by shared.ReadRow.
const (
	findEntryByID   = sqlstore.FindEntryByIDSQL
	findEntryAndSeq = sqlstore.FindEntryAndSeqSQL
	sqlChangeSeq    = sqlstore.ChangeSeqSQL
)

// bankNames maps bank ids to names (sqlstore.BankNames).
func bankNames(ctx context.Context, q querier) (map[int64]string, error) {
	return sqlstore.BankNames(ctx, q)
}

// entryColumns are the columns scanEntry reads (sqlstore.EntryColumns).
const entryColumns = sqlstore.EntryColumns

func scanEntry(row scanner) (*vigil.Entry, error) { return sqlstore.ScanEntry(row) }

func encodeValue(t vigil.SignalType, v string) []byte { return sqlstore.EncodeValue(t, v) }

func decodeValue(t vigil.SignalType, b []byte) string { return sqlstore.DecodeValue(t, b) }

func entryError(n int, err error) error { return sqlstore.EntryError(n, err) }

func nullQuality(q *int) any { return sqlstore.NullQuality(q) }

// pageLimit applies the defaults and cap of vigil.EntryFilter.Limit.
func pageLimit(n int) int { return sqlstore.PageLimit(n) }
