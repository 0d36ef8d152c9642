package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/vigil-oss/vigil"
)

// Ensure IncidentService implements the interface.
var _ vigil.IncidentService = (*IncidentService)(nil)

// IncidentService stores incidents and account facts.
type IncidentService struct {
	db DB
}

// NewIncidentService returns an IncidentService on db.
func NewIncidentService(db DB) *IncidentService { return &IncidentService{db: db} }

// CreateIncident stores inc as a draft, after checking in the same
// transaction that its cases are confirmed and reported nowhere else: two
// curators building incidents from one case at once get one incident and
// one ECONFLICT.
func (s *IncidentService) CreateIncident(ctx context.Context, inc *vigil.Incident, actor string) error {
	if err := ValidateActor("incidents", actor); err != nil {
		return err
	}
	if err := inc.Validate(); err != nil {
		return err
	}
	now := s.db.Now()
	in := *inc
	in.State, in.CreatedBy, in.CreatedAt, in.UpdatedAt = vigil.IncidentDraft, actor, now, now
	in.ApprovedBy, in.ApprovedAt = "", nil
	err := s.db.Write(ctx, func(tx Querier) error {
		for _, id := range in.CaseIDs {
			c, err := FindCase(ctx, tx, id)
			if err != nil {
				return err
			}
			if c.Decision == nil || c.Decision.Verdict != vigil.VerdictConfirmed || c.State != vigil.CaseDecided {
				return vigil.Errorf(vigil.ECONFLICT, "case %d is not confirmed", id)
			}
			var other int64
			switch err := tx.QueryRowContext(ctx, `SELECT incident_id FROM incident_cases WHERE case_id = ?`, id).Scan(&other); {
			case err == nil:
				return vigil.Errorf(vigil.ECONFLICT, "case %d is already in incident %d", id, other)
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		body, err := json.Marshal(&in)
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `
			INSERT INTO incidents (state, reported_user, body, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			in.State, in.ReportedUser, string(body), actor, FormatTime(now), FormatTime(now)).Scan(&in.ID); err != nil {
			return err
		}
		// The audit record, written after this in the transaction, names
		// the new incident (vigil.AuditRecord.Complete).
		inc.ID = in.ID
		for _, id := range in.CaseIDs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO incident_cases (case_id, incident_id) VALUES (?, ?)`, id, in.ID); err != nil {
				return err
			}
		}
		return setIncidentUsers(ctx, tx, &in)
	})
	if err != nil {
		inc.ID = 0
		return fmt.Errorf("create incident: %w", err)
	}
	*inc = in
	return nil
}

// setIncidentUsers makes incident_users hold the users inc names, in the
// transaction that writes inc's body, so that the purge's question
// (does another incident still kept name this user?) is one query.
func setIncidentUsers(ctx context.Context, tx Querier, inc *vigil.Incident) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM incident_users WHERE incident_id = ?`, inc.ID); err != nil {
		return err
	}
	for _, u := range inc.Users() {
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_users (user_id, incident_id) VALUES (?, ?)`, u, inc.ID); err != nil {
			return err
		}
	}
	return nil
}

const incidentColumns = `id, state, body, created_by, created_at, updated_at, approved_by, approved_at, purged_at`

func scanIncident(row Scanner) (*vigil.Incident, error) {
	var (
		inc                       vigil.Incident
		id                        int64
		state, body, by           string
		created, updated          string
		approvedBy, approvedAtStr sql.NullString
		purgedAt                  sql.NullString
	)
	if err := row.Scan(&id, &state, &body, &by, &created, &updated, &approvedBy, &approvedAtStr, &purgedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(body), &inc); err != nil {
		return nil, fmt.Errorf("incident %d body: %w", id, err)
	}
	// The columns, not the body, say who did what when.
	inc.ID, inc.State, inc.CreatedBy, inc.ApprovedBy = id, vigil.IncidentState(state), by, approvedBy.String
	var err error
	if inc.CreatedAt, err = ParseTime(created); err != nil {
		return nil, err
	}
	if inc.UpdatedAt, err = ParseTime(updated); err != nil {
		return nil, err
	}
	if inc.ApprovedAt, err = ParseNullTime(approvedAtStr); err != nil {
		return nil, err
	}
	if inc.PurgedAt, err = ParseNullTime(purgedAt); err != nil {
		return nil, err
	}
	return &inc, nil
}

func findIncident(ctx context.Context, q Querier, id int64) (*vigil.Incident, error) {
	inc, err := scanIncident(q.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "incident %d not found", id)
	}
	return inc, err
}

// FindIncident returns the incident with the given id.
func (s *IncidentService) FindIncident(ctx context.Context, id int64) (*vigil.Incident, error) {
	inc, err := findIncident(ctx, s.db.Reader(), id)
	if err != nil {
		return nil, fmt.Errorf("find incident %d: %w", id, err)
	}
	return inc, nil
}

