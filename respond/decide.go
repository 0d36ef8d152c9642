package respond

import (
	"context"

	"github.com/vigil-oss/vigil"
)

// Decide records a reviewer's decision on case id: the store counts it
// against the case's entries and applies the quarantine policy in the same
// transaction. d.DecidedBy says who decided; DecidedAt is set here. A
// confirmation is then published to the OnConfirmed subscribers. The
// caller has checked that the reviewer may see the case.
func (s *Service) Decide(ctx context.Context, id int64, d vigil.Decision) (*vigil.Case, error) {
	if s.Cases == nil {
		return nil, errNoReview
	}
	d.DecidedAt = s.now().UTC()
	if err := d.Validate(); err != nil {
		return nil, err
	}
	c, err := s.Cases.DecideCase(ctx, id, d)
	if err != nil {
		return nil, err
	}
	if d.Verdict == vigil.VerdictConfirmed {
		s.publishConfirmed(ctx, vigil.CaseConfirmed{Case: c, Decision: *c.Decision})
	}
	return c, nil
}

// OnConfirmed subscribes fn to confirmed cases: after each confirmation
// has been committed, fn is called with it, in the decider's goroutine and
// in the order of subscription. The decision stands whatever fn returns;
// its error is logged, so a subscriber that must not lose an event queues
// its work durably before returning.
func (s *Service) OnConfirmed(fn func(ctx context.Context, ev vigil.CaseConfirmed) error) {
	s.mu.Lock()
	s.confirmed = append(s.confirmed, fn)
	s.mu.Unlock()
}

func (s *Service) publishConfirmed(ctx context.Context, ev vigil.CaseConfirmed) {
	s.mu.Lock()
	subs := s.confirmed
	s.mu.Unlock()
	for _, fn := range subs {
		if err := fn(ctx, ev); err != nil {
			s.logger().Error("case confirmed subscriber", "case", ev.Case.ID, "err", err)
		}
	}
}
