package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-oss/vigil"
)

// ComplaintService stores users' complaints about decisions; deciding one
// counts through the case store's own decision counting.
type ComplaintService struct {
	db     DB
	counts VerdictCounter
}

// VerdictCounter is a case store's decision counting, which an upheld
// complaint goes through to move a confirmation to a false positive.
type VerdictCounter interface {
	// CountVerdict counts verdict (confirmed or false positive) on case id
	// with delta (1, or -1 to take a confirmation back) inside tx, a
	// transaction of the store's Write, and returns what to run once tx
	// has committed (telling of the entries it quarantined; nil with an
	// error).
	CountVerdict(ctx context.Context, tx Querier, id int64, verdict vigil.Verdict, delta int, now time.Time) (func(context.Context), error)
}

// NewComplaintService returns the complaint store of db, counting upheld
// complaints through counts (whose quarantine policy applies).
func NewComplaintService(db DB, counts VerdictCounter) *ComplaintService {
	return &ComplaintService{db: db, counts: counts}
}

var _ vigil.ComplaintService = (*ComplaintService)(nil)

const complaintColumns = `k.id, k.case_id, k.reference, k.user_id, k.body, k.state, k.reasons, k.created_by, k.created_at,
	COALESCE(k.decided_by, ''), k.decided_at, COALESCE(c.decision, '')`

const complaintFrom = ` FROM complaints k JOIN cases c ON c.id = k.case_id `

func scanComplaint(row Scanner) (*vigil.Complaint, error) {
	var k vigil.Complaint
	var created, decision string
	var decided sql.NullString
	if err := row.Scan(&k.ID, &k.CaseID, &k.Reference, &k.UserID, &k.Text, &k.State, &k.Reasons, &k.CreatedBy, &created,
		&k.DecidedBy, &decided, &decision); err != nil {
		return nil, err
	}
	var err error
	if k.CreatedAt, err = ParseTime(created); err != nil {
		return nil, err
	}
	if k.DecidedAt, err = ParseNullTime(decided); err != nil {
		return nil, err
	}
	if decision != "" {
		var d vigil.Decision
		if err := json.Unmarshal([]byte(decision), &d); err != nil {
			return nil, fmt.Errorf("complaint %d: case decision: %w", k.ID, err)
		}
		k.OriginalDecider = d.DecidedBy
	}
	return &k, nil
}

// CreateComplaint stores an open complaint about a confirmed case.
func (s *ComplaintService) CreateComplaint(ctx context.Context, k *vigil.Complaint, actor string) error {
	if err := ValidateActor("complaints", actor); err != nil {
		return err
	}
	if err := k.Validate(); err != nil {
		return err
	}
	now := s.db.Now()
	ts := FormatTime(now)
	err := s.db.Write(ctx, func(tx Querier) error {
		var verdict sql.NullString
		var decision sql.NullString
		var auto bool
		err := tx.QueryRowContext(ctx, `SELECT review_verdict, decision, EXISTS (SELECT 1 FROM auto_actions a WHERE a.case_id = cases.id)
			FROM cases WHERE id = ?`, k.CaseID).Scan(&verdict, &decision, &auto)
		if errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "case %d not found", k.CaseID)
		} else if err != nil {
			return err
		}
		// An action is a confirmation or an automatic action, decided or
		// not by a reviewer since.
		if verdict.String != string(vigil.VerdictConfirmed) && !auto {
			return vigil.Errorf(vigil.ECONFLICT, "case %d was not decided confirmed and had no automatic action: there is no action to complain about", k.CaseID)
		}
		var open int64
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM complaints WHERE case_id = ? AND state = 'open'`, k.CaseID).Scan(&open); err != nil {
			return err
		}
		if open > 0 {
			return vigil.Errorf(vigil.ECONFLICT, "case %d has an open complaint already", k.CaseID)
		}
		if err := tx.QueryRowContext(ctx, `
			INSERT INTO complaints (case_id, reference, user_id, body, state, created_by, created_at)
			VALUES (?, ?, ?, ?, 'open', ?, ?) RETURNING id`,
			k.CaseID, k.Reference, k.UserID, k.Text, actor, ts).Scan(&k.ID); err != nil {
			return err
		}
		if decision.Valid {
			var d vigil.Decision
			if err := json.Unmarshal([]byte(decision.String), &d); err == nil {
				k.OriginalDecider = d.DecidedBy
			}
		}
		return AddCaseEvent(ctx, tx, k.CaseID, ts, actor, vigil.CaseEventComplaint, fmt.Sprintf("complaint %d", k.ID))
	})
	if err != nil {
		return fmt.Errorf("create complaint: %w", err)
	}
	k.State, k.CreatedBy, k.CreatedAt = vigil.ComplaintOpen, actor, now
	return nil
}

// FindComplaint returns a complaint; ENOTFOUND if there is none.
func (s *ComplaintService) FindComplaint(ctx context.Context, id int64) (*vigil.Complaint, error) {
	k, err := findComplaint(ctx, s.db.Reader(), id)
	if err != nil {
		return nil, fmt.Errorf("find complaint %d: %w", id, err)
	}
	return k, nil
}

func findComplaint(ctx context.Context, q Querier, id int64) (*vigil.Complaint, error) {
	k, err := scanComplaint(q.QueryRowContext(ctx, `SELECT `+complaintColumns+complaintFrom+`WHERE k.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "complaint %d not found", id)
	}
	return k, err
}

