package feed

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/vigil-oss/vigil"
)

// Source is one list a Loop keeps current: a Vigil subscription, or an
// exchange's fetch (NCMEC, ThreatExchange, StopNCII). Sync brings it up to
// date once and returns its error; a source keeps its own cursor, so a
// sync that fails or is cut short is simply run again next round.
type Source struct {
	// Name names the source on /readyz and in metrics: no credentials
	// and nothing secret ("subscription:3", "stopncii").
	Name string
	Sync func(ctx context.Context) error
}

// SourceState is what a Loop knows of one source.
type SourceState struct {
	Name      string    `json:"name"`
	LastRun   time.Time `json:"last_run"`
	LastOK    time.Time `json:"last_ok,omitzero"`
	Error     string    `json:"error,omitempty"` // of the last run; "" if it succeeded
	Runs      int64     `json:"runs"`
	Failures  int64     `json:"failures"`
	Succeeded int64     `json:"succeeded"`
}

// Loop syncs every source in turn, round after round, inside vigil serve
// (vigil serve --feed-sync). Sources are asked for at the start of each
// round, so subscriptions made while the server runs join the next one.
type Loop struct {
	// Interval is the time from the start of one round to the next; a
	// round that takes longer is followed at once by the next.
	Interval time.Duration
	// Timeout bounds one source's sync; 0: DefaultSyncTimeout.
	Timeout time.Duration
	// Sources returns the sources of a round. Its error skips the round
	// and is logged; the states of the last round stay.
	Sources func(ctx context.Context) ([]Source, error)
	Logger  *slog.Logger

	mu     sync.Mutex
	states map[string]*SourceState
	rounds int64
	last   time.Time // when the last round ended
}

// DefaultSyncTimeout bounds one source's sync in a Loop.
const DefaultSyncTimeout = 10 * time.Minute

// SubscriptionSources returns a Sources function for every active
// subscription in subs, each synced by c and its reviewers' feedback sent
// back, as vigil feed sync does.
func SubscriptionSources(subs vigil.SubscriptionService, c *Client) func(ctx context.Context) ([]Source, error) {
	return func(ctx context.Context) ([]Source, error) {
		list, err := subs.ListSubscriptions(ctx)
		if err != nil {
			return nil, fmt.Errorf("list subscriptions: %w", err)
		}
		var out []Source
		for _, sub := range list {
			if sub.State != "" && sub.State != vigil.SubscriptionActive {
				continue
			}
			id := sub.ID
			out = append(out, Source{Name: fmt.Sprintf("subscription:%d", id), Sync: func(ctx context.Context) error {
				if _, err := c.Sync(ctx, id); err != nil {
					return err
				}
				_, err := c.SendFeedback(ctx, id)
				return err
			}})
		}
		return out, nil
	}
}

// Run syncs round after round until ctx ends.
func (l *Loop) Run(ctx context.Context) {
	if l.Logger == nil {
		l.Logger = slog.New(slog.DiscardHandler)
	}
	for {
		start := time.Now()
		l.round(ctx)
		wait := l.Interval - time.Since(start)
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(wait, 0)):
		}
	}
}

// round syncs each source once, one after another.
func (l *Loop) round(ctx context.Context) {
	sources, err := l.Sources(ctx)
	if err != nil {
		if ctx.Err() == nil {
			l.Logger.Error("feed sync round", "err", err)
		}
		return
	}
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = DefaultSyncTimeout
	}
	seen := map[string]bool{}
	for _, src := range sources {
		if ctx.Err() != nil {
			return
		}
		seen[src.Name] = true
		sctx, cancel := context.WithTimeout(ctx, timeout)
		err := src.Sync(sctx)
		cancel()
		if ctx.Err() != nil {
			return // shutting down: not the source's failure
		}
		l.record(src.Name, err)
		if err != nil {
			l.Logger.Warn("feed sync", "source", src.Name, "err", err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// A source no longer offered (a subscription removed) leaves the
	// states, so that its last error does not stay on /readyz.
	for name := range l.states {
		if !seen[name] {
			delete(l.states, name)
		}
	}
	l.rounds++
	l.last = time.Now()
}

func (l *Loop) record(name string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.states == nil {
		l.states = map[string]*SourceState{}
	}
	st := l.states[name]
	if st == nil {
		st = &SourceState{Name: name}
		l.states[name] = st
	}
	st.LastRun = time.Now()
	st.Runs++
	if err != nil {
		st.Failures++
		st.Error = err.Error() // the operator's: Status is not shown without a key
		return
	}
	st.Succeeded++
	st.LastOK, st.Error = st.LastRun, ""
}

// Status returns each source's state, by name, the rounds completed and
// when the last one ended.
func (l *Loop) Status() (states []SourceState, rounds int64, last time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, st := range l.states {
		states = append(states, *st)
	}
	slices.SortFunc(states, func(a, b SourceState) int {
		if a.Name < b.Name {
			return -1
		} else if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return states, l.rounds, l.last
}
