package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/vigil-oss/vigil"
)

// TestFeedService tests the store of feeds and subscriptions.
func TestFeedService(t *testing.T, open Opener) {
	ctx := context.Background()
	if open(t).Feeds == nil {
		t.Fatal("store has no feeds: every store keeps them, none may skip the contract")
	}
	setup := func(t *testing.T) (Services, *vigil.Bank, *vigil.Feed) {
		s := open(t)
		b := &vigil.Bank{Name: "list", Enabled: true}
		if err := s.Banks.CreateBank(ctx, b); err != nil {
			t.Fatal(err)
		}
		f := &vigil.Feed{Name: "list", Banks: []string{"list"}, VerifierKey: "k+00000000+AAAA"}
		if err := s.Feeds.CreateFeed(ctx, f); err != nil {
			t.Fatal(err)
		}
		return s, b, f
	}

	t.Run("CreateFeed", func(t *testing.T) {
		s, _, f := setup(t)
		if err := s.Feeds.CreateFeed(ctx, &vigil.Feed{Name: "list", Banks: []string{"list"}, VerifierKey: "k"}); vigil.ErrorCode(err) != vigil.ECONFLICT {
			t.Errorf("duplicate feed: %v", err)
		}
		if err := s.Feeds.CreateFeed(ctx, &vigil.Feed{Name: "other", Banks: []string{"nope"}, VerifierKey: "k"}); vigil.ErrorCode(err) != vigil.ENOTFOUND {
			t.Errorf("feed of an unknown bank: %v", err)
		}
		if err := s.Feeds.CreateFeed(ctx, &vigil.Feed{Name: "Bad Name", Banks: []string{"list"}, VerifierKey: "k"}); vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("bad feed name: %v", err)
		}
		got, err := s.Feeds.FindFeedByName(ctx, "list")
		if err != nil || got.ID != f.ID || got.Size != 0 || got.Head != "" {
			t.Errorf("FindFeedByName = %+v, %v", got, err)
		}
	})

	t.Run("FeedChanges", func(t *testing.T) {
		s, b, f := setup(t)
		other := &vigil.Bank{Name: "other", Enabled: true}
		if err := s.Banks.CreateBank(ctx, other); err != nil {
			t.Fatal(err)
		}
		add := func(bank int64, typ vigil.SignalType, v string) *vigil.Entry {
			e := &vigil.Entry{SignalType: typ, Value: v}
			if _, err := s.Entries.AddEntries(ctx, bank, "test", []*vigil.Entry{e}); err != nil {
				t.Fatal(err)
			}
			return e
		}
		e1 := add(b.ID, vigil.SignalMD5, fmt.Sprintf("%032x", 1))
		add(other.ID, vigil.SignalMD5, fmt.Sprintf("%032x", 2)) // not in the feed
		e3 := add(b.ID, vigil.SignalURL, "https://example.com/x")
		e4 := add(b.ID, vigil.SignalMD5, fmt.Sprintf("%032x", 4))
		if _, err := s.Entries.RetractEntry(ctx, e1.ID, "test", "wrong"); err != nil {
			t.Fatal(err)
		}
		cs, last, err := s.Feeds.FeedChanges(ctx, f.ID, 0, 2)
		if err != nil || len(cs) != 2 || cs[0].ID != e3.ID || cs[1].ID != e4.ID || cs[0].Op != vigil.FeedAdd {
			t.Fatalf("first page = %+v, %v", cs, err)
		}
		cs, last, err = s.Feeds.FeedChanges(ctx, f.ID, last, 2)
		if err != nil || len(cs) != 1 || cs[0].ID != e1.ID || cs[0].Op != vigil.FeedRetract || cs[0].Reason != "wrong" {
			t.Fatalf("second page = %+v, %v", cs, err)
		}
		if cs, l2, err := s.Feeds.FeedChanges(ctx, f.ID, last, 2); err != nil || len(cs) != 0 || l2 != last {
			t.Fatalf("last page = %+v, %d, %v", cs, l2, err)
		}
	})

	t.Run("AppendFeed", func(t *testing.T) {
		s, _, f := setup(t)
		a := vigil.FeedAppend{Cursor: 7, Batches: []vigil.FeedBatch{{Number: 1, Note: []byte("one")}, {Number: 2, Note: []byte("two")}},
			Hashes: map[int64][]byte{0: make([]byte, 32)}, Head: "head"}
		if err := s.Feeds.AppendFeed(ctx, f.ID, a); err != nil {
			t.Fatal(err)
		}
		// A second cut from the same starting point loses.
		if err := s.Feeds.AppendFeed(ctx, f.ID, a); vigil.ErrorCode(err) != vigil.ECONFLICT {
			t.Fatalf("interleaved cut: %v", err)
		}
		got, err := s.Feeds.FindFeedByName(ctx, "list")
		if err != nil || got.Size != 2 || got.Cursor != 7 || got.Head != "head" {
			t.Fatalf("feed after append = %+v, %v", got, err)
		}
		if b, err := s.Feeds.FeedBatch(ctx, f.ID, 2); err != nil || string(b) != "two" {
			t.Errorf("batch 2 = %q, %v", b, err)
		}
		if _, err := s.Feeds.FeedBatch(ctx, f.ID, 3); vigil.ErrorCode(err) != vigil.ENOTFOUND {
			t.Errorf("batch 3: %v", err)
		}
		if _, err := s.Feeds.FeedHashes(ctx, f.ID, []int64{0, 1}); vigil.ErrorCode(err) != vigil.ENOTFOUND {
			t.Errorf("missing hash: %v", err)
		}
	})

	t.Run("ApplyBatch", func(t *testing.T) {
		s, b, _ := setup(t)
		sub := &vigil.Subscription{URL: "http://publisher/v1/feeds/x", Feed: "x", Key: "k", BankID: b.ID}
		if err := s.Feeds.CreateSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		md5 := func(i int) string { return fmt.Sprintf("%032x", i) }
		// The bank already holds one signal, from elsewhere.
		if _, err := s.Entries.AddEntries(ctx, b.ID, "local", []*vigil.Entry{{SignalType: vigil.SignalMD5, Value: md5(2)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Feeds.ApplyBatch(ctx, sub.ID, 2, "h", nil); vigil.ErrorCode(err) != vigil.ECONFLICT {
			t.Fatalf("batch out of order: %v", err)
		}
		bad := []vigil.FeedChange{
			{Op: vigil.FeedAdd, Bank: "x", ID: 1, SignalType: vigil.SignalMD5, Value: md5(1)},
			{Op: vigil.FeedAdd, Bank: "x", ID: 9, SignalType: vigil.SignalMD5, Value: "not hex"},
		}
		if _, err := s.Feeds.ApplyBatch(ctx, sub.ID, 1, "h", bad); vigil.ErrorCode(err) != vigil.EINVALID {
			t.Fatalf("bad batch: %v", err)
		}
		if es, _ := s.Entries.FindEntries(ctx, vigil.EntryFilter{BankID: &b.ID}); len(es) != 1 {
			t.Fatalf("a refused batch left %d entries", len(es))
		}
		good := []vigil.FeedChange{
			{Op: vigil.FeedAdd, Bank: "x", ID: 1, SignalType: vigil.SignalMD5, Value: md5(1), Source: "ncmec", SourceEntryID: "n1"},
			{Op: vigil.FeedAdd, Bank: "x", ID: 2, SignalType: vigil.SignalMD5, Value: md5(2)},
			{Op: vigil.FeedAdd, Bank: "x", ID: 3, SignalType: vigil.SignalMD5, Value: md5(3)},
		}
		res, err := s.Feeds.ApplyBatch(ctx, sub.ID, 1, "h1", good)
		if err != nil || res.Added != 2 || res.Duplicates != 1 {
			t.Fatalf("apply = %+v, %v", res, err)
		}
		retract := []vigil.FeedChange{
			{Op: vigil.FeedRetract, Bank: "x", ID: 2, Reason: "wrong"}, // not the feed's: stays
			{Op: vigil.FeedRetract, Bank: "x", ID: 3, Reason: "wrong"},
			{Op: vigil.FeedRetract, Bank: "x", ID: 77}, // never sent: ignored
		}
		if _, err := s.Feeds.ApplyBatch(ctx, sub.ID, 2, "h2", retract); err != nil {
			t.Fatal(err)
		}
		es, err := s.Entries.FindEntries(ctx, vigil.EntryFilter{BankID: &b.ID})
		if err != nil || len(es) != 2 {
			t.Fatalf("active entries = %d, %v", len(es), err)
		}
		for _, e := range es {
			switch e.Value {
			case md5(1):
				if e.Source != "ncmec" || e.SourceEntryID != "n1" {
					t.Errorf("provenance lost: %+v", e)
				}
			case md5(2):
				if e.AddedBy != "local" {
					t.Errorf("held entry changed: %+v", e)
				}
			default:
				t.Errorf("unexpected active entry %+v", e)
			}
		}
		got, err := s.Feeds.FindSubscriptionByID(ctx, sub.ID)
		if err != nil || got.Applied != 2 || got.LastHash != "h2" {
			t.Fatalf("subscription = %+v, %v", got, err)
		}
		bank, _ := s.Banks.FindBankByID(ctx, b.ID)
		if bank.ActiveEntries != 2 {
			t.Errorf("bank counts %d active entries, want 2", bank.ActiveEntries)
		}
	})
}
