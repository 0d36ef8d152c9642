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

// NoticeService finds the notices due to the platform and records those
// delivered.
type NoticeService struct {
	db DB
}

// NewNoticeService returns the notice store of db.
func NewNoticeService(db DB) *NoticeService { return &NoticeService{db: db} }

var _ vigil.NoticeService = (*NoticeService)(nil)

// sqlSilenced holds for a case (c) while a legal hold or a report under
// way asks for silence: an active hold on the case or its incident, or an
// incident not purged whose report has not gone (no finished submission)
// or is being sent.
const sqlSilenced = `(
	EXISTS (SELECT 1 FROM holds h WHERE h.released_at IS NULL AND h.hold_until > ?
		AND (h.case_id = c.id OR h.incident_id IN (SELECT incident_id FROM incident_cases WHERE case_id = c.id)))
	OR EXISTS (SELECT 1 FROM incident_cases ic JOIN incidents i ON i.id = ic.incident_id
		WHERE ic.case_id = c.id AND i.purged_at IS NULL AND (
			NOT EXISTS (SELECT 1 FROM submissions s WHERE s.incident_id = i.id AND s.state = 'finished')
			OR EXISTS (SELECT 1 FROM submissions s WHERE s.incident_id = i.id AND s.state IN ('pending', 'submitted')))))`

// DueNotices returns the notices and reversals due at now. Notices are
// read from the cases whose notice is pending (notice_due, indexed), so a
// pass costs the pending ones, not every case ever confirmed.
func (s *NoticeService) DueNotices(ctx context.Context, now time.Time, delay time.Duration, limit int) ([]*vigil.Notice, error) {
	if limit <= 0 || limit > vigil.MaxCaseLimit {
		limit = vigil.DefaultCaseLimit
	}
	ts := FormatTime(now)
	var out []*vigil.Notice
	err := s.db.Read(ctx, func(tx Querier) error {
		// Reversals first: undoing a wrong action must not wait behind
		// notices.
		ks, err := QueryAll(ctx, tx, scanComplaint, `SELECT `+complaintColumns+complaintFrom+`
			WHERE k.state = 'upheld' AND NOT EXISTS (SELECT 1 FROM notices n
				WHERE n.case_id = k.case_id AND n.kind = 'reversal' AND n.complaint_id = k.id)
			ORDER BY k.id LIMIT ?`, limit)
		if err != nil {
			return err
		}
		for _, k := range ks {
			c, err := FindCase(ctx, tx, k.CaseID)
			if err != nil {
				return err
			}
			out = append(out, &vigil.Notice{Kind: vigil.NoticeKindReversal, Case: c, Complaint: k, ComplaintID: k.ID})
		}
		if len(out) >= limit {
			return nil
		}
		// Automatic actions: due from when the rule acted, whatever a
		// reviewer has made of the case since.
		autos, err := QueryAll(ctx, tx, scanAutoAction, `SELECT a.case_id, a.rule, a.actions, a.taken_at
			FROM auto_actions a JOIN cases c ON c.id = a.case_id
			WHERE a.notice_due IS NOT NULL AND a.notice_due <= ?
			AND NOT `+sqlSilenced+`
			ORDER BY a.notice_due, a.case_id LIMIT ?`, FormatTime(now.Add(-delay)), ts, limit-len(out))
		if err != nil {
			return err
		}
		for _, a := range autos {
			c, err := FindCase(ctx, tx, a.CaseID)
			if err != nil {
				return err
			}
			out = append(out, &vigil.Notice{Kind: vigil.NoticeKindNotice, Case: c, Auto: a})
		}
		if len(out) >= limit {
			return nil
		}
		// Confirmations, but not of a case whose action was automatic: its
		// notice is the automatic action's, above.
		cases, err := QueryAll(ctx, tx, ScanCase, `SELECT `+CaseSelect+`
			WHERE c.notice_due IS NOT NULL AND c.notice_due <= ?
			AND NOT EXISTS (SELECT 1 FROM auto_actions a WHERE a.case_id = c.id)
			AND NOT `+sqlSilenced+`
			ORDER BY c.notice_due, c.id LIMIT ?`, FormatTime(now.Add(-delay)), ts, limit-len(out))
		if err != nil {
			return err
		}
		for _, c := range cases {
			out = append(out, &vigil.Notice{Kind: vigil.NoticeKindNotice, Case: c})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("due notices: %w", err)
	}
	return out, nil
}

// MarkNoticeSent records a notice delivered, once.
func (s *NoticeService) MarkNoticeSent(ctx context.Context, n *vigil.Notice, eventID string) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO notices (case_id, kind, complaint_id, event_id, sent_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, n.Case.ID, n.Kind, n.ComplaintID, eventID, FormatTime(s.db.Now()))
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil {
			return err
		} else if k == 0 {
			return vigil.Errorf(vigil.ECONFLICT, "the %s of case %d was sent already", n.Kind, n.Case.ID)
		}
		if n.Kind != vigil.NoticeKindNotice {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE cases SET notice_due = NULL WHERE id = ?`, n.Case.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE auto_actions SET notice_due = NULL WHERE case_id = ?`, n.Case.ID); err != nil {
			return err
		}
		// A confirmation of a case whose automatic action was announced
		// already makes its notice due again (DecideCase): it is the same
		// action, so clear it rather than leave it pending for ever.
		_, err = tx.ExecContext(ctx, `UPDATE cases SET notice_due = NULL WHERE notice_due IS NOT NULL
			AND EXISTS (SELECT 1 FROM auto_actions a WHERE a.case_id = cases.id AND a.notice_due IS NULL)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark notice sent: %w", err)
	}
	return nil
}

func scanAutoAction(row Scanner) (*vigil.AutoAction, error) {
	var a vigil.AutoAction
	var actions, taken string
	if err := row.Scan(&a.CaseID, &a.Rule, &actions, &taken); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(actions), &a.Actions); err != nil {
		return nil, fmt.Errorf("automatic action of case %d: %w", a.CaseID, err)
	}
	var err error
	a.TakenAt, err = ParseTime(taken)
	return &a, err
}

// RecordAutoAction records an automatic action on its case, once.
func (s *NoticeService) RecordAutoAction(ctx context.Context, a *vigil.AutoAction) error {
	if err := a.Validate(); err != nil {
		return err
	}
	actions, err := json.Marshal(a.Actions)
	if err != nil {
		return err
	}
	ts := FormatTime(a.TakenAt)
	err = s.db.Write(ctx, func(tx Querier) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM cases WHERE id = ?`, a.CaseID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "case %d not found", a.CaseID)
		} else if err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO auto_actions (case_id, rule, actions, taken_at, notice_due)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, a.CaseID, a.Rule, string(actions), ts, ts)
		return err
	})
	if err != nil {
		return fmt.Errorf("record automatic action on case %d: %w", a.CaseID, err)
	}
	return nil
}
