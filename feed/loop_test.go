package feed_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-oss/vigil/feed"
)

// TestLoopRounds: every source runs each round, one failing does not stop
// the others, its state clears once it syncs again, and a source no longer
// offered leaves the states.
func TestLoopRounds(t *testing.T) {
	var a, b atomic.Int64
	var bFails atomic.Bool
	bFails.Store(true)
	offerB := atomic.Bool{}
	offerB.Store(true)
	l := &feed.Loop{Interval: time.Millisecond, Sources: func(ctx context.Context) ([]feed.Source, error) {
		out := []feed.Source{{Name: "a", Sync: func(ctx context.Context) error { a.Add(1); return nil }}}
		if offerB.Load() {
			out = append(out, feed.Source{Name: "b", Sync: func(ctx context.Context) error {
				b.Add(1)
				if bFails.Load() {
					return errors.New("publisher down")
				}
				return nil
			}})
		}
		return out, nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitLoop(t, func() bool { _, rounds, _ := l.Status(); return rounds >= 3 })
	states, _, last := l.Status()
	if len(states) != 2 || states[0].Name != "a" || states[0].Error != "" || states[1].Error != "publisher down" || last.IsZero() {
		t.Fatalf("states %+v", states)
	}
	if states[1].Failures < 3 || states[0].Succeeded < 3 || a.Load() < 3 {
		t.Errorf("a failing source stopped the others: %+v", states)
	}
	bFails.Store(false)
	waitLoop(t, func() bool { s, _, _ := l.Status(); return len(s) == 2 && s[1].Error == "" && !s[1].LastOK.IsZero() })
	offerB.Store(false)
	waitLoop(t, func() bool { s, _, _ := l.Status(); return len(s) == 1 })
}

// TestLoopTimeout: a sync that hangs is cut off at Timeout and counted as
// failed; the loop goes on.
func TestLoopTimeout(t *testing.T) {
	l := &feed.Loop{Interval: time.Millisecond, Timeout: 20 * time.Millisecond, Sources: func(ctx context.Context) ([]feed.Source, error) {
		return []feed.Source{{Name: "slow", Sync: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}}, nil
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitLoop(t, func() bool { s, r, _ := l.Status(); return r >= 2 && len(s) == 1 && s[0].Failures >= 2 })
}

func waitLoop(t *testing.T, fn func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !fn(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("gave up waiting")
		}
	}
}
