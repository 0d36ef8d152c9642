package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestHostedLookups tests what hosted lookups keep in the store: the
// lookup role, per-key limits, a bank's reveal level and the per-key
// daily lookup counts.
func TestHostedLookups(t *testing.T, open Opener) {
	ctx := context.Background()

	t.Run("LookupKeyAndLimits", func(t *testing.T) {
		s := open(t)
		lim := &vigil.KeyLimits{Rate: 50, Burst: 100, Daily: 100000}
		k := &vigil.Key{Name: "partner", Role: vigil.RoleLookup, CreatedBy: "test", Limits: lim}
		secret, err := s.Keys.CreateKey(ctx, k)
		must(t, err)
		got, err := s.Keys.FindKeyBySecret(ctx, secret)
		must(t, err)
		if got.Role != vigil.RoleLookup || got.Limits == nil || *got.Limits != *lim {
			t.Fatalf("found %+v limits %+v", got, got.Limits)
		}
		plain := &vigil.Key{Name: "m", Role: vigil.RoleMatcher}
		_, err = s.Keys.CreateKey(ctx, plain)
		must(t, err)
		if got, _ := s.Keys.FindKeyByID(ctx, plain.ID); got.Limits != nil {
			t.Errorf("key made without limits has %+v", got.Limits)
		}

		// A rate without a burst gets one second's worth.
		upd, err := s.Keys.SetKeyLimits(ctx, plain.ID, &vigil.KeyLimits{Rate: 2.5})
		must(t, err)
		if upd.Limits == nil || upd.Limits.Burst != 3 {
			t.Errorf("set limits: %+v", upd.Limits)
		}
		if got, _ := s.Keys.FindKeyByID(ctx, plain.ID); got.Limits == nil || *got.Limits != (vigil.KeyLimits{Rate: 2.5, Burst: 3}) {
			t.Errorf("stored limits %+v", got.Limits)
		}
		if _, err := s.Keys.SetKeyLimits(ctx, plain.ID, nil); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Keys.FindKeyByID(ctx, plain.ID); got.Limits != nil {
			t.Errorf("limits cleared, still %+v", got.Limits)
		}
		_, err = s.Keys.SetKeyLimits(ctx, plain.ID, &vigil.KeyLimits{Rate: -1})
		wantCode(t, err, vigil.EINVALID)
		_, err = s.Keys.SetKeyLimits(ctx, 999, &vigil.KeyLimits{Daily: 1})
		wantCode(t, err, vigil.ENOTFOUND)
		_, err = s.Keys.CreateKey(ctx, &vigil.Key{Name: "bad", Role: vigil.RoleLookup, Limits: &vigil.KeyLimits{Daily: -5}})
		wantCode(t, err, vigil.EINVALID)
		_, err = s.Keys.RevokeKey(ctx, plain.ID, "test")
		must(t, err)
		_, err = s.Keys.SetKeyLimits(ctx, plain.ID, &vigil.KeyLimits{Daily: 1})
		wantCode(t, err, vigil.ECONFLICT)
	})

	t.Run("BankReveal", func(t *testing.T) {
		s := open(t)
		b := &vigil.Bank{Name: "hosted", Enabled: true}
		must(t, s.Banks.CreateBank(ctx, b))
		if b.Reveal != vigil.RevealBank {
			t.Errorf("new bank reveals %q, want the least", b.Reveal)
		}
		full := vigil.RevealFull
		got, err := s.Banks.UpdateBank(ctx, b.ID, vigil.BankUpdate{Reveal: &full})
		must(t, err)
		if got.Reveal != vigil.RevealFull || got.Version != b.Version+1 {
			t.Errorf("updated %+v", got)
		}
		if got, _ := s.Banks.FindBankByName(ctx, "hosted"); got.Reveal != vigil.RevealFull {
			t.Errorf("stored reveal %q", got.Reveal)
		}
		for _, bad := range []vigil.Reveal{"", "everything"} {
			_, err = s.Banks.UpdateBank(ctx, b.ID, vigil.BankUpdate{Reveal: &bad})
			wantCode(t, err, vigil.EINVALID)
		}
		err = s.Banks.CreateBank(ctx, &vigil.Bank{Name: "x", Reveal: "entries"})
		wantCode(t, err, vigil.EINVALID)
		src := &vigil.Bank{Name: "src", Reveal: vigil.RevealSource}
		must(t, s.Banks.CreateBank(ctx, src))
		if got, _ := s.Banks.FindBankByID(ctx, src.ID); got.Reveal != vigil.RevealSource {
			t.Errorf("created with source, stored %q", got.Reveal)
		}
	})

	t.Run("LookupCounts", func(t *testing.T) {
		s := open(t)
		c := s.Lookups
		got, err := c.AddLookups(ctx, []vigil.LookupCount{
			{KeyID: 2, Day: "2026-12-03", Lookups: 10},
			{KeyID: 1, Day: "2026-12-03", Lookups: 5},
			{KeyID: 2, Day: "2026-12-03", Lookups: 1},
		})
		must(t, err)
		if got[0].Lookups != 10 || got[1].Lookups != 5 || got[2].Lookups != 11 {
			t.Errorf("totals after add: %+v", got)
		}
		_, err = c.AddLookups(ctx, []vigil.LookupCount{{KeyID: 1, Day: "2026-12-04", Lookups: 7}, {KeyID: 1, Day: "2026-12-02", Lookups: 0}})
		must(t, err)
		all, err := c.LookupCounts(ctx, "2026-12-01", "2026-12-31", 0)
		must(t, err)
		want := []vigil.LookupCount{lc(1, "2026-12-02", 0), lc(1, "2026-12-03", 5), lc(2, "2026-12-03", 11), lc(1, "2026-12-04", 7)}
		if !slices.Equal(all, want) {
			t.Errorf("counts %+v, want %+v", all, want)
		}
		one, err := c.LookupCounts(ctx, "2026-12-03", "2026-12-04", 1)
		must(t, err)
		if !slices.Equal(one, []vigil.LookupCount{lc(1, "2026-12-03", 5), lc(1, "2026-12-04", 7)}) {
			t.Errorf("key 1: %+v", one)
		}
		// All or nothing: a bad count leaves the others unadded.
		_, err = c.AddLookups(ctx, []vigil.LookupCount{{KeyID: 1, Day: "2026-12-03", Lookups: 1}, {KeyID: 1, Day: "3 Dec", Lookups: 1}})
		wantCode(t, err, vigil.EINVALID)
		_, err = c.AddLookups(ctx, []vigil.LookupCount{{KeyID: 1, Day: "2026-12-03", Lookups: -1}})
		wantCode(t, err, vigil.EINVALID)
		_, err = c.LookupCounts(ctx, "2026-13-01", "2026-12-31", 0)
		wantCode(t, err, vigil.EINVALID)
		if one, _ := c.LookupCounts(ctx, "2026-12-03", "2026-12-03", 1); one[0].Lookups != 5 {
			t.Errorf("after refused adds: %+v", one)
		}

		// Replicas add at once: no increment is lost.
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					if _, err := c.AddLookups(ctx, []vigil.LookupCount{{KeyID: 3, Day: "2026-12-03", Lookups: 2}}); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		if n, _ := c.LookupCounts(ctx, "2026-12-03", "2026-12-03", 3); len(n) != 1 || n[0].Lookups != 80 {
			t.Errorf("concurrent adds: %+v", n)
		}
	})
}

