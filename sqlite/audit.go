package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// AuditService implements vigil.AuditService on SQLite,
// with the SQL of package sqlstore.
type AuditService struct{ *auditService }

type auditService = sqlstore.AuditService

// NewAuditService returns an AuditService on db.
func NewAuditService(db *DB) *AuditService {
	return &AuditService{sqlstore.NewAuditService(db.shared())}
}

var _ vigil.AuditService = (*AuditService)(nil)

// appendAudit stores r as the next record of the chain, in tx.
func appendAudit(ctx context.Context, tx *sql.Tx, now time.Time, r *vigil.AuditRecord) error {
	return sqlstore.AppendAudit(ctx, tx, now, r)
}
