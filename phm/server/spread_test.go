package server

import (
	"testing"
	"time"
)

// TestTickSpreadHoldsHandOff checks Inbox.HandOffSpread: the tick after a
// crossing recovers the account but hands nothing on (no case), its work
// alike an idle tick's; the account's revealed vouchers wait for a time
// drawn within the spread, and the first tick at or after it opens the
// case. A failed hand-off keeps its time (not put off again).
func TestTickSpreadHoldsHandOff(t *testing.T) {
	w := newTickWorld(t)
	T := w.p.T
	clock := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	w.s.Now = func() time.Time { return clock }
	w.s.Inbox.HandOffSpread = time.Hour
	for i := range T {
		w.batch(t, "u", w.u[i])
	}
	idle := w.tick(t)
	w.batch(t, "u", w.u[T])
	crossed := w.tick(t)
	if crossed.Cases != 0 {
		t.Fatalf("the tick after the crossing opened %d cases, want 0 (held)", crossed.Cases)
	}
	alike(t, "the crossing's tick, held, and an idle one", crossed, idle)
	st, err := w.store.PHMAccount(w.ctx, "u", 0)
	if err != nil || st.Key == nil {
		t.Fatalf("account u not recovered at the tick: %v", err)
	}
	at, ok := w.s.held[heldAccount{"u", 0}]
	if !ok || at.Before(clock) || !at.Before(clock.Add(time.Hour)) {
		t.Fatalf("held until %v (%v), want within the hour after %v", at, ok, clock)
	}
	// Ticks before the drawn time hand nothing on.
	clock = at.Add(-time.Nanosecond)
	if got := w.tick(t); got.Cases != 0 {
		t.Fatalf("a tick before the drawn time opened %d cases", got.Cases)
	}
	clock = at
	handed := w.tick(t)
	if handed.Cases != 1 {
		t.Fatalf("the tick at the drawn time opened %d cases, want 1", handed.Cases)
	}
	if _, ok := w.s.held[heldAccount{"u", 0}]; ok {
		t.Fatal("the account is still held after its hand-off")
	}
	rev, err := w.store.PHMRevealed(w.ctx, 100)
	if err != nil || len(rev) != 0 {
		t.Fatalf("revealed left: %d, %v", len(rev), err)
	}
	// Without a spread (0) the tick after the crossing hands on at once.
	for i := range T + 1 {
		w.batch(t, "v", w.v[i])
	}
	w.s.Inbox.HandOffSpread = 0
	if got := w.tick(t); got.Cases != 1 {
		t.Fatalf("without a spread the crossing's tick opened %d cases, want 1", got.Cases)
	}
}