// TestReplicaBeats tests the replica beats that lookup keys' rate
// limits are divided by: each replica counted once while it beats within
// the live window, by whichever clock beats, and forgotten long after.
func TestReplicaBeats(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	c := s.Lookups
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	live := 3 * time.Second
	beat := func(replica string, at time.Time) int {
		t.Helper()
		n, err := c.BeatReplica(ctx, replica, at, live)
		must(t, err)
		return n
	}
	if n := beat("a", t0); n != 1 {
		t.Errorf("alone: %d", n)
	}
	if n := beat("b", t0.Add(time.Second)); n != 2 {
		t.Errorf("b after a: %d", n)
	}
	// Beating again is not another replica.
	for i := range 3 {
		if n := beat("a", t0.Add(time.Duration(i+1)*time.Second)); n != 2 {
			t.Errorf("a again: %d", n)
		}
	}
	// b last beat at t0+1s: counted through t0+4s (exclusive), not after.
	if n := beat("a", t0.Add(4*time.Second-time.Millisecond)); n != 2 {
		t.Errorf("b within the window: %d", n)
	}
	if n := beat("a", t0.Add(4*time.Second)); n != 1 {
		t.Errorf("b past the window: %d", n)
	}
	// A replica whose clock runs ahead is still counted.
	if n := beat("c", t0.Add(5*time.Second)); n != 2 {
		t.Errorf("c ahead: %d", n)
	}
	if n := beat("a", t0.Add(4*time.Second)); n != 2 {
		t.Errorf("a behind c: %d", n)
	}
	// Long silent, b is forgotten: beating again it counts once.
	far := t0.Add(vigil.ReplicaForget*live + 10*time.Second)
	if n := beat("d", far); n != 1 {
		t.Errorf("d alone much later: %d", n)
	}
	if n := beat("b", far); n != 2 {
		t.Errorf("b back: %d", n)
	}
	// A replica that stops is forgotten at once; forgetting again or an
	// unknown one is nothing.
	must(t, c.ForgetReplica(ctx, "d"))
	must(t, c.ForgetReplica(ctx, "d"))
	must(t, c.ForgetReplica(ctx, "never"))
	if n := beat("b", far); n != 1 {
		t.Errorf("b after d stopped: %d", n)
	}
	must(t, c.ForgetReplica(ctx, "b"))
	for _, bad := range []struct {
		replica string
		live    time.Duration
	}{{"", live}, {strings.Repeat("x", vigil.MaxReplicaName+1), live}, {"a", 0}, {"a", -time.Second}, {"a", 25 * time.Hour}} {
		_, err := c.BeatReplica(ctx, bad.replica, t0, bad.live)
		wantCode(t, err, vigil.EINVALID)
	}
	// Replicas beat at once: each counted once.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if _, err := c.BeatReplica(ctx, fmt.Sprintf("r%d", i), far.Add(time.Second), live); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n := beat("b", far.Add(time.Second)); n != 9 {
		t.Errorf("after concurrent beats: %d, want 9 (8 and b)", n)
	}
}

func lc(key int64, day string, n int64) vigil.LookupCount {
	return vigil.LookupCount{KeyID: key, Day: day, Lookups: n}
}
