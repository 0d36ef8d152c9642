package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-oss/vigil"
)

// Ensure KeyService implements the interface.
var _ vigil.KeyService = (*KeyService)(nil)

// lastUsedGranularity is how stale a key's LastUsedAt may get: recording
// every use would make each authenticated request a write.
const lastUsedGranularity = time.Minute

// lastUsedWait bounds how long recording a key's use may take (on SQLite,
// the wait for its one writer).
const lastUsedWait = 100 * time.Millisecond

// KeyService stores API keys.
type KeyService struct {
	db DB
}

// NewKeyService returns a KeyService on db.
func NewKeyService(db DB) *KeyService {
	return &KeyService{db: db}
}

const keyColumns = `id, name, role, hint, created_at, created_by, last_used_at, revoked_at, revoked_by, limits`

// CreateKey stores a key with a new secret and returns the secret.
func (s *KeyService) CreateKey(ctx context.Context, k *vigil.Key) (string, error) {
	if err := k.Validate(); err != nil {
		return "", err
	}
	secret, err := vigil.NewKeySecret(s.db.Rand())
	if err != nil {
		return "", fmt.Errorf("create key %q: %w", k.Name, err)
	}
	k.Hint = vigil.KeySecretHint(secret)
	k.CreatedAt = s.db.Now()
	k.LastUsedAt, k.RevokedAt, k.RevokedBy = nil, nil, ""
	limits, err := MarshalLimits(k.Limits)
	if err != nil {
		return "", fmt.Errorf("create key %q: %w", k.Name, err)
	}
	err = s.db.Write(ctx, func(tx Querier) error {
		// The writer is alone, so checking first is race-free; the unique
		// index (migration 00011) backs it up.
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE name = ? AND revoked_at IS NULL`, k.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return vigil.Errorf(vigil.ECONFLICT, "a key named %q exists: choose another name, or revoke that key first", k.Name)
		}
		return tx.QueryRowContext(ctx, `
			INSERT INTO api_keys (name, role, secret_hash, hint, created_at, created_by, limits)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			RETURNING id`,
			k.Name, k.Role, vigil.HashKeySecret(secret), k.Hint, FormatTime(k.CreatedAt), k.CreatedBy, limits,
		).Scan(&k.ID)
	})
	if err != nil {
		return "", fmt.Errorf("create key %q: %w", k.Name, err)
	}
	return secret, nil
}

// FindKeyBySecret returns the key with the given secret and records its use.
func (s *KeyService) FindKeyBySecret(ctx context.Context, secret string) (*vigil.Key, error) {
	k, err := scanKey(s.db.Reader().QueryRowContext(ctx,
		`SELECT `+keyColumns+` FROM api_keys WHERE secret_hash = ?`, vigil.HashKeySecret(secret)))
	if errors.Is(err, sql.ErrNoRows) || err == nil && k.Revoked() {
		// One message for both, so a caller cannot tell a revoked key
		// from a made-up one.
		return nil, vigil.Errorf(vigil.EUNAUTHORIZED, "invalid api key")
	} else if err != nil {
		return nil, fmt.Errorf("find key by secret: %w", err)
	}
	now := s.db.Now()
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= lastUsedGranularity {
		// Best effort, through Unlocked: while a bulk import holds the
		// writer (SQLite's one writer, PostgreSQL's write lock), waiting
		// for it would stall every request; the time is a hint, with no
		// audit record or sequence.
		wctx, cancel := context.WithTimeout(ctx, lastUsedWait)
		defer cancel()
		err := s.db.Unlocked(wctx, func(q Querier) error {
			_, err := q.ExecContext(wctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, FormatTime(now), k.ID)
			return err
		})
		if err != nil {
			s.db.Logger().Debug("key use not recorded", "key", k.ID, "err", err)
		} else {
			k.LastUsedAt = &now
		}
	}
	return k, nil
}

// FindKeyByID returns a key, revoked or not.
func (s *KeyService) FindKeyByID(ctx context.Context, id int64) (*vigil.Key, error) {
	k, err := scanKey(s.db.Reader().QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "key %d not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("find key %d: %w", id, err)
	}
	return k, nil
}

// ListKeys returns all keys by ID.
func (s *KeyService) ListKeys(ctx context.Context) ([]*vigil.Key, error) {
	keys, err := QueryAll(ctx, s.db.Reader(), scanKey, `SELECT `+keyColumns+` FROM api_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return keys, nil
}

// RevokeKey revokes a key.
func (s *KeyService) RevokeKey(ctx context.Context, id int64, by string) (*vigil.Key, error) {
	if err := ValidateActor("keys", by); err != nil {
		return nil, err
	}
	var k *vigil.Key
	err := s.db.Write(ctx, func(tx Querier) error {
		var err error
		if k, err = unrevokedKey(ctx, tx, id); err != nil {
			return err
		}
		if k.Role == vigil.RoleAdmin {
			var admins int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL`).Scan(&admins); err != nil {
				return err
			}
			if admins <= 1 {
				return vigil.Errorf(vigil.ECONFLICT, "key %d is the last admin key: without it no one could manage keys; create another admin key first", id)
			}
		}
		now := s.db.Now()
		k.RevokedAt, k.RevokedBy = &now, by
		_, err = tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ?, revoked_by = ? WHERE id = ?`,
			FormatTime(now), by, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("revoke key %d: %w", id, err)
	}
	return k, nil
}

// CountKeys returns the number of keys ever created.
func (s *KeyService) CountKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.db.Reader().QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count keys: %w", err)
	}
	return n, nil
}

// SetKeyLimits replaces a key's own lookup limits.
func (s *KeyService) SetKeyLimits(ctx context.Context, id int64, limits *vigil.KeyLimits) (*vigil.Key, error) {
	if limits != nil {
		if err := limits.Validate(); err != nil {
			return nil, err
		}
	}
	stored, err := MarshalLimits(limits)
	if err != nil {
		return nil, fmt.Errorf("set key %d limits: %w", id, err)
	}
	var k *vigil.Key
	err = s.db.Write(ctx, func(tx Querier) error {
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

func scanKey(row Scanner) (*vigil.Key, error) {
	var (
		k                   vigil.Key
		createdAt           string
		lastUsed, revokedAt sql.NullString
		limits              sql.NullString
	)
	if err := row.Scan(&k.ID, &k.Name, &k.Role, &k.Hint, &createdAt, &k.CreatedBy,
		&lastUsed, &revokedAt, &k.RevokedBy, &limits); err != nil {
		return nil, err
	}
	var err error
	if k.Limits, err = UnmarshalLimits(limits); err != nil {
		return nil, fmt.Errorf("key %d limits: %w", k.ID, err)
	}
	if k.CreatedAt, err = ParseTime(createdAt); err != nil {
		return nil, err
	}
	if k.LastUsedAt, err = ParseNullTime(lastUsed); err != nil {
		return nil, err
	}
	if k.RevokedAt, err = ParseNullTime(revokedAt); err != nil {
		return nil, err
	}
	return &k, nil
}

// unrevokedKey reads key id in tx: ENOTFOUND, or ECONFLICT once revoked.
func unrevokedKey(ctx context.Context, tx Querier, id int64) (*vigil.Key, error) {
	k, err := scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "key %d not found", id)
	} else if err != nil {
		return nil, err
	}
	if k.Revoked() {
		return nil, vigil.Errorf(vigil.ECONFLICT, "key %d is revoked", id)
	}
	return k, nil
}
