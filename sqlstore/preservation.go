package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
)

// Ensure PreservationService implements the interface.
var _ vigil.PreservationService = (*PreservationService)(nil)

// PreservationService stores legal holds and purges expired incidents,
// for both stores.
type PreservationService struct {
	db DB
}

// NewPreservationService returns a PreservationService on db.
func NewPreservationService(db DB) *PreservationService { return &PreservationService{db: db} }

// PreservedCase is true while preservation keeps the case c (the alias of
// cases in the query) whatever its own retention says: it is in an
// incident not yet purged (an unsent one, one within its retention, a
// held one), or under an active hold of its own. It takes one argument:
// the current time. Both ExpiredCases and PurgeCase use it, so the
// purge's choice and its check in the transaction cannot differ.
const PreservedCase = `(
	EXISTS (SELECT 1 FROM incident_cases pic JOIN incidents pi ON pi.id = pic.incident_id
		WHERE pic.case_id = c.id AND pi.purged_at IS NULL)
	OR EXISTS (SELECT 1 FROM holds ph WHERE ph.case_id = c.id AND ph.released_at IS NULL AND ph.hold_until > ?))`

// heldIncident is true while an active hold names the incident i or one
// of its cases. It takes the current time twice.
const heldIncident = `(
	EXISTS (SELECT 1 FROM holds h WHERE h.incident_id = i.id AND h.released_at IS NULL AND h.hold_until > ?)
	OR EXISTS (SELECT 1 FROM incident_cases hic JOIN holds h ON h.case_id = hic.case_id
		WHERE hic.incident_id = i.id AND h.released_at IS NULL AND h.hold_until > ?))`

const holdColumns = `id, incident_id, case_id, reason, requested_by, hold_until, created_by, created_at, updated_at,
	released_by, released_at, release_reason`

func scanHold(row Scanner) (*vigil.Hold, error) {
	var (
		h                                 vigil.Hold
		incident, cs                      sql.NullInt64
		until, created, updated           string
		releasedBy, releasedAt, relReason sql.NullString
	)
	if err := row.Scan(&h.ID, &incident, &cs, &h.Reason, &h.RequestedBy, &until, &h.CreatedBy, &created, &updated,
		&releasedBy, &releasedAt, &relReason); err != nil {
		return nil, err
	}
	h.IncidentID, h.CaseID = incident.Int64, cs.Int64
	h.ReleasedBy, h.ReleaseReason = releasedBy.String, relReason.String
	var err error
	if h.Until, err = ParseTime(until); err != nil {
		return nil, err
	}
	if h.CreatedAt, err = ParseTime(created); err != nil {
		return nil, err
	}
	if h.UpdatedAt, err = ParseTime(updated); err != nil {
		return nil, err
	}
	if h.ReleasedAt, err = ParseNullTime(releasedAt); err != nil {
		return nil, err
	}
	return &h, nil
}

