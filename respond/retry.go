package respond

import (
	"context"
	"fmt"

	"github.com/vigil-oss/vigil"
)

// Carry carries out an action queued after it failed (see
// vigil.ActionQueue): the background worker calls it, and retries while it
// returns an internal error. Carrying an action twice does what carrying
// it once does: the case finds the one its key opened, the event keeps
// its id.
func (s *Service) Carry(ctx context.Context, a *vigil.Action) error {
	switch a.Kind {
	case vigil.ActionKindOpenCase:
		if s.Cases == nil {
			return errNoReview
		}
		if a.Case == nil {
			return vigil.Errorf(vigil.EINVALID, "queued case action has no case")
		}
		c := *a.Case
		c.Key = a.CaseKey
		if err := s.Cases.OpenCase(ctx, &c, a.Actor); err != nil {
			return fmt.Errorf("rule %q: open case: %w", a.Rule, err)
		}
		if a.Auto != nil && s.AutoActions != nil {
			// Recording twice changes nothing: a retry after a failure
			// here finds the case opened and records the action.
			auto := *a.Auto
			auto.CaseID = c.ID
			if err := s.AutoActions.RecordAutoAction(ctx, &auto); err != nil {
				return fmt.Errorf("rule %q: record automatic action on case %d: %w", auto.Rule, c.ID, err)
			}
		}
		s.logger().Info("queued rule action carried out", "rule", a.Rule, "action", a.Kind, "case", c.ID)
		return nil
	case vigil.ActionKindNotify:
		if s.Notifier == nil {
			return vigil.Errorf(vigil.EUNSUPPORTED, "this server sends no webhooks")
		}
		if a.Event == nil {
			return vigil.Errorf(vigil.EINVALID, "queued webhook action has no event")
		}
		if err := s.Notifier.Notify(ctx, a.Webhook, *a.Event); err != nil {
			return fmt.Errorf("rule %q: webhook %q: %w", a.Rule, a.Webhook, err)
		}
		s.logger().Info("queued rule action carried out", "rule", a.Rule, "action", a.Kind, "webhook", a.Webhook)
		return nil
	}
	return vigil.Errorf(vigil.EINVALID, "unknown action kind %q", a.Kind)
}
