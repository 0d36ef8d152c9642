package sqlite

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// IncidentService implements vigil.IncidentService on SQLite,
// with the SQL of package sqlstore.
type IncidentService struct{ *incidentService }

type incidentService = sqlstore.IncidentService

// NewIncidentService returns an IncidentService on db.
func NewIncidentService(db *DB) *IncidentService {
	return &IncidentService{sqlstore.NewIncidentService(db.shared())}
}

var _ vigil.IncidentService = (*IncidentService)(nil)
