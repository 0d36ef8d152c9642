package postgres

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// Ensure LookupCounter implements the interface.
var _ vigil.LookupCounter = (*LookupCounter)(nil)

// LookupCounter implements vigil.LookupCounter on PostgreSQL,
// with the SQL of package sqlstore.
type LookupCounter struct{ *lookupCounter }

type lookupCounter = sqlstore.LookupCounter

// NewLookupCounter returns a LookupCounter on db.
func NewLookupCounter(db *DB) *LookupCounter {
	return &LookupCounter{sqlstore.NewLookupCounter(db.shared())}
}
