package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-oss/vigil"
)

// Ensure AuditService implements the interface.
var _ vigil.AuditService = (*AuditService)(nil)

// AuditService keeps the hash-chained audit log.
type AuditService struct {
	db DB
}

// NewAuditService returns an AuditService on db.
func NewAuditService(db DB) *AuditService { return &AuditService{db: db} }

// genesis is the PrevHash of the first record.
const genesis = "0000000000000000000000000000000000000000000000000000000000000000"

const auditColumns = `seq, time, actor, action, target, detail, prev_hash, hash`

// AppendAudit implements vigil.AuditService. The store's writers are one
// queue (SQLite's one writer, PostgreSQL's write lock), so each record links
// to the one before it.
func (s *AuditService) AppendAudit(ctx context.Context, r *vigil.AuditRecord) error {
	// The record is the write: passed explicitly, not as pending on ctx.
	err := s.db.WriteAudited(ctx, r, func(tx Querier) error { return nil })
	if err != nil {
		return fmt.Errorf("append audit record %s %s: %w", r.Action, r.Target, err)
	}
	return nil
}

// AppendAudit stores r as the next record of the chain, in tx.
func AppendAudit(ctx context.Context, tx Querier, now time.Time, r *vigil.AuditRecord) error {
	var seq int64
	prev := genesis
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	// Stored times keep nanoseconds, so the hash verifies after a read.
	if err := r.Seal(seq+1, now, prev); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_log (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Seq, FormatTime(r.Time), r.Actor, r.Action, r.Target, r.Detail, r.PrevHash, r.Hash)
	return err
}

func scanAudit(row Scanner) (*vigil.AuditRecord, error) {
	var r vigil.AuditRecord
	var t string
	if err := row.Scan(&r.Seq, &t, &r.Actor, &r.Action, &r.Target, &r.Detail, &r.PrevHash, &r.Hash); err != nil {
		return nil, err
	}
	var err error
	r.Time, err = ParseTime(t)
	return &r, err
}

// ListAudit implements vigil.AuditService.
func (s *AuditService) ListAudit(ctx context.Context, afterSeq int64, limit int) ([]*vigil.AuditRecord, error) {
	if limit <= 0 || limit > vigil.MaxEntryLimit {
		limit = vigil.MaxEntryLimit
	}
	out, err := QueryAll(ctx, s.db.Reader(), scanAudit, `SELECT `+auditColumns+` FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`, afterSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return out, nil
}

// VerifyAudit implements vigil.AuditService.
func (s *AuditService) VerifyAudit(ctx context.Context) (int64, *vigil.AuditBreak, error) {
	var n int64
	var brk *vigil.AuditBreak
	err := s.db.Read(ctx, func(tx Querier) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_log ORDER BY seq`)
		if err != nil {
			return err
		}
		defer rows.Close()
		prev, want := genesis, int64(1)
		for rows.Next() {
			r, err := scanAudit(rows)
			if err != nil {
				return err
			}
			n++
			switch {
			case r.Seq != want:
				brk = &vigil.AuditBreak{Seq: want, Reason: fmt.Sprintf("record %d is missing (next is %d)", want, r.Seq)}
			case r.PrevHash != prev:
				brk = &vigil.AuditBreak{Seq: r.Seq, Reason: "its prev_hash does not match the hash of the record before"}
			case r.ComputeHash() != r.Hash:
				brk = &vigil.AuditBreak{Seq: r.Seq, Reason: "its contents do not match its hash (changed after it was written)"}
			}
			if brk != nil {
				return nil
			}
			prev, want = r.Hash, r.Seq+1
		}
		return rows.Err()
	})
	if err != nil {
		return n, nil, fmt.Errorf("verify audit log: %w", err)
	}
	return n, brk, nil
}
