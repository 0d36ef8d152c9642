package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-oss/vigil"
)

// Ensure SignalStore implements the interface.
var _ vigil.SignalStore = (*SignalStore)(nil)

// SignalStore keeps seen signals and retroactive matches.
type SignalStore struct {
	db DB
}

// NewSignalStore returns a SignalStore on db.
func NewSignalStore(db DB) *SignalStore { return &SignalStore{db: db} }

// KeepSignals implements vigil.SignalStore.
func (s *SignalStore) KeepSignals(ctx context.Context, content string, sigs []vigil.Signal, retention time.Duration) error {
	if retention <= 0 {
		return vigil.Errorf(vigil.EINVALID, "signal retention must be positive")
	}
	now := s.db.Now()
	err := s.db.Write(ctx, func(tx Querier) error {
		for _, sig := range sigs {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO seen_signals (content_sha256, signal_type, value, seen_at, expires_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (signal_type, value, content_sha256) DO UPDATE SET expires_at = excluded.expires_at`,
				content, sig.Type, sig.Value, FormatTime(now), FormatTime(now.Add(retention))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("keep signals of %s: %w", content, err)
	}
	return nil
}

const seenColumns = `id, content_sha256, signal_type, value, seen_at, expires_at`

func scanSeen(row Scanner) (*vigil.SeenSignal, error) {
	var sg vigil.SeenSignal
	var seen, expires string
	if err := row.Scan(&sg.ID, &sg.ContentSHA256, &sg.Type, &sg.Value, &seen, &expires); err != nil {
		return nil, err
	}
	var err error
	if sg.SeenAt, err = ParseTime(seen); err != nil {
		return nil, err
	}
	sg.ExpiresAt, err = ParseTime(expires)
	return &sg, err
}

// FindSeenSignals implements vigil.SignalStore.
func (s *SignalStore) FindSeenSignals(ctx context.Context, t vigil.SignalType, values []string) ([]*vigil.SeenSignal, error) {
	var out []*vigil.SeenSignal
	const batch = 500 // under both dialects' bound-parameter limits
	for len(values) > 0 {
		part := values[:min(batch, len(values))]
		values = values[len(part):]
		args := []any{string(t), FormatTime(s.db.Now())}
		for _, v := range part {
			args = append(args, v)
		}
		found, err := QueryAll(ctx, s.db.Reader(), scanSeen, `SELECT `+seenColumns+` FROM seen_signals WHERE signal_type = ? AND expires_at > ? AND value IN (`+Placeholders(len(part))+`) ORDER BY id`, args...)
		if err != nil {
			return nil, fmt.Errorf("find seen signals: %w", err)
		}
		out = append(out, found...)
	}
	return out, nil
}

// ForEachSeenSignal implements vigil.SignalStore.
func (s *SignalStore) ForEachSeenSignal(ctx context.Context, t vigil.SignalType, fn func(*vigil.SeenSignal) error) error {
	return s.db.Read(ctx, func(tx Querier) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+seenColumns+` FROM seen_signals WHERE signal_type = ? AND expires_at > ? ORDER BY id`, string(t), FormatTime(s.db.Now()))
		if err != nil {
			return fmt.Errorf("seen signals: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			sg, err := scanSeen(rows)
			if err != nil {
				return fmt.Errorf("seen signals: %w", err)
			}
			if err := fn(sg); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// AddRematches implements vigil.SignalStore. A match already recorded for
// the same content and entry is not recorded twice.
func (s *SignalStore) AddRematches(ctx context.Context, rs []*vigil.Rematch) error {
	now := s.db.Now()
	err := s.db.Write(ctx, func(tx Querier) error {
		for _, r := range rs {
			m, err := json.Marshal(r.Match)
			if err != nil {
				return err
			}
			r.FoundAt = now
			err = tx.QueryRowContext(ctx, `INSERT INTO rematches (content_sha256, match, seen_at, found_at, entry_id) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT DO NOTHING RETURNING id`,
				r.ContentSHA256, string(m), FormatTime(r.SeenAt), FormatTime(now), r.Match.EntryID).Scan(&r.ID)
			if errors.Is(err, sql.ErrNoRows) {
				// Already recorded: hand back the recorded one's id.
				err = tx.QueryRowContext(ctx, `SELECT id FROM rematches WHERE content_sha256 = ? AND entry_id = ?`,
					r.ContentSHA256, r.Match.EntryID).Scan(&r.ID)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add rematches: %w", err)
	}
	return nil
}

// ListRematches implements vigil.SignalStore.
func (s *SignalStore) ListRematches(ctx context.Context, afterID int64, limit int) ([]*vigil.Rematch, error) {
	if limit <= 0 || limit > vigil.MaxEntryLimit {
		limit = vigil.DefaultEntryLimit
	}
	out, err := QueryAll(ctx, s.db.Reader(), scanRematch, `SELECT id, content_sha256, match, seen_at, found_at FROM rematches WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list rematches: %w", err)
	}
	return out, nil
}

func scanRematch(row Scanner) (*vigil.Rematch, error) {
	var r vigil.Rematch
	var m, seen, found string
	if err := row.Scan(&r.ID, &r.ContentSHA256, &m, &seen, &found); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(m), &r.Match); err != nil {
		return nil, fmt.Errorf("rematch %d: %w", r.ID, err)
	}
	var err error
	if r.SeenAt, err = ParseTime(seen); err != nil {
		return nil, err
	}
	r.FoundAt, err = ParseTime(found)
	return &r, err
}

// DeleteExpiredSignals implements vigil.SignalStore.
func (s *SignalStore) DeleteExpiredSignals(ctx context.Context) (int, error) {
	var n int64
	err := s.db.Write(ctx, func(tx Querier) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM seen_signals WHERE expires_at <= ?`, FormatTime(s.db.Now()))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired signals: %w", err)
	}
	return int(n), nil
}
