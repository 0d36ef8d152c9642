package postgres

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// SessionService stores review UI sessions and failed logins in
// PostgreSQL, with the SQL of package sqlstore. Only CreateSession, which
// carries the login's audit record and checks the caps, takes the store's
// write lock; the rest are single statements on rows no other write
// touches, made outside it, so that a bulk import holding the lock does
// not stall the reviewers' pages (recording a session's use waits as long
// as the request's context allows).
type SessionService struct{ *sessionService }

type sessionService = sqlstore.SessionService

// NewSessionService returns a SessionService on db.
func NewSessionService(db *DB) *SessionService {
	return &SessionService{sqlstore.NewSessionService(db.shared(), 0)}
}

var _ vigil.SessionService = (*SessionService)(nil)
