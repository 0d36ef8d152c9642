package postgres

import (
	"context"
	"fmt"

	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// ComplaintService implements vigil.ComplaintService on PostgreSQL,
// with the SQL of package sqlstore; deciding a complaint counts through
// the CaseService's own decision counting.
type ComplaintService struct{ *complaintService }

type complaintService = sqlstore.ComplaintService

// NewComplaintService returns the complaint store of db, counting upheld
// complaints through cases (whose quarantine policy applies).
func NewComplaintService(db *DB, cases *CaseService) *ComplaintService {
	return &ComplaintService{sqlstore.NewComplaintService(db.shared(), verdictCounter{cases})}
}

var _ vigil.ComplaintService = (*ComplaintService)(nil)

// verdictCounter is the CaseService's decision counting as package
// sqlstore's complaints call it.
type verdictCounter struct{ cases *CaseService }

func (v verdictCounter) CountVerdict(ctx context.Context, tx sqlstore.Querier, id int64, verdict vigil.Verdict, delta int, now time.Time) (func(context.Context), error) {
	// Write hands its functions this store's transactions, the only ones
	// a write has.
	t, ok := tx.(*pgTx)
	if !ok {
		return nil, fmt.Errorf("count verdict: %T is not a write transaction of this store", tx)
	}
	qs, err := v.cases.countVerdict(ctx, t, id, verdict, delta, now)
	return func(ctx context.Context) { v.cases.notify(ctx, qs) }, err
}
