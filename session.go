package vigil

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Limits on review UI sessions, which the session store enforces. A
// session ends after SessionIdle without a recorded use or SessionMaxAge
// after login, whichever comes first. The store holds at most MaxSessions
// live sessions (MaxSessionsPerKey for one key), so that logging in in a
// loop cannot grow the table without bound.
const (
	SessionIdle       = 30 * time.Minute
	SessionMaxAge     = 12 * time.Hour
	MaxSessions       = 10000
	MaxSessionsPerKey = 20
	// SessionTouchEvery is how stale a session's recorded last use may
	// get: recording every request would make each page view a write, so
	// a use is recorded only once the last one is this old. A session may
	// thus end up to this much before SessionIdle of real idleness, never
	// after.
	SessionTouchEvery = time.Minute
)

// Limits on failed logins, which the store counts per remote address for
// every replica alike. An address that fails LoginBurst times within
// LoginWindow is refused until the window ends; the store keeps at most
// MaxLoginAddrs addresses (the oldest windows go first).
const (
	LoginBurst    = 5
	LoginWindow   = time.Minute
	MaxLoginAddrs = 10000
	// MaxLoginAddrLen bounds the address a failure is counted under.
	MaxLoginAddrLen = 128
)

// Session is a reviewer's login to the review UI. The store knows it by
// the SHA-256 of its token (ID), never by the token, which only the
// reviewer's cookie holds.
type Session struct {
	ID    string `json:"-"` // hex SHA-256 of the session token
	KeyID int64  `json:"key_id"`
	// Key is the session's API key, read with the session: a revoked key
	// has no live sessions.
	Key *Key `json:"-"`

	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	// ExpiresAt is the absolute end: CreatedAt + SessionMaxAge.
	ExpiresAt time.Time `json:"expires_at"`

	// Decided counts the decisions made in the session; SinceBreak those
	// since the last break, which began at BreakFrom (the break reminder).
	Decided    int       `json:"decided"`
	SinceBreak int       `json:"since_break"`
	BreakFrom  time.Time `json:"break_from"`
}

// SessionService keeps the review UI's sessions and failed-login counts
// in the store, so that every replica behind one database sees the same
// ones and they survive a restart.
type SessionService interface {
	// CreateSession stores s (ID and KeyID set) as a new session, setting
	// its times. It first forgets expired sessions and the key's oldest
	// ones beyond MaxSessionsPerKey-1, then refuses with ECONFLICT when
	// MaxSessions live sessions remain. The audit record pending on ctx
	// (the login) is stored in the same transaction.
	CreateSession(ctx context.Context, s *Session) error

	// FindSession returns the live session with the given ID and its key;
	// ENOTFOUND if there is none, it has expired, or its key is revoked.
	// It records the use when the recorded one is SessionTouchEvery old.
	FindSession(ctx context.Context, id string) (*Session, error)

	// DeleteSession ends one session (logout); an unknown ID is no error.
	DeleteSession(ctx context.Context, id string) error

	// DeleteKeySessions ends every session of a key and returns how many
	// there were.
	DeleteKeySessions(ctx context.Context, keyID int64) (int, error)

	// CountDecision adds one to a session's decision counters.
	CountDecision(ctx context.Context, id string) error

	// TakeBreak restarts a session's break reminder: SinceBreak to zero,
	// BreakFrom to now.
	TakeBreak(ctx context.Context, id string) error

	// LoginAllowed reports whether addr may try to log in now, and if not,
	// how long until it may.
	LoginAllowed(ctx context.Context, addr string) (ok bool, retryAfter time.Duration, err error)

	// LoginFailed counts a failed login from addr (at most
	// MaxLoginAddrLen bytes; longer ones are cut) and prunes windows that
	// have ended.
	LoginFailed(ctx context.Context, addr string) error
}

// SessionID returns the ID a session with the given token is stored
// under: the hex SHA-256 of the token. A 256-bit random token needs no
// slow hash; the store never holds the token itself.
func SessionID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ValidateSessionID checks that id has SessionID's form: 64 lowercase hex
// digits.
func ValidateSessionID(id string) error {
	if len(id) != 2*sha256.Size {
		return Errorf(EINVALID, "a session id is %d hex digits", 2*sha256.Size)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return Errorf(EINVALID, "a session id is lowercase hex")
		}
	}
	return nil
}

// LoginAddr returns addr as failed logins are counted under it: at most
// MaxLoginAddrLen bytes.
func LoginAddr(addr string) string {
	if len(addr) > MaxLoginAddrLen {
		return addr[:MaxLoginAddrLen]
	}
	return addr
}

// LoginWindowAllows reports whether an address that failed failures
// times in the window that began at since may log in at now, and if not,
// how long until it may.
func LoginWindowAllows(since time.Time, failures int, now time.Time) (bool, time.Duration) {
	end := since.Add(LoginWindow)
	if failures < LoginBurst || !now.Before(end) {
		return true, 0
	}
	return false, end.Sub(now)
}
