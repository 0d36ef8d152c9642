package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/vigil-oss/vigil"
)

// Ensure BankService implements the interface.
var _ vigil.BankService = (*BankService)(nil)

// BankService stores banks.
type BankService struct {
	db DB
}

// NewBankService returns a BankService on db.
func NewBankService(db DB) *BankService {
	return &BankService{db: db}
}

const bankColumns = `id, name, description, enabled, negative, match_ratio, thresholds, reveal, version, active_entries, created_at, updated_at`

// CreateBank stores a new bank.
func (s *BankService) CreateBank(ctx context.Context, b *vigil.Bank) error {
	pending, err := PrepareBank(b)
	if err != nil {
		return err
	}
	now := s.db.Now()
	if err := s.db.Write(ctx, func(tx Querier) error { return pending.Insert(ctx, tx, now) }); err != nil {
		return fmt.Errorf("create bank %q: %w", b.Name, err)
	}
	pending.Done(now)
	return nil
}

// BankInsert is a checked bank ready to insert, in a transaction of
// CreateBank's or of another write that makes a bank with something else.
type BankInsert struct {
	b          *vigil.Bank
	thresholds string
}

// PrepareBank checks b and fills in its defaults.
func PrepareBank(b *vigil.Bank) (*BankInsert, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	if b.MatchRatio == 0 {
		b.MatchRatio = 1
	}
	if b.Reveal == "" {
		b.Reveal = vigil.RevealBank
	}
	thresholds, err := MarshalThresholds(b.Thresholds)
	if err != nil {
		return nil, fmt.Errorf("create bank %q: %w", b.Name, err)
	}
	return &BankInsert{b: b, thresholds: thresholds}, nil
}

// Insert stores the bank in tx and sets its ID.
func (p *BankInsert) Insert(ctx context.Context, tx Querier, now time.Time) error {
	b := p.b
	// The writer is alone, so checking first is race-free and gives a
	// clearer error than decoding a constraint failure.
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM banks WHERE name = ?`, b.Name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return vigil.Errorf(vigil.ECONFLICT, "bank %q already exists", b.Name)
	}
	return tx.QueryRowContext(ctx, `
		INSERT INTO banks (name, description, enabled, negative, match_ratio, thresholds, reveal, version, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
		RETURNING id`,
		b.Name, b.Description, b.Enabled, b.Negative, b.MatchRatio, p.thresholds, b.Reveal, FormatTime(now), FormatTime(now),
	).Scan(&b.ID)
}

// Done sets what the store gave the bank once its transaction committed.
func (p *BankInsert) Done(now time.Time) {
	b := p.b
	b.Version, b.ActiveEntries = 1, 0
	b.CreatedAt, b.UpdatedAt = now, now
	if len(b.Thresholds) == 0 {
		b.Thresholds = nil
	}
}

// FindBankByID returns the bank with the given id.
func (s *BankService) FindBankByID(ctx context.Context, id int64) (*vigil.Bank, error) {
	b, err := FindBank(ctx, s.db.Reader(), "id = ?", id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "bank %d not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("find bank %d: %w", id, err)
	}
	return b, nil
}

// FindBankByName returns the bank with the given name.
func (s *BankService) FindBankByName(ctx context.Context, name string) (*vigil.Bank, error) {
	b, err := FindBank(ctx, s.db.Reader(), "name = ?", name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "bank %q not found", name)
	} else if err != nil {
		return nil, fmt.Errorf("find bank %q: %w", name, err)
	}
	return b, nil
}

// ListBanks returns all banks by name.
func (s *BankService) ListBanks(ctx context.Context) ([]*vigil.Bank, error) {
	banks, err := QueryAll(ctx, s.db.Reader(), scanBank, `SELECT `+bankColumns+` FROM banks ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list banks: %w", err)
	}
	return banks, nil
}

