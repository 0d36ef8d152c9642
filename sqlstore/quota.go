package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vigil-oss/vigil"
)

// Ensure LookupCounter implements the interface.
var _ vigil.LookupCounter = (*LookupCounter)(nil)

// MarshalLimits returns a key's limits as stored: JSON, or NULL for none.
func MarshalLimits(l *vigil.KeyLimits) (sql.NullString, error) {
	if l == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(l)
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

// UnmarshalLimits reads a key's stored limits.
func UnmarshalLimits(s sql.NullString) (*vigil.KeyLimits, error) {
	if !s.Valid {
		return nil, nil
	}
	var l vigil.KeyLimits
	if err := json.Unmarshal([]byte(s.String), &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// LookupCounter keeps per-key daily lookup counts.
type LookupCounter struct {
	db DB
}

// NewLookupCounter returns a LookupCounter on db.
func NewLookupCounter(db DB) *LookupCounter { return &LookupCounter{db: db} }

// AddLookups adds counts to their keys' daily totals in one transaction.
func (c *LookupCounter) AddLookups(ctx context.Context, counts []vigil.LookupCount) ([]vigil.LookupCount, error) {
	for _, n := range counts {
		if err := vigil.ValidateLookupDay(n.Day); err != nil {
			return nil, err
		}
		if n.Lookups < 0 {
			return nil, vigil.Errorf(vigil.EINVALID, "lookup count of key %d is negative", n.KeyID)
		}
	}
	out := make([]vigil.LookupCount, len(counts))
	// A count is not a change anyone made: never with the caller's
	// pending audit record.
	err := c.db.WriteAudited(ctx, nil, func(tx Querier) error {
		for i, n := range counts {
			out[i] = n
			err := tx.QueryRowContext(ctx, `
				INSERT INTO lookup_counts (key_id, day, lookups) VALUES (?, ?, ?)
				ON CONFLICT (key_id, day) DO UPDATE SET lookups = lookup_counts.lookups + excluded.lookups
				RETURNING lookups`, n.KeyID, n.Day, n.Lookups).Scan(&out[i].Lookups)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("add lookup counts: %w", err)
	}
	return out, nil
}

// LookupCounts returns daily totals by day, then key.
func (c *LookupCounter) LookupCounts(ctx context.Context, from, to string, keyID int64) ([]vigil.LookupCount, error) {
	for _, d := range []string{from, to} {
		if err := vigil.ValidateLookupDay(d); err != nil {
			return nil, err
		}
	}
	out, err := QueryAll(ctx, c.db.Reader(), scanLookupCount, `
		SELECT key_id, day, lookups FROM lookup_counts
		WHERE day >= ? AND day <= ? AND (? = 0 OR key_id = ?)
		ORDER BY day, key_id`, from, to, keyID, keyID)
	if err != nil {
		return nil, fmt.Errorf("lookup counts: %w", err)
	}
	return out, nil
}

func scanLookupCount(row Scanner) (vigil.LookupCount, error) {
	var n vigil.LookupCount
	err := row.Scan(&n.KeyID, &n.Day, &n.Lookups)
	return n, err
}

// BeatReplica records replica as seen at now and counts the replicas seen
// within live, in one transaction.
func (c *LookupCounter) BeatReplica(ctx context.Context, replica string, now time.Time, live time.Duration) (int, error) {
	if err := vigil.ValidateReplicaBeat(replica, live); err != nil {
		return 0, err
	}
	at := now.UnixNano()
	var n int
	err := c.db.WriteAudited(ctx, nil, func(tx Querier) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO lookup_replicas (replica, seen_at) VALUES (?, ?)
			ON CONFLICT (replica) DO UPDATE SET seen_at = excluded.seen_at`, replica, at); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM lookup_replicas WHERE seen_at < ?`,
			at-vigil.ReplicaForget*int64(live)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT count(*) FROM lookup_replicas WHERE seen_at > ?`,
			at-int64(live)).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("beat replica %q: %w", replica, err)
	}
	return max(n, 1), nil
}

// ForgetReplica deletes replica's beat.
func (c *LookupCounter) ForgetReplica(ctx context.Context, replica string) error {
	err := c.db.WriteAudited(ctx, nil, func(tx Querier) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM lookup_replicas WHERE replica = ?`, replica)
		return err
	})
	if err != nil {
		return fmt.Errorf("forget replica %q: %w", replica, err)
	}
	return nil
}
