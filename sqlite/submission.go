package sqlite

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// SubmissionService implements vigil.SubmissionService on SQLite,
// with the SQL of package sqlstore.
type SubmissionService struct{ *submissionService }

type submissionService = sqlstore.SubmissionService

// NewSubmissionService returns a SubmissionService on db.
func NewSubmissionService(db *DB) *SubmissionService {
	return &SubmissionService{sqlstore.NewSubmissionService(db.shared())}
}

var _ vigil.SubmissionService = (*SubmissionService)(nil)
