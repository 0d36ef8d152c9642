package postgres

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
