package postgres

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

// EntryService stores bank entries in PostgreSQL.
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
	err := s.db.write(ctx, func(tx *pgTx) error {
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

// ImportEntries streams entries into a bank in one transaction, through
// COPY: rows stream into a temporary table, then one INSERT moves them into
// entries, skipping duplicates (of entries already held or within the
// import). An invalid entry, a failed read or a cancelled context fails the
// COPY and the transaction with it: nothing is imported.
func (s *EntryService) ImportEntries(ctx context.Context, bankID int64, by string, entries iter.Seq2[*vigil.Entry, error]) (vigil.ImportResult, error) {
	var res vigil.ImportResult
	if err := validateActor("banks", by); err != nil {
		return res, err
	}
	now := formatTime(s.db.now())
	err := s.db.write(ctx, func(tx *pgTx) error {
		if err := tx.QueryRowContext(ctx, `SELECT version FROM banks WHERE id = ?`, bankID).Scan(&res.Version); errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "bank %d not found", bankID)
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			CREATE TEMPORARY TABLE import_entries (
				n               BIGINT NOT NULL,
				signal_type     TEXT NOT NULL,
				value           BYTEA NOT NULL,
				source          TEXT NOT NULL,
				source_entry_id TEXT NOT NULL,
				category        TEXT NOT NULL,
				quality         SMALLINT
			) ON COMMIT DROP`); err != nil {
			return fmt.Errorf("create import table: %w", err)
		}
		n, err := tx.copyFrom(ctx, "import_entries",
			[]string{"n", "signal_type", "value", "source", "source_entry_id", "category", "quality"},
			copyEntries(entries))
		if err != nil {
			return err
		}
		if n == 0 {
			return vigil.AuditResult(ctx, res)
		}
		// Numbers for every row, duplicates' left as gaps, as AddEntries.
		seq, err := nextSeq(ctx, tx, n)
		if err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, `
			INSERT INTO entries (bank_id, added_by, added_at, seq, signal_type, value, source, source_entry_id, category, quality)
			SELECT ?, ?, ?, ? + n, signal_type, value, source, source_entry_id, category, quality
			FROM import_entries ORDER BY n
			ON CONFLICT DO NOTHING`, bankID, by, now, seq-1)
		if err != nil {
			return fmt.Errorf("insert entries: %w", err)
		}
		added, err := r.RowsAffected()
		if err != nil {
			return fmt.Errorf("insert entries: %w", err)
		}
		res.Added, res.Duplicates = int(added), int(n-added)
		if added > 0 {
			if res.Version, err = bumpBank(ctx, tx, bankID, added, now); err != nil {
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

// copyEntries returns the COPY rows of entries, numbered from 1 and
// validated as they stream: the first invalid entry or read error ends
// the COPY with that error.
func copyEntries(entries iter.Seq2[*vigil.Entry, error]) func(yield func([]any, error) bool) {
	return func(yield func([]any, error) bool) {
		var n int64
		row := make([]any, 7) // reused: pgx encodes a row before asking for the next
		for e, err := range entries {
			if err != nil {
				yield(nil, err)
				return
			}
			n++
			if err := e.Validate(); err != nil {
				yield(nil, entryError(int(n), err))
				return
			}
			row[0], row[1], row[2], row[3], row[4], row[5] = n, string(e.SignalType), encodeValue(e.SignalType, e.Value), e.Source, e.SourceEntryID, e.Category
			row[6] = nullQuality(e.Quality)
			if !yield(row, nil) {
				return
			}
		}
	}
}

// FindEntryByID returns an entry, retracted or not.
func (s *EntryService) FindEntryByID(ctx context.Context, id int64) (*vigil.Entry, error) {
	// One statement, a consistent read by itself and one round trip: the
	// matcher reads an entry's provenance for every match it returns.
	var e vigil.Entry
	err := scanEntryInto(withBankName{s.db.rdb.QueryRowContext(ctx, findEntryByID, id), &e.BankName, nil}, &e)
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

// EntryChangeSeq implements vigil.EntryVersions: change_seq's row is
// raised in every entry change's transaction and locked until its commit
// (nextSeq), so the committed value grows with every committed change.
func (s *EntryService) EntryChangeSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.db.rdb.QueryRowContext(ctx, sqlChangeSeq).Scan(&seq); err != nil {
		return 0, fmt.Errorf("entry change seq: %w", err)
	}
	return seq, nil
}

// FindEntryAndSeq implements vigil.EntryVersions in one statement, which
// reads one snapshot.
func (s *EntryService) FindEntryAndSeq(ctx context.Context, id int64) (*vigil.Entry, int64, error) {
	var e vigil.Entry
	var seq int64
	err := scanEntryInto(withBankName{s.db.rdb.QueryRowContext(ctx, findEntryAndSeq, id), &e.BankName, &seq}, &e)
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
	err := s.db.write(ctx, func(tx *pgTx) error {
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
	err := s.db.read(ctx, func(tx *pgTx) error {
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
	err := s.db.read(ctx, func(tx *pgTx) error {
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
