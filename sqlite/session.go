package sqlite

import (
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// touchWait bounds how long recording a session's use waits for the
// writer: a bulk import holds it, and a page view must not wait for that.
// A use not recorded is tried again at the next request.
const touchWait = time.Second

// SessionService stores review UI sessions and failed logins in SQLite,
// with the SQL of package sqlstore. Its bookkeeping (a session's use, its
// end, failed logins) goes through the one writer with no audit record.
type SessionService struct{ *sessionService }

type sessionService = sqlstore.SessionService

// NewSessionService returns a SessionService on db.
func NewSessionService(db *DB) *SessionService {
	return &SessionService{sqlstore.NewSessionService(db.shared(), touchWait)}
}

var _ vigil.SessionService = (*SessionService)(nil)
