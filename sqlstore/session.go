package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
)

// Ensure SessionService implements the interface.
var _ vigil.SessionService = (*SessionService)(nil)

// SessionService stores review UI sessions and failed logins. Only
// CreateSession, which carries the login's audit record and checks the
// caps, is a write of the store; the rest is bookkeeping no one audits,
// made through DB.Unlocked (on PostgreSQL outside the write lock).
type SessionService struct {
	db        DB
	touchWait time.Duration
}

// NewSessionService returns a SessionService on db. touchWait, if more
// than 0, bounds how long recording a session's use may wait; a use not
// recorded is tried again at the next request.
func NewSessionService(db DB, touchWait time.Duration) *SessionService {
	return &SessionService{db: db, touchWait: touchWait}
}

const sessionColumns = `s.id, s.key_id, s.created_at, s.last_seen_at, s.expires_at, s.decided, s.since_break, s.break_from`

// sessionKeyColumns are keyColumns of the api_keys row joined as k.
var sessionKeyColumns = "k." + strings.ReplaceAll(keyColumns, ", ", ", k.")

// CreateSession implements vigil.SessionService.
func (s *SessionService) CreateSession(ctx context.Context, sess *vigil.Session) error {
	if err := vigil.ValidateSessionID(sess.ID); err != nil {
		return err
	}
	now := s.db.Now()
	sess.CreatedAt, sess.LastSeenAt, sess.BreakFrom, sess.ExpiresAt = now, now, now, now.Add(vigil.SessionMaxAge)
	sess.Decided, sess.SinceBreak = 0, 0
	err := s.db.Write(ctx, func(tx Querier) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM ui_sessions WHERE last_seen_at < ? OR expires_at < ?`,
			FormatTime(now.Add(-vigil.SessionIdle)), FormatTime(now)); err != nil {
			return err
		}
		// A key past its own cap loses its oldest sessions, not someone
		// else's: all of its sessions but the newest cap-1 (no OFFSET,
		// which the two dialects spell apart).
		if _, err := tx.ExecContext(ctx, `DELETE FROM ui_sessions WHERE key_id = ? AND id NOT IN (
			SELECT id FROM ui_sessions WHERE key_id = ? ORDER BY created_at DESC, id LIMIT ?)`,
			sess.KeyID, sess.KeyID, vigil.MaxSessionsPerKey-1); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM ui_sessions`).Scan(&n); err != nil {
			return err
		}
		if n >= vigil.MaxSessions {
			return vigil.Errorf(vigil.ECONFLICT, "too many open sessions; try again later")
		}
		var revoked sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM api_keys WHERE id = ?`, sess.KeyID).Scan(&revoked)
		if errors.Is(err, sql.ErrNoRows) || err == nil && revoked.Valid {
			return vigil.Errorf(vigil.EUNAUTHORIZED, "invalid api key")
		} else if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO ui_sessions (id, key_id, created_at, last_seen_at, expires_at, break_from)
			VALUES (?, ?, ?, ?, ?, ?)`, sess.ID, sess.KeyID, FormatTime(now), FormatTime(now), FormatTime(sess.ExpiresAt), FormatTime(now))
		return err
	})
	if err != nil {
		if vigil.ErrorCode(err) != vigil.EINTERNAL {
			return err
		}
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// FindSession implements vigil.SessionService.
func (s *SessionService) FindSession(ctx context.Context, id string) (*vigil.Session, error) {
	if vigil.ValidateSessionID(id) != nil {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "no such session")
	}
	now := s.db.Now()
	sess, err := scanSession(s.db.Reader().QueryRowContext(ctx, `SELECT `+sessionColumns+`, `+sessionKeyColumns+`
		FROM ui_sessions s JOIN api_keys k ON k.id = s.key_id
		WHERE s.id = ? AND s.last_seen_at >= ? AND s.expires_at >= ? AND k.revoked_at IS NULL`,
		id, FormatTime(now.Add(-vigil.SessionIdle)), FormatTime(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "no such session")
	} else if err != nil {
		return nil, fmt.Errorf("find session: %w", err)
	}
	if now.Sub(sess.LastSeenAt) >= vigil.SessionTouchEvery {
		wctx := ctx
		if s.touchWait > 0 {
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(ctx, s.touchWait)
			defer cancel()
		}
		if _, err := s.exec(wctx, `UPDATE ui_sessions SET last_seen_at = ? WHERE id = ?`, FormatTime(now), id); err != nil {
			// The next request tries again.
			s.db.Logger().Debug("session use not recorded", "err", err)
		} else {
			sess.LastSeenAt = now
		}
	}
	return sess, nil
}

// DeleteSession implements vigil.SessionService.
func (s *SessionService) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.exec(ctx, `DELETE FROM ui_sessions WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteKeySessions implements vigil.SessionService.
func (s *SessionService) DeleteKeySessions(ctx context.Context, keyID int64) (int, error) {
	n, err := s.exec(ctx, `DELETE FROM ui_sessions WHERE key_id = ?`, keyID)
	if err != nil {
		return 0, fmt.Errorf("delete sessions of key %d: %w", keyID, err)
	}
	return int(n), nil
}

// CountDecision implements vigil.SessionService.
func (s *SessionService) CountDecision(ctx context.Context, id string) error {
	if _, err := s.exec(ctx, `UPDATE ui_sessions SET decided = decided + 1, since_break = since_break + 1 WHERE id = ?`, id); err != nil {
		return fmt.Errorf("count decision: %w", err)
	}
	return nil
}

// TakeBreak implements vigil.SessionService.
func (s *SessionService) TakeBreak(ctx context.Context, id string) error {
	if _, err := s.exec(ctx, `UPDATE ui_sessions SET since_break = 0, break_from = ? WHERE id = ?`, FormatTime(s.db.Now()), id); err != nil {
		return fmt.Errorf("take break: %w", err)
	}
	return nil
}

// LoginAllowed implements vigil.SessionService.
func (s *SessionService) LoginAllowed(ctx context.Context, addr string) (bool, time.Duration, error) {
	var since string
	var failures int
	err := s.db.Reader().QueryRowContext(ctx, `SELECT since, failures FROM login_failures WHERE addr = ?`, vigil.LoginAddr(addr)).Scan(&since, &failures)
	if errors.Is(err, sql.ErrNoRows) {
		return true, 0, nil
	} else if err != nil {
		return false, 0, fmt.Errorf("login allowed: %w", err)
	}
	t, err := ParseTime(since)
	if err != nil {
		return false, 0, fmt.Errorf("login allowed: %w", err)
	}
	ok, wait := vigil.LoginWindowAllows(t, failures, s.db.Now())
	return ok, wait, nil
}

// LoginFailed implements vigil.SessionService.
func (s *SessionService) LoginFailed(ctx context.Context, addr string) error {
	now := s.db.Now()
	cutoff := FormatTime(now.Add(-vigil.LoginWindow))
	// On SQLite one transaction of the one writer; on PostgreSQL each
	// statement alone is atomic, so two replicas counting failures of one
	// address at once add up, and pruning twice at once deletes once.
	err := s.db.Unlocked(ctx, func(q Querier) error {
		// A window that has ended starts again at this failure.
		if _, err := q.ExecContext(ctx, `INSERT INTO login_failures (addr, since, failures) VALUES (?, ?, 1)
			ON CONFLICT (addr) DO UPDATE SET
				failures = CASE WHEN login_failures.since <= ? THEN 1 ELSE login_failures.failures + 1 END,
				since = CASE WHEN login_failures.since <= ? THEN excluded.since ELSE login_failures.since END`,
			vigil.LoginAddr(addr), FormatTime(now), cutoff, cutoff); err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM login_failures WHERE since <= ?`, cutoff); err != nil {
			return err
		}
		var n int
		if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM login_failures`).Scan(&n); err != nil {
			return err
		}
		if n > vigil.MaxLoginAddrs {
			_, err := q.ExecContext(ctx, `DELETE FROM login_failures WHERE addr IN (
				SELECT addr FROM login_failures ORDER BY since, addr LIMIT ?)`, n-vigil.MaxLoginAddrs)
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("count failed login: %w", err)
	}
	return nil
}

// exec runs one write statement through DB.Unlocked (the session's own
// bookkeeping, not a change anyone audits) and returns the rows it
// changed.
func (s *SessionService) exec(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := s.db.Unlocked(ctx, func(q Querier) error {
		res, err := q.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// prefixScanner scans the first len(pre) columns into pre and the rest
// into what Scan is given, so that scanKey reads the key columns of a row
// that starts with others.
type prefixScanner struct {
	row Scanner
	pre []any
}

func (p prefixScanner) Scan(dest ...any) error { return p.row.Scan(append(p.pre, dest...)...) }

func scanSession(row Scanner) (*vigil.Session, error) {
	var (
		sess                              vigil.Session
		created, seen, expires, breakFrom string
	)
	k, err := scanKey(prefixScanner{row, []any{&sess.ID, &sess.KeyID, &created, &seen, &expires, &sess.Decided, &sess.SinceBreak, &breakFrom}})
	if err != nil {
		return nil, err
	}
	sess.Key = k
	for _, f := range []struct {
		s string
		t *time.Time
	}{{created, &sess.CreatedAt}, {seen, &sess.LastSeenAt}, {expires, &sess.ExpiresAt}, {breakFrom, &sess.BreakFrom}} {
		if *f.t, err = ParseTime(f.s); err != nil {
			return nil, err
		}
	}
	return &sess, nil
}
