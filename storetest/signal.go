package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestSignalStore checks keeping seen signals with a retention period and
// recording retroactive matches once.
func TestSignalStore(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	clock := NewClock()
	s.SetNow(clock.Now)
	sigs := []vigil.Signal{{Type: vigil.SignalPDQ, Value: PDQ(1)}, {Type: vigil.SignalMD5, Value: "0123456789abcdef0123456789abcdef"}}
	if err := s.Signals.KeepSignals(ctx, "content-a", sigs, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Signals.KeepSignals(ctx, "content-b", sigs[1:], 3*time.Hour); err != nil {
		t.Fatal(err)
	}
	found, err := s.Signals.FindSeenSignals(ctx, vigil.SignalMD5, []string{"0123456789abcdef0123456789abcdef", "ffffffffffffffffffffffffffffffff"})
	if err != nil || len(found) != 2 {
		t.Fatalf("find: %+v %v", found, err)
	}
	var pdqs int
	s.Signals.ForEachSeenSignal(ctx, vigil.SignalPDQ, func(*vigil.SeenSignal) error { pdqs++; return nil })
	if pdqs != 1 {
		t.Fatalf("pdq signals %d", pdqs)
	}
	clock.Advance(2 * time.Hour)
	if found, _ := s.Signals.FindSeenSignals(ctx, vigil.SignalMD5, []string{"0123456789abcdef0123456789abcdef"}); len(found) != 1 || found[0].ContentSHA256 != "content-b" {
		t.Fatalf("after expiry of a: %+v", found)
	}
	if n, err := s.Signals.DeleteExpiredSignals(ctx); err != nil || n != 2 {
		t.Fatalf("purge: %d %v", n, err)
	}
	rm := []*vigil.Rematch{{ContentSHA256: "content-b", SeenAt: clock.Now(), Match: vigil.Match{EntryID: 7, Bank: "x"}}}
	for range 2 {
		if err := s.Signals.AddRematches(ctx, rm); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Signals.ListRematches(ctx, 0, 10)
	if err != nil || len(got) != 1 || got[0].Match.EntryID != 7 || got[0].FoundAt.IsZero() {
		t.Fatalf("rematches: %+v %v", got, err)
	}
	// A match recorded before gets the recorded one's ID back, not the ID
	// of whatever was inserted last (content-c's, inserted in between).
	other := []*vigil.Rematch{{ContentSHA256: "content-c", SeenAt: clock.Now(), Match: vigil.Match{EntryID: 8, Bank: "x"}}}
	if err := s.Signals.AddRematches(ctx, other); err != nil {
		t.Fatal(err)
	}
	again := []*vigil.Rematch{{ContentSHA256: "content-b", SeenAt: clock.Now(), Match: vigil.Match{EntryID: 7, Bank: "x"}}}
	if err := s.Signals.AddRematches(ctx, again); err != nil {
		t.Fatal(err)
	}
	if again[0].ID != got[0].ID || other[0].ID == got[0].ID {
		t.Fatalf("recorded again: id %d, want %d (other %d)", again[0].ID, got[0].ID, other[0].ID)
	}
}
