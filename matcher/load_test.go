package matcher_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/pausedload"
	"github.com/vigil-oss/vigil/matcher"
)

// TestLoadProgress holds a load of 50 PDQ entries after 20: Status reports
// 20 of 50 and no types, lookups are refused as unavailable (not answered
// from the partial index), a Refresh (a write through the API) returns at
// once instead of waiting for the load, and an entry added meanwhile is
// matched once the load completes.
func TestLoadProgress(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	b := f.bank(t, &vigil.Bank{Name: "big"})
	r := rand.New(rand.NewPCG(9, 9))
	var first vigil.Entry
	for i := range 50 {
		e := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: randomHash(r).String()}
		f.add(t, b, e)
		if i == 0 {
			first = *e
		}
	}
	store := pausedload.New(f.entries, 20, vigil.SignalPDQ)
	m := matcher.New(f.banks, store, slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { done <- m.Load(ctx) }()
	<-store.Paused

	st := m.Status()
	if st.Loading == nil || st.Loading.EntriesLoaded != 20 || st.Loading.EntriesTotal != 50 || len(st.Types) != 0 || !st.UpdatedAt.IsZero() {
		t.Fatalf("status while loading: %+v (loading %+v), want 20 of 50 and no types", st, st.Loading)
	}
	sig := []vigil.Signal{{Type: vigil.SignalPDQ, Value: first.Value}}
	if _, err := m.Lookup(ctx, sig, vigil.MatchOptions{}); vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
		t.Fatalf("lookup while loading: %v, want EUNAVAILABLE", err)
	}
	// Written while the load holds its snapshot open.
	late := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: randomHash(r).String()}
	f.add(t, b, late)
	refreshed := make(chan error, 1)
	go func() { refreshed <- m.Refresh(ctx) }()
	select {
	case err := <-refreshed:
		if err != nil {
			t.Fatalf("refresh while loading: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Refresh waited for the load")
	}

	store.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st = m.Status()
	if st.Loading != nil || st.Types[vigil.SignalPDQ].Entries != 51 {
		t.Fatalf("status after load: loading %+v, %d pdq entries; want done and 51", st.Loading, st.Types[vigil.SignalPDQ].Entries)
	}
	for _, v := range []string{first.Value, late.Value} {
		res, err := m.Lookup(ctx, []vigil.Signal{{Type: vigil.SignalPDQ, Value: v}}, vigil.MatchOptions{})
		if err != nil || len(res[0].Matches) != 1 {
			t.Fatalf("lookup %s after load: %+v %v", v, res, err)
		}
	}
}
