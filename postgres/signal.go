package postgres

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// SignalStore implements vigil.SignalStore on PostgreSQL,
// with the SQL of package sqlstore.
type SignalStore struct{ *signalStore }

type signalStore = sqlstore.SignalStore

// NewSignalStore returns a SignalStore on db.
func NewSignalStore(db *DB) *SignalStore { return &SignalStore{sqlstore.NewSignalStore(db.shared())} }

var _ vigil.SignalStore = (*SignalStore)(nil)
