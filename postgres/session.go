package postgres

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

// SessionService stores review UI sessions and failed logins in
// PostgreSQL. Only CreateSession, which carries the login's audit record
// and checks the caps, takes the store's write lock; the rest are single
// statements on rows no other write touches, made outside it, so that a
// bulk import holding the lock does not stall the reviewers' pages.
type SessionService struct {
	db *DB
}

// NewSessionService returns a SessionService on db.
func NewSessionService(db *DB) *SessionService {
	return &SessionService{db: db}
}

const sessionColumns = `s.id, s.key_id, s.created_at, s.last_seen_at, s.expires_at, s.decided, s.since_break, s.break_from`

// sessionKeyColumns are keyColumns of the api_keys row joined as k.
var sessionKeyColumns = "k." + strings.ReplaceAll(keyColumns, ", ", ", k.")

// CreateSession implements vigil.SessionService.
func (s *SessionService) CreateSession(ctx context.Context, sess *vigil.Session) error {
	if err := vigil.ValidateSessionID(sess.ID); err != nil {
		return err
	}
	now := s.db.now()
	sess.CreatedAt, sess.LastSeenAt, sess.BreakFrom, sess.ExpiresAt = now, now, now, now.Add(vigil.SessionMaxAge)
	sess.Decided, sess.SinceBreak = 0, 0
	err := s.db.write(ctx, func(tx *pgTx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM ui_sessions WHERE last_seen_at < ? OR expires_at < ?`,
			formatTime(now.Add(-vigil.SessionIdle)), formatTime(now)); err != nil {
			return err
		}
		// A key past its own cap loses its oldest sessions, not someone
		// else's.
		if _, err := tx.ExecContext(ctx, `DELETE FROM ui_sessions WHERE id IN (
			SELECT id FROM ui_sessions WHERE key_id = ? ORDER BY created_at DESC, id OFFSET ?)`,
			sess.KeyID, vigil.MaxSessionsPerKey-1); err != nil {
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
			VALUES (?, ?, ?, ?, ?, ?)`, sess.ID, sess.KeyID, formatTime(now), formatTime(now), formatTime(sess.ExpiresAt), formatTime(now))
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
	now := s.db.now()
	sess, err := scanSession(s.db.rdb.QueryRowContext(ctx, `SELECT `+sessionColumns+`, `+sessionKeyColumns+`
		FROM ui_sessions s JOIN api_keys k ON k.id = s.key_id
		WHERE s.id = ? AND s.last_seen_at >= ? AND s.expires_at >= ? AND k.revoked_at IS NULL`,
		id, formatTime(now.Add(-vigil.SessionIdle)), formatTime(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "no such session")
	} else if err != nil {
		return nil, fmt.Errorf("find session: %w", err)
	}
	if now.Sub(sess.LastSeenAt) >= vigil.SessionTouchEvery {
		if _, err := s.db.wdb.ExecContext(ctx, `UPDATE ui_sessions SET last_seen_at = ? WHERE id = ?`, formatTime(now), id); err != nil {
			// The next request tries again.
			s.db.logger.Debug("session use not recorded", "err", err)
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
	if _, err := s.exec(ctx, `UPDATE ui_sessions SET since_break = 0, break_from = ? WHERE id = ?`, formatTime(s.db.now()), id); err != nil {
		return fmt.Errorf("take break: %w", err)
	}
	return nil
}

// LoginAllowed implements vigil.SessionService.
func (s *SessionService) LoginAllowed(ctx context.Context, addr string) (bool, time.Duration, error) {
	var since string
	var failures int
	err := s.db.rdb.QueryRowContext(ctx, `SELECT since, failures FROM login_failures WHERE addr = ?`, vigil.LoginAddr(addr)).Scan(&since, &failures)
	if errors.Is(err, sql.ErrNoRows) {
		return true, 0, nil
	} else if err != nil {
		return false, 0, fmt.Errorf("login allowed: %w", err)
	}
	t, err := parseTime(since)
	if err != nil {
		return false, 0, fmt.Errorf("login allowed: %w", err)
	}
	ok, wait := vigil.LoginWindowAllows(t, failures, s.db.now())
	return ok, wait, nil
}

// LoginFailed implements vigil.SessionService.
func (s *SessionService) LoginFailed(ctx context.Context, addr string) error {
	now := s.db.now()
	cutoff := formatTime(now.Add(-vigil.LoginWindow))
	// Each statement alone is atomic, so two replicas counting failures of
	// one address at once add up; pruning twice at once deletes once.
	_, err := s.db.wdb.ExecContext(ctx, `INSERT INTO login_failures (addr, since, failures) VALUES (?, ?, 1)
		ON CONFLICT (addr) DO UPDATE SET
			failures = CASE WHEN login_failures.since <= ? THEN 1 ELSE login_failures.failures + 1 END,
			since = CASE WHEN login_failures.since <= ? THEN excluded.since ELSE login_failures.since END`,
		vigil.LoginAddr(addr), formatTime(now), cutoff, cutoff)
	if err == nil {
		_, err = s.db.wdb.ExecContext(ctx, `DELETE FROM login_failures WHERE since <= ?`, cutoff)
	}
	var n int
	if err == nil {
		err = s.db.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM login_failures`).Scan(&n)
	}
	if err == nil && n > vigil.MaxLoginAddrs {
		_, err = s.db.wdb.ExecContext(ctx, `DELETE FROM login_failures WHERE addr IN (
			SELECT addr FROM login_failures ORDER BY since, addr LIMIT ?)`, n-vigil.MaxLoginAddrs)
	}
	if err != nil {
		return fmt.Errorf("count failed login: %w", err)
	}
	return nil
}

// exec runs one write statement outside the write lock (the session's
// own bookkeeping, not a change anyone audits) and returns the rows it
// changed.
func (s *SessionService) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.db.wdb.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// prefixScanner scans the first len(pre) columns into pre and the rest
// into what Scan is given, so that scanKey reads the key columns of a row
// that starts with others.
type prefixScanner struct {
	row scanner
	pre []any
}

func (p prefixScanner) Scan(dest ...any) error { return p.row.Scan(append(p.pre, dest...)...) }

func scanSession(row scanner) (*vigil.Session, error) {
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
		if *f.t, err = parseTime(f.s); err != nil {
			return nil, err
		}
	}
	return &sess, nil
}