// ListIncidents returns a page of incidents in id order.
func (s *IncidentService) ListIncidents(ctx context.Context, f vigil.IncidentFilter) ([]*vigil.Incident, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = vigil.DefaultCaseLimit
	}
	limit = min(limit, vigil.MaxCaseLimit)
	where, args := []string{"id > ?"}, []any{f.AfterID}
	if len(f.States) > 0 {
		where = append(where, "state IN (?"+strings.Repeat(", ?", len(f.States)-1)+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	args = append(args, limit)
	out, err := QueryAll(ctx, s.db.Reader(), scanIncident,
		`SELECT `+incidentColumns+` FROM incidents WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return out, nil
}

// UpdateIncident applies e to a draft, read and written in one
// transaction so that concurrent edits do not lose each other.
func (s *IncidentService) UpdateIncident(ctx context.Context, id int64, e vigil.IncidentEdit) (*vigil.Incident, error) {
	var out *vigil.Incident
	err := s.db.Write(ctx, func(tx Querier) error {
		inc, err := findIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		if inc.State != vigil.IncidentDraft {
			return vigil.Errorf(vigil.ECONFLICT, "incident %d is %s: only a draft can be edited", id, inc.State)
		}
		if err := e.Apply(inc); err != nil {
			return err
		}
		inc.UpdatedAt = s.db.Now()
		body, err := json.Marshal(inc)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET body = ?, updated_at = ? WHERE id = ?`,
			string(body), FormatTime(inc.UpdatedAt), id); err != nil {
			return err
		}
		if err := setIncidentUsers(ctx, tx, inc); err != nil {
			return err
		}
		out = inc
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update incident %d: %w", id, err)
	}
	return out, nil
}

// ApproveIncident approves a draft.
func (s *IncidentService) ApproveIncident(ctx context.Context, id int64, actor string) (*vigil.Incident, error) {
	if err := ValidateActor("incidents", actor); err != nil {
		return nil, err
	}
	var out *vigil.Incident
	err := s.db.Write(ctx, func(tx Querier) error {
		inc, err := findIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		if inc.State != vigil.IncidentDraft {
			return vigil.Errorf(vigil.ECONFLICT, "incident %d is already %s", id, inc.State)
		}
		now := s.db.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET state = ?, approved_by = ?, approved_at = ?, updated_at = ? WHERE id = ?`,
			vigil.IncidentApproved, actor, FormatTime(now), FormatTime(now), id); err != nil {
			return err
		}
		inc.State, inc.ApprovedBy, inc.ApprovedAt, inc.UpdatedAt = vigil.IncidentApproved, actor, &now, now
		out = inc
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("approve incident %d: %w", id, err)
	}
	return out, nil
}

// UnreportedCases returns confirmed cases in no incident, in id order.
func (s *IncidentService) UnreportedCases(ctx context.Context, afterID int64, limit int) ([]*vigil.Case, error) {
	if limit <= 0 {
		limit = vigil.DefaultCaseLimit
	}
	limit = min(limit, vigil.MaxCaseLimit)
	out, err := QueryAll(ctx, s.db.Reader(), ScanCase, `SELECT `+CaseSelect+`
		WHERE c.id > ? AND c.state = 'decided' AND c.purged_at IS NULL AND `+s.db.JSONText("c.decision", "verdict")+` = 'confirmed'
		AND NOT EXISTS (SELECT 1 FROM incident_cases ic WHERE ic.case_id = c.id)
		ORDER BY c.id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("unreported cases: %w", err)
	}
	return out, nil
}

// AddAccountFacts merges f into the stored facts of its user.
func (s *IncidentService) AddAccountFacts(ctx context.Context, f *vigil.AccountFacts) (*vigil.AccountFacts, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	var out *vigil.AccountFacts
	err := s.db.Write(ctx, func(tx Querier) error {
		have, err := findAccountFacts(ctx, tx, f.UserID)
		if vigil.ErrorCode(err) == vigil.ENOTFOUND {
			have, err = &vigil.AccountFacts{UserID: f.UserID}, nil
		}
		if err != nil {
			return err
		}
		have.Merge(f)
		if err := have.Validate(); err != nil {
			return err
		}
		have.UpdatedAt = s.db.Now()
		body, err := json.Marshal(have)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO account_facts (user_id, body, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
			have.UserID, string(body), FormatTime(have.UpdatedAt)); err != nil {
			return err
		}
		out = have
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("add account facts of %q: %w", f.UserID, err)
	}
	return out, nil
}

func findAccountFacts(ctx context.Context, q Querier, userID string) (*vigil.AccountFacts, error) {
	var body string
	err := q.QueryRowContext(ctx, `SELECT body FROM account_facts WHERE user_id = ?`, userID).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "no account facts for user %q", userID)
	} else if err != nil {
		return nil, err
	}
	var f vigil.AccountFacts
	if err := json.Unmarshal([]byte(body), &f); err != nil {
		return nil, fmt.Errorf("account facts of %q: %w", userID, err)
	}
	return &f, nil
}

// FindAccountFacts returns the facts stored for a user.
func (s *IncidentService) FindAccountFacts(ctx context.Context, userID string) (*vigil.AccountFacts, error) {
	f, err := findAccountFacts(ctx, s.db.Reader(), userID)
	if err != nil {
		return nil, fmt.Errorf("find account facts: %w", err)
	}
	return f, nil
}
