package sqlite

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// CentreService implements vigil.CentreService on SQLite,
// with the SQL of package sqlstore.
type CentreService struct{ *centreService }

type centreService = sqlstore.CentreService

// NewCentreService returns a CentreService on db.
func NewCentreService(db *DB) *CentreService {
	return &CentreService{sqlstore.NewCentreService(db.shared())}
}

var _ vigil.CentreService = (*CentreService)(nil)