func findHold(ctx context.Context, q Querier, id int64) (*vigil.Hold, error) {
	h, err := scanHold(q.QueryRowContext(ctx, `SELECT `+holdColumns+` FROM holds WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "hold %d not found", id)
	}
	return h, err
}

// nullID is id as a nullable column: 0 is NULL.
func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// CreateHold stores a hold, checking in the same transaction that what it
// holds exists and still has its evidence.
func (s *PreservationService) CreateHold(ctx context.Context, h *vigil.Hold, actor string) error {
	if err := ValidateActor("holds", actor); err != nil {
		return err
	}
	now := s.db.Now()
	if err := h.Validate(now); err != nil {
		return err
	}
	in := *h
	in.Until = in.Until.UTC()
	in.CreatedBy, in.CreatedAt, in.UpdatedAt = actor, now, now
	in.ReleasedBy, in.ReleasedAt, in.ReleaseReason = "", nil, ""
	err := s.db.Write(ctx, func(tx Querier) error {
		var purged sql.NullString
		var err error
		if in.IncidentID != 0 {
			err = tx.QueryRowContext(ctx, `SELECT purged_at FROM incidents WHERE id = ?`, in.IncidentID).Scan(&purged)
		} else {
			err = tx.QueryRowContext(ctx, `SELECT purged_at FROM cases WHERE id = ?`, in.CaseID).Scan(&purged)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "%s not found", in.Target())
		} else if err != nil {
			return err
		}
		if purged.Valid {
			return vigil.Errorf(vigil.ECONFLICT, "%s was purged at %s: there is nothing left to hold", in.Target(), purged.String)
		}
		if err := tx.QueryRowContext(ctx, `
			INSERT INTO holds (incident_id, case_id, reason, requested_by, hold_until, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			nullID(in.IncidentID), nullID(in.CaseID), in.Reason, in.RequestedBy, FormatTime(in.Until), actor,
			FormatTime(now), FormatTime(now)).Scan(&in.ID); err != nil {
			return err
		}
		h.ID = in.ID // for the audit record, written next in this transaction
		return nil
	})
	if err != nil {
		h.ID = 0
		return fmt.Errorf("create hold: %w", err)
	}
	*h = in
	return nil
}

// FindHold returns a hold.
func (s *PreservationService) FindHold(ctx context.Context, id int64) (*vigil.Hold, error) {
	h, err := findHold(ctx, s.db.Reader(), id)
	if err != nil {
		return nil, fmt.Errorf("find hold %d: %w", id, err)
	}
	return h, nil
}

// ListHolds returns a page of holds in id order.
func (s *PreservationService) ListHolds(ctx context.Context, f vigil.HoldFilter) ([]*vigil.Hold, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = vigil.DefaultCaseLimit
	}
	limit = min(limit, vigil.MaxCaseLimit)
	where, args := []string{"id > ?"}, []any{f.AfterID}
	if f.Active != nil {
		active := "released_at IS NULL AND hold_until > ?"
		if !*f.Active {
			active = "NOT (" + active + ")"
		}
		where, args = append(where, active), append(args, FormatTime(s.db.Now()))
	}
	if f.IncidentID != 0 {
		where, args = append(where, "incident_id = ?"), append(args, f.IncidentID)
	}
	if f.CaseID != 0 {
		where, args = append(where, "case_id = ?"), append(args, f.CaseID)
	}
	args = append(args, limit)
	out, err := QueryAll(ctx, s.db.Reader(), scanHold,
		`SELECT `+holdColumns+` FROM holds WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list holds: %w", err)
	}
	return out, nil
}

// changeHold reads an active hold, lets fn change it and stores it, in one
// transaction.
func (s *PreservationService) changeHold(ctx context.Context, id int64, fn func(h *vigil.Hold, now time.Time) error) (*vigil.Hold, error) {
	var out *vigil.Hold
	err := s.db.Write(ctx, func(tx Querier) error {
		h, err := findHold(ctx, tx, id)
		if err != nil {
			return err
		}
		now := s.db.Now()
		if !h.Active(now) {
			return vigil.Errorf(vigil.ECONFLICT, "hold %d is no longer active", id)
		}
		if err := fn(h, now); err != nil {
			return err
		}
		h.UpdatedAt = now
		var releasedAt sql.NullString
		if h.ReleasedAt != nil {
			releasedAt = sql.NullString{String: FormatTime(*h.ReleasedAt), Valid: true}
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE holds SET hold_until = ?, updated_at = ?, released_by = ?, released_at = ?, release_reason = ? WHERE id = ?`,
			FormatTime(h.Until), FormatTime(now), sql.NullString{String: h.ReleasedBy, Valid: h.ReleasedAt != nil},
			releasedAt, sql.NullString{String: h.ReleaseReason, Valid: h.ReleasedAt != nil}, id); err != nil {
			return err
		}
		out = h
		return nil
	})
	return out, err
}