// ListComplaints returns complaints in id order.
func (s *ComplaintService) ListComplaints(ctx context.Context, f vigil.ComplaintFilter) ([]*vigil.Complaint, error) {
	query, args := `SELECT `+complaintColumns+complaintFrom+`WHERE k.id > ?`, []any{f.AfterID}
	if f.State != "" {
		query, args = query+` AND k.state = ?`, append(args, string(f.State))
	}
	if f.CaseID != 0 {
		query, args = query+` AND k.case_id = ?`, append(args, f.CaseID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = vigil.DefaultCaseLimit
	}
	ks, err := QueryAll(ctx, s.db.Reader(), scanComplaint, query+` ORDER BY k.id LIMIT ?`, append(args, min(limit, vigil.MaxCaseLimit))...)
	if err != nil {
		return nil, fmt.Errorf("list complaints: %w", err)
	}
	return ks, nil
}

// DecideComplaint records a complaint's outcome; upheld, the case's
// confirmation is counted again as a false positive.
func (s *ComplaintService) DecideComplaint(ctx context.Context, id int64, d vigil.ComplaintDecision) (*vigil.Complaint, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	now := s.db.Now()
	ts := FormatTime(now)
	var k *vigil.Complaint
	var notify func(context.Context)
	err := s.db.Write(ctx, func(tx Querier) error {
		notify = nil
		var err error
		if k, err = findComplaint(ctx, tx, id); err != nil {
			return err
		}
		if k.State != vigil.ComplaintOpen {
			return vigil.Errorf(vigil.ECONFLICT, "complaint %d is already %s", id, k.State)
		}
		if vigil.SameReviewer(d.DecidedBy, k.OriginalDecider) {
			return vigil.Errorf(vigil.EFORBIDDEN, "complaint %d is about a decision by %s: another reviewer must decide it", id, vigil.ReviewerName(k.OriginalDecider))
		}
		state := vigil.ComplaintRejected
		if d.Upheld {
			state = vigil.ComplaintUpheld
		}
		if _, err := tx.ExecContext(ctx, `UPDATE complaints SET state = ?, reasons = ?, decided_by = ?, decided_at = ? WHERE id = ?`,
			string(state), d.Reasons, d.DecidedBy, ts, id); err != nil {
			return err
		}
		if err := AddCaseEvent(ctx, tx, k.CaseID, ts, d.DecidedBy, vigil.CaseEventComplaintDecided,
			fmt.Sprintf("complaint %d %s: %s", id, state, d.Reasons)); err != nil {
			return err
		}
		if !d.Upheld {
			k.State, k.Reasons, k.DecidedBy, k.DecidedAt = state, d.Reasons, d.DecidedBy, &now
			return nil
		}
		// A reversed action gets a reversal, not a notice.
		if _, err := tx.ExecContext(ctx, `UPDATE auto_actions SET notice_due = NULL WHERE case_id = ?`, k.CaseID); err != nil {
			return err
		}
		// The confirmation was wrong: the case counts as a false positive
		// where it counted as confirmed, through the decision's counting.
		res, err := tx.ExecContext(ctx, `UPDATE cases SET review_verdict = ?, notice_due = NULL, updated_at = ? WHERE id = ? AND review_verdict = ?`,
			string(vigil.VerdictFalsePositive), ts, k.CaseID, string(vigil.VerdictConfirmed))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			// No confirmation stands. An automatic action that no reviewer
			// confirmed is reversed all the same; there is no verdict to
			// move, and the case's own review counts when it is decided.
			var auto bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM auto_actions WHERE case_id = ?)`, k.CaseID).Scan(&auto); err != nil {
				return err
			}
			if !auto {
				return vigil.Errorf(vigil.ECONFLICT, "case %d no longer stands confirmed", k.CaseID)
			}
			k.State, k.Reasons, k.DecidedBy, k.DecidedAt = state, d.Reasons, d.DecidedBy, &now
			return nil
		}
		if _, err := s.counts.CountVerdict(ctx, tx, k.CaseID, vigil.VerdictConfirmed, -1, now); err != nil {
			return err
		}
		if notify, err = s.counts.CountVerdict(ctx, tx, k.CaseID, vigil.VerdictFalsePositive, 1, now); err != nil {
			return err
		}
		k.State, k.Reasons, k.DecidedBy, k.DecidedAt = state, d.Reasons, d.DecidedBy, &now
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("decide complaint %d: %w", id, err)
	}
	if notify != nil {
		notify(ctx)
	}
	return k, nil
}
