package sqlite

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// PHMService implements vigil.PHMService on SQLite,
// with the SQL of package sqlstore.
type PHMService struct{ *phmService }

type phmService = sqlstore.PHMService

// NewPHMService returns a PHMService on db.
func NewPHMService(db *DB) *PHMService {
	return &PHMService{sqlstore.NewPHMService(db.shared())}
}

var _ vigil.PHMService = (*PHMService)(nil)
