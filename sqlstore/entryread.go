package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/vigil-oss/vigil"
)

// EntryQueries are the entry service's reads and retraction, whose SQL
// the two stores share; each store adds its own bulk writes (AddEntries,
// ImportEntries: SQLite's prepared batches, PostgreSQL's COPY).
type EntryQueries struct {
	db DB
}

// NewEntryQueries returns the EntryQueries of db.
func NewEntryQueries(db DB) *EntryQueries { return &EntryQueries{db: db} }

// FindEntryByID returns an entry, retracted or not.
func (s *EntryQueries) FindEntryByID(ctx context.Context, id int64) (*vigil.Entry, error) {
	// One statement, a consistent read by itself and one round trip (on
	// SQLite a statement prepared once): the matcher reads an entry's
	// provenance for every match it returns, and a read transaction
	// around two queries cost as much again.
	var e vigil.Entry
	err := ScanEntryInto(withBankName{s.db.ReadRow(ctx, FindEntryByIDSQL, id), &e.BankName, nil}, &e)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "entry %d not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("find entry %d: %w", id, err)
	}
	return &e, nil
}

// FindEntryByIDSQL reads an entry and its bank's name (a DB.ReadRow
// query).
const FindEntryByIDSQL = `SELECT ` + EntryColumns + `, (SELECT name FROM banks WHERE banks.id = entries.bank_id) FROM entries WHERE id = ?`

// The matcher keeps provenance in memory only over a store that says
// when entries change.
var _ vigil.EntryVersions = (*EntryQueries)(nil)

// EntryChangeSeq implements vigil.EntryVersions: change_seq is raised in
// every entry change's transaction (DB.NextSeq: SQLite has one writer;
// PostgreSQL locks change_seq's row until the commit), so the committed
// value grows with every committed change. PostgreSQL's matcher reads it
// once per lookup: several hosts may share the store, and no memory is
// shared between them. SQLite's, on Linux, checks the shared counter
// instead (vigil.EntryChangeCounter, sqlite/entryseq.go).
func (s *EntryQueries) EntryChangeSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.db.ReadRow(ctx, ChangeSeqSQL).Scan(&seq); err != nil {
		return 0, fmt.Errorf("entry change seq: %w", err)
	}
	return seq, nil
}

// FindEntryAndSeq implements vigil.EntryVersions in one statement, which
// reads one snapshot.
func (s *EntryQueries) FindEntryAndSeq(ctx context.Context, id int64) (*vigil.Entry, int64, error) {
	var e vigil.Entry
	var seq int64
	err := ScanEntryInto(withBankName{s.db.ReadRow(ctx, FindEntryAndSeqSQL, id), &e.BankName, &seq}, &e)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, vigil.Errorf(vigil.ENOTFOUND, "entry %d not found", id)
	} else if err != nil {
		return nil, 0, fmt.Errorf("find entry %d: %w", id, err)
	}
	return &e, seq, nil
}

// The DB.ReadRow queries of vigil.EntryVersions.
const (
	ChangeSeqSQL       = `SELECT value FROM change_seq WHERE id = 1`
	FindEntryAndSeqSQL = `SELECT ` + EntryColumns + `, (SELECT name FROM banks WHERE banks.id = entries.bank_id),
	(` + ChangeSeqSQL + `) FROM entries WHERE id = ?`
)

// withBankName scans a row of EntryColumns followed by the bank's name.
type withBankName struct {
	row  Scanner
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
func (s *EntryQueries) FindEntries(ctx context.Context, f vigil.EntryFilter) ([]*vigil.Entry, error) {
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
			where, args = append(where, "value = ?"), append(args, EncodeValue(*f.SignalType, v))
		} else {
			// Without a type the value may be a hash, stored as bytes, or
			// not.
			where, args = append(where, "value IN (?, ?)"), append(args, EncodeValue(vigil.SignalSHA256, v), []byte(v))
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
	args = append(args, PageLimit(f.Limit))

	entries, err := s.queryEntries(ctx, `WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("find entries: %w", err)
	}
	return entries, nil
}

// RetractEntry marks an entry retracted.
func (s *EntryQueries) RetractEntry(ctx context.Context, id int64, by, reason string) (*vigil.Entry, error) {
	if err := ValidateActor("banks", by); err != nil {
		return nil, err
	}
	if err := vigil.ValidateRetractReason(reason); err != nil {
		return nil, err
	}
	now := s.db.Now()
	var e *vigil.Entry
	err := s.db.Write(ctx, func(tx Querier) error {
		var err error
		e, err = ScanEntry(tx.QueryRowContext(ctx, `SELECT `+EntryColumns+` FROM entries WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "entry %d not found", id)
		} else if err != nil {
			return err
		}
		if e.Retracted() {
			return vigil.Errorf(vigil.ECONFLICT, "entry %d is already retracted", id)
		}
		if e.Seq, err = s.db.NextSeq(ctx, tx, 1); err != nil {
			return err
		}
		e.RetractedAt, e.RetractedBy, e.RetractReason = &now, by, reason
		if _, err := tx.ExecContext(ctx, `
			UPDATE entries SET retracted_at = ?, retracted_by = ?, retract_reason = ?, seq = ?
			WHERE id = ?`, FormatTime(now), by, reason, e.Seq, id); err != nil {
			return err
		}
		if _, err := BumpBank(ctx, tx, e.BankID, -1, FormatTime(now)); err != nil {
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
func (s *EntryQueries) ForEachActiveEntry(ctx context.Context, t vigil.SignalType, fn func(e *vigil.Entry) error) (int64, error) {
	var seq int64
	err := s.db.Read(ctx, func(tx Querier) error {
		// Reading the sequence first starts the snapshot that the scan
		// below reads too, so no change can fall between them.
		if err := tx.QueryRowContext(ctx, `SELECT value FROM change_seq WHERE id = 1`).Scan(&seq); err != nil {
			return err
		}
		names, err := BankNames(ctx, tx)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+EntryColumns+` FROM entries
			WHERE signal_type = ? AND retracted_at IS NULL AND quarantined_at IS NULL`, t)
		if err != nil {
			return err
		}
		defer rows.Close()
		var e vigil.Entry // reused: fn may not keep it
		for rows.Next() {
			if err := ScanEntryInto(rows, &e); err != nil {
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
func (s *EntryQueries) EntriesChangedSince(ctx context.Context, t vigil.SignalType, seq int64, limit int) ([]*vigil.Entry, error) {
	entries, err := s.queryEntries(ctx, `WHERE signal_type = ? AND seq > ? ORDER BY seq LIMIT ?`, t, seq, PageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("%s entries changed since %d: %w", t, seq, err)
	}
	return entries, nil
}

// queryEntries reads the entries selected by tail (a WHERE … ORDER BY …
// LIMIT clause) in one snapshot, with their banks' names.
func (s *EntryQueries) queryEntries(ctx context.Context, tail string, args ...any) ([]*vigil.Entry, error) {
	var entries []*vigil.Entry
	err := s.db.Read(ctx, func(tx Querier) error {
		names, err := BankNames(ctx, tx)
		if err != nil {
			return err
		}
		entries, err = QueryAll(ctx, tx, ScanEntry, `SELECT `+EntryColumns+` FROM entries `+tail, args...)
		for _, e := range entries {
			e.BankName = names[e.BankID]
		}
		return err
	})
	return entries, err
}

// BankNames maps bank ids to names.
func BankNames(ctx context.Context, q Querier) (map[int64]string, error) {
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
