package sqlite

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// PreservationService implements vigil.PreservationService on SQLite,
// with the SQL of package sqlstore.
type PreservationService struct{ *preservationService }

type preservationService = sqlstore.PreservationService

// NewPreservationService returns a PreservationService on db.
func NewPreservationService(db *DB) *PreservationService {
	return &PreservationService{sqlstore.NewPreservationService(db.shared())}
}

var _ vigil.PreservationService = (*PreservationService)(nil)

// preservedCase is true while preservation keeps the case c: the case SQL
// (case.go) purges only what it does not keep.
const preservedCase = sqlstore.PreservedCase