// UpdateBank applies upd to a bank and bumps its version.
func (s *BankService) UpdateBank(ctx context.Context, id int64, upd vigil.BankUpdate) (*vigil.Bank, error) {
	var b *vigil.Bank
	err := s.db.Write(ctx, func(tx Querier) error {
		var err error
		if b, err = FindBank(ctx, tx, "id = ?", id); errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "bank %d not found", id)
		} else if err != nil {
			return err
		}
		if upd.Name == nil && upd.Description == nil && upd.Enabled == nil && upd.Negative == nil &&
			upd.MatchRatio == nil && upd.Thresholds == nil && upd.Reveal == nil {
			return nil // nothing to change, so no new version
		}
		if upd.Name != nil && *upd.Name != b.Name {
			if err := renameCheck(ctx, tx, b.Name, *upd.Name); err != nil {
				return err
			}
			b.Name = *upd.Name
		}
		if upd.Description != nil {
			b.Description = *upd.Description
		}
		if upd.Enabled != nil {
			b.Enabled = *upd.Enabled
		}
		if upd.Negative != nil {
			b.Negative = *upd.Negative
		}
		if upd.MatchRatio != nil {
			b.MatchRatio = *upd.MatchRatio
		}
		if upd.Thresholds != nil {
			b.Thresholds = maps.Clone(upd.Thresholds)
		}
		if upd.Reveal != nil {
			if *upd.Reveal == "" {
				return vigil.Errorf(vigil.EINVALID, "bank reveal must be full, source or bank")
			}
			b.Reveal = *upd.Reveal
		}
		if err := b.Validate(); err != nil {
			return err
		}
		if b.MatchRatio == 0 {
			b.MatchRatio = 1
		}
		thresholds, err := MarshalThresholds(b.Thresholds)
		if err != nil {
			return err
		}
		b.UpdatedAt = s.db.Now()
		return tx.QueryRowContext(ctx, `
			UPDATE banks SET name = ?, description = ?, enabled = ?, negative = ?, match_ratio = ?, thresholds = ?,
				reveal = ?, version = version + 1, updated_at = ?
			WHERE id = ?
			RETURNING version`,
			b.Name, b.Description, b.Enabled, b.Negative, b.MatchRatio, thresholds, b.Reveal, FormatTime(b.UpdatedAt), id,
		).Scan(&b.Version)
	})
	if err != nil {
		return nil, fmt.Errorf("update bank %d: %w", id, err)
	}
	if len(b.Thresholds) == 0 {
		b.Thresholds = nil
	}
	return b, nil
}

// renameCheck refuses to rename bank from to a name another bank has, or
// a bank a feed publishes: feeds and their subscribers name banks, so a
// rename would cut them off.
func renameCheck(ctx context.Context, tx Querier, from, to string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM banks WHERE name = ?`, to).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return vigil.Errorf(vigil.ECONFLICT, "bank %q already exists", to)
	}
	rows, err := tx.QueryContext(ctx, `SELECT name, banks FROM feeds`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var feed, banks string
		if err := rows.Scan(&feed, &banks); err != nil {
			return err
		}
		var names []string
		if err := json.Unmarshal([]byte(banks), &names); err != nil {
			return fmt.Errorf("feed %q banks: %w", feed, err)
		}
		if slices.Contains(names, from) {
			return vigil.Errorf(vigil.ECONFLICT, "bank %q is published by feed %q and cannot be renamed", from, feed)
		}
	}
	return rows.Err()
}

// DisableBank stops a bank from matching.
func (s *BankService) DisableBank(ctx context.Context, id int64) (*vigil.Bank, error) {
	disabled := false
	return s.UpdateBank(ctx, id, vigil.BankUpdate{Enabled: &disabled})
}

// BumpBank records a change to a bank's entries: it bumps the version,
// adjusts the active entry count by delta and returns the new version.
func BumpBank(ctx context.Context, tx Querier, id, delta int64, now string) (int64, error) {
	var version int64
	err := tx.QueryRowContext(ctx, `
		UPDATE banks SET version = version + 1, active_entries = active_entries + ?, updated_at = ?
		WHERE id = ?
		RETURNING version`, delta, now, id).Scan(&version)
	if err != nil {
		return 0, fmt.Errorf("bump bank version: %w", err)
	}
	return version, nil
}

// FindBank returns the one bank matching where, or sql.ErrNoRows.
func FindBank(ctx context.Context, q Querier, where string, args ...any) (*vigil.Bank, error) {
	return scanBank(q.QueryRowContext(ctx, `SELECT `+bankColumns+` FROM banks WHERE `+where, args...))
}

func scanBank(row Scanner) (*vigil.Bank, error) {
	var (
		b                    vigil.Bank
		thresholds           string
		createdAt, updatedAt string
	)
	if err := row.Scan(&b.ID, &b.Name, &b.Description, &b.Enabled, &b.Negative, &b.MatchRatio, &thresholds, &b.Reveal,
		&b.Version, &b.ActiveEntries, &createdAt, &updatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(thresholds), &b.Thresholds); err != nil {
		return nil, fmt.Errorf("bank %d thresholds: %w", b.ID, err)
	}
	if len(b.Thresholds) == 0 {
		b.Thresholds = nil
	}
	var err error
	if b.CreatedAt, err = ParseTime(createdAt); err != nil {
		return nil, err
	}
	if b.UpdatedAt, err = ParseTime(updatedAt); err != nil {
		return nil, err
	}
	return &b, nil
}

// MarshalThresholds returns a bank's thresholds as stored: a JSON object.
func MarshalThresholds(m map[vigil.SignalType]int) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("marshal thresholds: %w", err)
	}
	return string(b), nil
}
