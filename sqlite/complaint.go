package sqlite

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// ComplaintService implements vigil.ComplaintService on SQLite,
// with the SQL of package sqlstore; deciding a complaint counts through
// the CaseService's own decision counting.
type ComplaintService struct{ *complaintService }

type complaintService = sqlstore.ComplaintService

// NewComplaintService returns the complaint store of db, counting upheld
// complaints through cases (whose quarantine policy applies).
func NewComplaintService(db *DB, cases *CaseService) *ComplaintService {
	return &ComplaintService{sqlstore.NewComplaintService(db.shared(), cases.caseService)}
}

var _ vigil.ComplaintService = (*ComplaintService)(nil)