// ExtendHold moves an active hold's end later.
func (s *PreservationService) ExtendHold(ctx context.Context, id int64, until time.Time, actor string) (*vigil.Hold, error) {
	if err := ValidateActor("holds", actor); err != nil {
		return nil, err
	}
	h, err := s.changeHold(ctx, id, func(h *vigil.Hold, now time.Time) error {
		if !until.After(h.Until) {
			return vigil.Errorf(vigil.EINVALID, "an extension must end after the hold's current end, %s", h.Until.Format(time.RFC3339))
		}
		if err := vigil.ValidateHoldUntil(until, now); err != nil {
			return err
		}
		h.Until = until.UTC()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("extend hold %d: %w", id, err)
	}
	return h, nil
}

// ReleaseHold ends an active hold now.
func (s *PreservationService) ReleaseHold(ctx context.Context, id int64, reason, actor string) (*vigil.Hold, error) {
	if err := ValidateActor("holds", actor); err != nil {
		return nil, err
	}
	if err := vigil.ValidateReleaseReason(reason); err != nil {
		return nil, err
	}
	h, err := s.changeHold(ctx, id, func(h *vigil.Hold, now time.Time) error {
		h.ReleasedBy, h.ReleasedAt, h.ReleaseReason = actor, &now, reason
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("release hold %d: %w", id, err)
	}
	return h, nil
}

// incidentRetention returns until when incident id is kept under p, and
// false while it is kept with no end (vigil.RetentionPolicy.RetainUntil).
// The submissions' columns say enough; their bodies are not read.
func incidentRetention(ctx context.Context, q Querier, id int64, p vigil.RetentionPolicy) (time.Time, bool, error) {
	subs, err := QueryAll(ctx, q, func(row Scanner) (*vigil.Submission, error) {
		var (
			sub     vigil.Submission
			updated string
		)
		if err := row.Scan(&sub.Destination, &sub.State, &updated); err != nil {
			return nil, err
		}
		var err error
		sub.UpdatedAt, err = ParseTime(updated)
		return &sub, err
	}, `SELECT destination, state, updated_at FROM submissions WHERE incident_id = ?`, id)
	if err != nil {
		return time.Time{}, false, err
	}
	until, ok := p.RetainUntil(subs)
	return until, ok, nil
}

// expiredIncidentBatch is how many candidate incidents ExpiredIncidents
// reads at a time.
const expiredIncidentBatch = 500

// ExpiredIncidents returns incidents past their retention and not held.
// The query narrows them to approved incidents not purged and not held,
// with a finished submission and none under way; the retention of each
// candidate is then computed from its submissions under p, which the
// store does not keep (it is configuration).
func (s *PreservationService) ExpiredIncidents(ctx context.Context, p vigil.RetentionPolicy, limit int) ([]*vigil.Incident, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = vigil.DefaultCaseLimit
	}
	limit = min(limit, vigil.MaxCaseLimit)
	now := s.db.Now()
	var out []*vigil.Incident
	err := s.db.Read(ctx, func(tx Querier) error {
		for after := int64(0); len(out) < limit; {
			ids, err := QueryAll(ctx, tx, func(row Scanner) (int64, error) {
				var id int64
				return id, row.Scan(&id)
			}, `SELECT i.id FROM incidents i
				WHERE i.id > ? AND i.purged_at IS NULL AND i.state = 'approved'
				AND EXISTS (SELECT 1 FROM submissions s WHERE s.incident_id = i.id AND s.state = 'finished')
				AND NOT EXISTS (SELECT 1 FROM submissions s WHERE s.incident_id = i.id AND s.state NOT IN ('finished', 'failed'))
				AND NOT `+heldIncident+`
				ORDER BY i.id LIMIT ?`, after, FormatTime(now), FormatTime(now), expiredIncidentBatch)
			if err != nil {
				return err
			}
			for _, id := range ids {
				until, ok, err := incidentRetention(ctx, tx, id, p)
				if err != nil {
					return err
				}
				if !ok || now.Before(until) {
					continue
				}
				inc, err := findIncident(ctx, tx, id)
				if err != nil {
					return err
				}
				if out = append(out, inc); len(out) == limit {
					break
				}
			}
			if len(ids) < expiredIncidentBatch {
				return nil
			}
			after = ids[len(ids)-1]
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("expired incidents: %w", err)
	}
	return out, nil
}

// PurgeIncident deletes an expired incident's evidence and what was sent
// of it, after checking again, in the transaction, that it is expired and
// not held: a hold made since ExpiredIncidents read it wins.
func (s *PreservationService) PurgeIncident(ctx context.Context, id int64, p vigil.RetentionPolicy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	now := s.db.Now()
	err := s.db.Write(ctx, func(tx Querier) error {
		inc, err := findIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		if inc.PurgedAt != nil {
			return vigil.Errorf(vigil.ECONFLICT, "incident %d was already purged", id)
		}
		var held bool
		if err := tx.QueryRowContext(ctx, `SELECT `+heldIncident+` FROM incidents i WHERE i.id = ?`,
			FormatTime(now), FormatTime(now), id).Scan(&held); err != nil {
			return err
		}
		if held {
			return vigil.Errorf(vigil.ECONFLICT, "incident %d is under a legal hold", id)
		}
		until, ok, err := incidentRetention(ctx, tx, id, p)
		if err != nil {
			return err
		}
		if !ok {
			return vigil.Errorf(vigil.ECONFLICT, "incident %d has not been sent: it is kept", id)
		}
		if now.Before(until) {
			return vigil.Errorf(vigil.ECONFLICT, "incident %d is kept until %s", id, until.Format(time.RFC3339))
		}
		subs, facts, err := forgetIncident(ctx, tx, inc, now)
		if err != nil {
			return err
		}
		return vigil.AuditResult(ctx, map[string]any{
			"case_ids": inc.CaseIDs, "submissions": subs, "account_facts_deleted": facts,
			"retained_until": until, "policy": p.String(),
		})
	})
	if err != nil {
		return fmt.Errorf("purge incident %d: %w", id, err)
	}
	return nil
}

// staleDraft is true while the incident i is a draft, not purged, never
// submitted and unchanged since its one argument (the current time less
// the draft lifetime). Both StaleDrafts and DiscardDraft use it.
const staleDraft = `(i.state = 'draft' AND i.purged_at IS NULL AND i.updated_at <= ?
	AND NOT EXISTS (SELECT 1 FROM submissions s WHERE s.incident_id = i.id))`

// StaleDrafts returns drafts past their lifetime under p and not held.
func (s *PreservationService) StaleDrafts(ctx context.Context, p vigil.RetentionPolicy, limit int) ([]*vigil.Incident, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = vigil.DefaultCaseLimit
	}
	limit = min(limit, vigil.MaxCaseLimit)
	now := s.db.Now()
	out, err := QueryAll(ctx, s.db.Reader(), scanIncident, `SELECT `+incidentColumns+` FROM incidents i
		WHERE `+staleDraft+` AND NOT `+heldIncident+` ORDER BY i.id LIMIT ?`,
		FormatTime(now.Add(-p.DraftLifetime())), FormatTime(now), FormatTime(now), limit)
	if err != nil {
		return nil, fmt.Errorf("stale drafts: %w", err)
	}
	return out, nil
}

// DiscardDraft discards a stale draft after checking again, in the
// transaction, that it is one and is not held: an edit, an approval or a
// hold made since StaleDrafts read it wins.
func (s *PreservationService) DiscardDraft(ctx context.Context, id int64, p vigil.RetentionPolicy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	now := s.db.Now()
	before := now.Add(-p.DraftLifetime())
	err := s.db.Write(ctx, func(tx Querier) error {
		inc, err := findIncident(ctx, tx, id)
		if err != nil {
			return err
		}
		var stale, held bool
		if err := tx.QueryRowContext(ctx, `SELECT `+staleDraft+`, `+heldIncident+` FROM incidents i WHERE i.id = ?`,
			FormatTime(before), FormatTime(now), FormatTime(now), id).Scan(&stale, &held); err != nil {
			return err
		}
		switch {
		case inc.PurgedAt != nil:
			return vigil.Errorf(vigil.ECONFLICT, "incident %d was already purged", id)
		case inc.State != vigil.IncidentDraft:
			return vigil.Errorf(vigil.ECONFLICT, "incident %d is %s: only a draft is discarded", id, inc.State)
		case held:
			return vigil.Errorf(vigil.ECONFLICT, "incident %d is under a legal hold", id)
		case !stale:
			return vigil.Errorf(vigil.ECONFLICT, "draft %d was changed at %s: it is kept until %s", id,
				inc.UpdatedAt.Format(time.RFC3339), inc.UpdatedAt.Add(p.DraftLifetime()).Format(time.RFC3339))
		}
		_, facts, err := forgetIncident(ctx, tx, inc, now)
		if err != nil {
			return err
		}
		// Never reported, its cases may be reported in another incident.
		if _, err := tx.ExecContext(ctx, `DELETE FROM incident_cases WHERE incident_id = ?`, id); err != nil {
			return err
		}
		return vigil.AuditResult(ctx, map[string]any{
			"case_ids": inc.CaseIDs, "account_facts_deleted": facts, "unchanged_since": inc.UpdatedAt,
			"draft_retention_hours": int(p.DraftLifetime().Hours()),
		})
	})
	if err != nil {
		return fmt.Errorf("discard draft %d: %w", id, err)
	}
	return nil
}

// forgetIncident deletes, in tx, what an incident whose keeping ended
// (retention over, or a draft discarded) holds of evidence and personal
// data: its body is cut to vigil.PurgedIncident, its submissions to
// vigil.PurgedSubmission, and the account facts of every user it names
// (vigil.Incident.Users) go unless another incident still kept names that
// user. It returns how many submissions it cut and how many users' facts
// it deleted, for the audit record written in the same transaction.
func forgetIncident(ctx context.Context, tx Querier, inc *vigil.Incident, now time.Time) (subs int, facts int64, err error) {
	body, err := json.Marshal(vigil.PurgedIncident(inc, now))
	if err != nil {
		return 0, 0, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE incidents SET body = ?, reported_user = '', purged_at = ?, updated_at = ? WHERE id = ?`,
		string(body), FormatTime(now), FormatTime(now), inc.ID); err != nil {
		return 0, 0, err
	}
	list, err := QueryAll(ctx, tx, scanSubmission, `SELECT id, body FROM submissions WHERE incident_id = ? ORDER BY id`, inc.ID)
	if err != nil {
		return 0, 0, err
	}
	for _, sub := range list {
		// The columns keep their values: updated_at still says when
		// the submission finished.
		body, err := json.Marshal(vigil.PurgedSubmission(sub))
		if err != nil {
			return 0, 0, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE submissions SET body = ? WHERE id = ?`, string(body), sub.ID); err != nil {
			return 0, 0, err
		}
	}
	// The users' rows go first, so that what is left names only the
	// incidents still kept.
	if _, err := tx.ExecContext(ctx, `DELETE FROM incident_users WHERE incident_id = ?`, inc.ID); err != nil {
		return 0, 0, err
	}
	for _, u := range inc.Users() {
		res, err := tx.ExecContext(ctx, `DELETE FROM account_facts WHERE user_id = ?
			AND NOT EXISTS (SELECT 1 FROM incident_users WHERE user_id = ?)`, u, u)
		if err != nil {
			return 0, 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, 0, err
		}
		facts += n
	}
	return len(list), facts, nil
}
