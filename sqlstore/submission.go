package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vigil-oss/vigil"
)

// Ensure SubmissionService implements the interface.
var _ vigil.SubmissionService = (*SubmissionService)(nil)

// SubmissionService stores submissions.
type SubmissionService struct {
	db DB
}

// NewSubmissionService returns a SubmissionService on db.
func NewSubmissionService(db DB) *SubmissionService { return &SubmissionService{db: db} }

// CreateSubmission starts a submission of an approved incident.
func (s *SubmissionService) CreateSubmission(ctx context.Context, sub *vigil.Submission) error {
	if err := ValidateActor("submissions", sub.CreatedBy); err != nil {
		return err
	}
	if sub.Destination == "" || !vigil.Printable(sub.Destination) || len(sub.Destination) > vigil.MaxEntryFieldLen {
		return vigil.Errorf(vigil.EINVALID, "a submission needs a destination")
	}
	now := s.db.Now()
	in := *sub
	in.State, in.CreatedAt, in.UpdatedAt = vigil.SubmissionPending, now, now
	err := s.db.Write(ctx, func(tx Querier) error {
		inc, err := findIncident(ctx, tx, in.IncidentID)
		if err != nil {
			return err
		}
		if inc.PurgedAt != nil {
			return vigil.Errorf(vigil.ECONFLICT, "incident %d was purged when its retention ended: nothing is left to send", inc.ID)
		}
		if inc.State != vigil.IncidentApproved {
			return vigil.Errorf(vigil.ECONFLICT, "incident %d is %s: only an approved incident is sent", inc.ID, inc.State)
		}
		var other int64
		switch err := tx.QueryRowContext(ctx, `SELECT id FROM submissions WHERE incident_id = ? AND destination = ? AND state <> 'failed'`,
			in.IncidentID, in.Destination).Scan(&other); {
		case err == nil:
			return vigil.Errorf(vigil.ECONFLICT, "incident %d is already being sent to %s (submission %d)", in.IncidentID, in.Destination, other)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		body, err := json.Marshal(&in)
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO submissions (incident_id, destination, state, body, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, in.IncidentID, in.Destination, in.State, string(body), FormatTime(now), FormatTime(now)).Scan(&in.ID); err != nil {
			return err
		}
		sub.ID = in.ID // for the audit record, written next in this transaction
		return nil
	})
	if err != nil {
		sub.ID = 0
		return fmt.Errorf("create submission: %w", err)
	}
	*sub = in
	return nil
}

func scanSubmission(row Scanner) (*vigil.Submission, error) {
	var (
		id   int64
		body string
		sub  vigil.Submission
	)
	if err := row.Scan(&id, &body); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(body), &sub); err != nil {
		return nil, fmt.Errorf("submission %d body: %w", id, err)
	}
	sub.ID = id
	return &sub, nil
}

func findSubmission(ctx context.Context, q Querier, id int64) (*vigil.Submission, error) {
	sub, err := scanSubmission(q.QueryRowContext(ctx, `SELECT id, body FROM submissions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "submission %d not found", id)
	}
	return sub, err
}

// FindSubmission returns a submission.
func (s *SubmissionService) FindSubmission(ctx context.Context, id int64) (*vigil.Submission, error) {
	sub, err := findSubmission(ctx, s.db.Reader(), id)
	if err != nil {
		return nil, fmt.Errorf("find submission %d: %w", id, err)
	}
	return sub, nil
}

// IncidentSubmissions returns an incident's submissions in id order.
func (s *SubmissionService) IncidentSubmissions(ctx context.Context, incidentID int64) ([]*vigil.Submission, error) {
	out, err := QueryAll(ctx, s.db.Reader(), scanSubmission, `SELECT id, body FROM submissions WHERE incident_id = ? ORDER BY id`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("list submissions of incident %d: %w", incidentID, err)
	}
	return out, nil
}

// UpdateSubmission changes a submission in one transaction.
func (s *SubmissionService) UpdateSubmission(ctx context.Context, id int64, fn func(sub *vigil.Submission) error) (*vigil.Submission, error) {
	var out *vigil.Submission
	err := s.db.Write(ctx, func(tx Querier) error {
		sub, err := findSubmission(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := fn(sub); err != nil {
			return err
		}
		if len(sub.Attempts) > vigil.MaxSubmissionAttempts {
			// Keep the first (how it began) and the latest attempts.
			sub.Attempts = append(sub.Attempts[:1], sub.Attempts[len(sub.Attempts)-vigil.MaxSubmissionAttempts+1:]...)
		}
		sub.ID = id
		sub.UpdatedAt = s.db.Now()
		body, err := json.Marshal(sub)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE submissions SET state = ?, body = ?, updated_at = ? WHERE id = ?`,
			sub.State, string(body), FormatTime(sub.UpdatedAt), id); err != nil {
			return err
		}
		out = sub
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update submission %d: %w", id, err)
	}
	return out, nil
}
