package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// Ensure LookupCounter implements the interface.
var _ vigil.LookupCounter = (*LookupCounter)(nil)

// marshalLimits returns a key's limits as stored (sqlstore.MarshalLimits).
func marshalLimits(l *vigil.KeyLimits) (sql.NullString, error) { return sqlstore.MarshalLimits(l) }

func unmarshalLimits(s sql.NullString) (*vigil.KeyLimits, error) { return sqlstore.UnmarshalLimits(s) }

// SetKeyLimits replaces a key's own lookup limits.
func (s *KeyService) SetKeyLimits(ctx context.Context, id int64, limits *vigil.KeyLimits) (*vigil.Key, error) {
	if limits != nil {
		if err := limits.Validate(); err != nil {
			return nil, err
		}
	}
	stored, err := marshalLimits(limits)
	if err != nil {
		return nil, fmt.Errorf("set key %d limits: %w", id, err)
	}
	var k *vigil.Key
	err = s.db.write(ctx, func(tx *pgTx) error {
		var err error
		if k, err = unrevokedKey(ctx, tx, id); err != nil {
			return err
		}
		k.Limits = limits
		_, err = tx.ExecContext(ctx, `UPDATE api_keys SET limits = ? WHERE id = ?`, stored, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("set key %d limits: %w", id, err)
	}
	return k, nil
}

// LookupCounter implements vigil.LookupCounter on PostgreSQL,
// with the SQL of package sqlstore.
type LookupCounter struct{ *lookupCounter }

type lookupCounter = sqlstore.LookupCounter

// NewLookupCounter returns a LookupCounter on db.
func NewLookupCounter(db *DB) *LookupCounter {
	return &LookupCounter{sqlstore.NewLookupCounter(db.shared())}
}
