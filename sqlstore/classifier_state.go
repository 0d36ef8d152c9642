package sqlstore

import (
	"context"
	"fmt"

	"github.com/vigil-oss/vigil"
)

// ClassifierStateService implements vigil.ClassifierStateService. The
// stores' CaseServices serve it.
type ClassifierStateService struct{ db DB }

// NewClassifierStateService returns a ClassifierStateService on db.
func NewClassifierStateService(db DB) *ClassifierStateService { return &ClassifierStateService{db: db} }

var _ vigil.ClassifierStateService = (*ClassifierStateService)(nil)

// ClassifierStates implements vigil.ClassifierStateService.
func (s *ClassifierStateService) ClassifierStates(ctx context.Context) ([]*vigil.ClassifierState, error) {
	out, err := QueryAll(ctx, s.db.Reader(), func(row Scanner) (*vigil.ClassifierState, error) {
		var st vigil.ClassifierState
		var at string
		if err := row.Scan(&st.Name, &st.Paused, &st.Reason, &st.UpdatedBy, &at); err != nil {
			return nil, err
		}
		var err error
		st.UpdatedAt, err = ParseTime(at)
		return &st, err
	}, `SELECT name, paused, reason, updated_by, updated_at FROM classifier_states ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("classifier states: %w", err)
	}
	return out, nil
}

// SetClassifierState implements vigil.ClassifierStateService.
func (s *ClassifierStateService) SetClassifierState(ctx context.Context, st *vigil.ClassifierState) error {
	if err := st.Validate(); err != nil {
		return err
	}
	now := s.db.Now()
	err := s.db.Write(ctx, func(tx Querier) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO classifier_states (name, paused, reason, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET paused = excluded.paused, reason = excluded.reason,
				updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			st.Name, st.Paused, st.Reason, st.UpdatedBy, FormatTime(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("set classifier %s state: %w", st.Name, err)
	}
	st.UpdatedAt = now
	return nil
}
