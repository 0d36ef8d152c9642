package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// Ensure EntryService implements the interface.
var _ vigil.EntryService = (*EntryService)(nil)

// EntryService stores bank entries in PostgreSQL: its bulk writes here, its
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
