package postgres

import (
	"context"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// Ensure CaseService keeps classifier states.
var _ vigil.ClassifierStateService = (*CaseService)(nil)

// ClassifierStates implements vigil.ClassifierStateService.
func (s *CaseService) ClassifierStates(ctx context.Context) ([]*vigil.ClassifierState, error) {
	return sqlstore.NewClassifierStateService(s.db.shared()).ClassifierStates(ctx)
}

// SetClassifierState implements vigil.ClassifierStateService.
func (s *CaseService) SetClassifierState(ctx context.Context, st *vigil.ClassifierState) error {
	return sqlstore.NewClassifierStateService(s.db.shared()).SetClassifierState(ctx, st)
}
