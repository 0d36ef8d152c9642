package sqlite

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// TransparencyService computes the transparency figures with aggregate
// queries and keeps the items-checked counters, with the SQL of package
// sqlstore.
type TransparencyService struct{ *transparencyService }

type transparencyService = sqlstore.TransparencyService

// NewTransparencyService returns the transparency figures of db.
func NewTransparencyService(db *DB) *TransparencyService {
	return &TransparencyService{sqlstore.NewTransparencyService(db.shared())}
}

var _ vigil.TransparencyService = (*TransparencyService)(nil)

// secondsBetween is SQLite's duration in seconds between two stored
// times, to the millisecond: julianday's double holds days, whose last
// bits are noise at the scale of microseconds.
func secondsBetween(later, earlier string) string {
	return `(ROUND((julianday(` + later + `) - julianday(` + earlier + `)) * 86400000.0) / 1000.0)`
}
