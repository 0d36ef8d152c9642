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

// EntryService stores bank entries in SQLite.
type EntryService struct {
	db *DB
}

// NewEntryService returns an EntryService on db.
func NewEntryService(db *DB) *EntryService {
	return &EntryService{db: db}
}

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
		seq, err := nextSeq(ctx, tx, int64(len(entries)))
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

		ins := &batchInserter{tx: tx, size: s.db.importBatch, bankID: bankID, by: by, now: now}
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
	seq, err := nextSeq(ctx, ins.tx, int64(ins.rows))
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

// FindEntryByID returns an entry, retracted or not.
func (s *EntryService) FindEntryByID(ctx context.Context, id int64) (*vigil.Entry, error) {
	// One statement, a consistent read by itself: the matcher reads an
	// entry's provenance for every match it returns, and a read
	// transaction around two queries cost as much again.
	var e vigil.Entry
	err := scanEntryInto(withBankName{s.db.findEntry.QueryRowContext(ctx, id), &e.BankName, nil}, &e)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "entry %d not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("find entry %d: %w", id, err)
	}
	return &e, nil
}

// findEntryByID reads an entry and its bank's name.
const findEntryByID = `SELECT ` + entryColumns + `, (SELECT name FROM banks WHERE banks.id = entries.bank_id) FROM entries WHERE id = ?`

// The matcher keeps provenance in memory only over a store that says
// when entries change.
var _ vigil.EntryVersions = (*EntryService)(nil)

// EntryChangeSeq implements vigil.EntryVersions: change_seq is raised in
// every entry change's transaction, and SQLite has one writer, so the
// committed value grows with every committed change.
func (s *EntryService) EntryChangeSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.db.changeSeq.QueryRowContext(ctx).Scan(&seq); err != nil {
		return 0, fmt.Errorf("entry change seq: %w", err)
	}
	return seq, nil
}

// FindEntryAndSeq implements vigil.EntryVersions in one statement, which
// reads one snapshot.
func (s *EntryService) FindEntryAndSeq(ctx context.Context, id int64) (*vigil.Entry, int64, error) {
	var e vigil.Entry
	var seq int64
	err := scanEntryInto(withBankName{s.db.findEntrySeq.QueryRowContext(ctx, id), &e.BankName, &seq}, &e)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, vigil.Errorf(vigil.ENOTFOUND, "entry %d not found", id)
	} else if err != nil {
		return nil, 0, fmt.Errorf("find entry %d: %w", id, err)
	}
	return &e, seq, nil
}

const (
	sqlChangeSeq    = `SELECT value FROM change_seq WHERE id = 1`
	findEntryAndSeq = `SELECT ` + entryColumns + `, (SELECT name FROM banks WHERE banks.id = entries.bank_id),
	(` + sqlChangeSeq + `) FROM entries WHERE id = ?`
)

// withBankName scans a row of entryColumns followed by the bank's name.
type withBankName struct {
	row  scanner
	name *string
	seq  *int64 // if set, a change sequence follows the name
}

func (w withBankName) Scan(dest ...any) error {
	if w.seq != nil {
		return w.row.Scan(append(dest, w.name, w.seq)...)
	}
	return w.row.Scan(append(dest, w.name)...)
}

// FindEntries returns a page of entries in ID order.
func (s *EntryService) FindEntries(ctx context.Context, f vigil.EntryFilter) ([]*vigil.Entry, error) {
	where, args := []string{"id > ?"}, []any{f.AfterID}
	if f.BankID != nil {
		where, args = append(where, "bank_id = ?"), append(args, *f.BankID)
	}
	if f.SignalType != nil {
		where, args = append(where, "signal_type = ?"), append(args, *f.SignalType)
	}
	if f.Value != nil {
		v := strings.ToLower(strings.TrimSpace(*f.Value))
		if f.SignalType != nil {
			var err error
			if v, err = vigil.CanonicalValue(*f.SignalType, v); err != nil {
				return nil, err
			}
			where, args = append(where, "value = ?"), append(args, encodeValue(*f.SignalType, v))
		} else {
			// Without a type the value may be a hash, stored as bytes, or
			// not.
			where, args = append(where, "value IN (?, ?)"), append(args, encodeValue(vigil.SignalSHA256, v), []byte(v))
		}
	}
	if f.SourceEntryID != nil {
		where, args = append(where, "source_entry_id = ?"), append(args, *f.SourceEntryID)
		if *f.SourceEntryID != "" {
			// Lets the planner use the partial index entries_source_entry.
			where = append(where, "source_entry_id <> ''")
		}
	}
	if !f.IncludeRetracted {
		where = append(where, "retracted_at IS NULL")
	}
	args = append(args, pageLimit(f.Limit))

	entries, err := s.queryEntries(ctx, `WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("find entries: %w", err)
	}
	return entries, nil
}

// RetractEntry marks an entry retracted.
func (s *EntryService) RetractEntry(ctx context.Context, id int64, by, reason string) (*vigil.Entry, error) {
	if err := validateActor("banks", by); err != nil {
		return nil, err
	}
	if err := vigil.ValidateRetractReason(reason); err != nil {
		return nil, err
	}
	now := s.db.now()
	var e *vigil.Entry
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = scanEntry(tx.QueryRowContext(ctx, `SELECT `+entryColumns+` FROM entries WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "entry %d not found", id)
		} else if err != nil {
			return err
		}
		if e.Retracted() {
			return vigil.Errorf(vigil.ECONFLICT, "entry %d is already retracted", id)
		}
		if e.Seq, err = nextSeq(ctx, tx, 1); err != nil {
			return err
		}
		e.RetractedAt, e.RetractedBy, e.RetractReason = &now, by, reason
		if _, err := tx.ExecContext(ctx, `
			UPDATE entries SET retracted_at = ?, retracted_by = ?, retract_reason = ?, seq = ?
			WHERE id = ?`, formatTime(now), by, reason, e.Seq, id); err != nil {
			return err
		}
		if _, err := bumpBank(ctx, tx, e.BankID, -1, formatTime(now)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT name FROM banks WHERE id = ?`, e.BankID).Scan(&e.BankName)
	})
	if err != nil {
		return nil, fmt.Errorf("retract entry %d: %w", id, err)
	}
	return e, nil
}

// ForEachActiveEntry calls fn for every active entry of a signal type.
func (s *EntryService) ForEachActiveEntry(ctx context.Context, t vigil.SignalType, fn func(e *vigil.Entry) error) (int64, error) {
	var seq int64
	err := s.db.read(ctx, func(tx *sql.Tx) error {
		// Reading the sequence first starts the snapshot that the scan
		// below reads too, so no change can fall between them.
		if err := tx.QueryRowContext(ctx, `SELECT value FROM change_seq WHERE id = 1`).Scan(&seq); err != nil {
			return err
		}
		names, err := bankNames(ctx, tx)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+entryColumns+` FROM entries
			WHERE signal_type = ? AND retracted_at IS NULL AND quarantined_at IS NULL`, t)
		if err != nil {
			return err
		}
		defer rows.Close()
		var e vigil.Entry // reused: fn may not keep it
		for rows.Next() {
			if err := scanEntryInto(rows, &e); err != nil {
				return err
			}
			e.BankName = names[e.BankID]
			if err := fn(&e); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return 0, fmt.Errorf("for each active %s entry: %w", t, err)
	}
	return seq, nil
}

// EntriesChangedSince returns entries of a type changed after seq.
func (s *EntryService) EntriesChangedSince(ctx context.Context, t vigil.SignalType, seq int64, limit int) ([]*vigil.Entry, error) {
	entries, err := s.queryEntries(ctx, `WHERE signal_type = ? AND seq > ? ORDER BY seq LIMIT ?`, t, seq, pageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("%s entries changed since %d: %w", t, seq, err)
	}
	return entries, nil
}

// queryEntries reads the entries selected by tail (a WHERE … ORDER BY …
// LIMIT clause) in one snapshot, with their banks' names.
func (s *EntryService) queryEntries(ctx context.Context, tail string, args ...any) ([]*vigil.Entry, error) {
	var entries []*vigil.Entry
	err := s.db.read(ctx, func(tx *sql.Tx) error {
		names, err := bankNames(ctx, tx)
		if err != nil {
			return err
		}
		entries, err = queryAll(ctx, tx, scanEntry, `SELECT `+entryColumns+` FROM entries `+tail, args...)
		for _, e := range entries {
			e.BankName = names[e.BankID]
		}
		return err
	})
	return entries, err
}

// bankNames maps bank ids to names.
func bankNames(ctx context.Context, q querier) (map[int64]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name FROM banks`)
	if err != nil {
		return nil, fmt.Errorf("bank names: %w", err)
	}
	defer rows.Close()
	names := make(map[int64]string)
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("bank names: %w", err)
		}
		names[id] = name
	}
	return names, rows.Err()
}

// entryColumns are the columns scanEntry reads (sqlstore.EntryColumns).
const entryColumns = sqlstore.EntryColumns

func scanEntry(row scanner) (*vigil.Entry, error) { return sqlstore.ScanEntry(row) }

func scanEntryInto(row scanner, e *vigil.Entry) error { return sqlstore.ScanEntryInto(row, e) }

func encodeValue(t vigil.SignalType, v string) []byte { return sqlstore.EncodeValue(t, v) }

func decodeValue(t vigil.SignalType, b []byte) string { return sqlstore.DecodeValue(t, b) }

func entryError(n int, err error) error { return sqlstore.EntryError(n, err) }

func nullQuality(q *int) any { return sqlstore.NullQuality(q) }

// pageLimit applies the defaults and cap of vigil.EntryFilter.Limit.
func pageLimit(n int) int { return sqlstore.PageLimit(n) }
