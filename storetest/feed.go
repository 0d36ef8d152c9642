package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

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
	t.Run("ApplyBatchRepeats", func(t *testing.T) {
		s, b, _ := setup(t)
		sub := &vigil.Subscription{URL: "http://publisher/v1/feeds/x", Feed: "x", Key: "k", BankID: b.ID}
		must(t, s.Feeds.CreateSubscription(ctx, sub))
		v := fmt.Sprintf("%032x", 5)
		active := func() []*vigil.Entry {
			t.Helper()
			es, err := s.Entries.FindEntries(ctx, vigil.EntryFilter{BankID: &b.ID})
			must(t, err)
			return es
		}
		// Two publisher entries of one signal in one batch: the second is
		// held by the first's entry, not owned.
		res, err := s.Feeds.ApplyBatch(ctx, sub.ID, 1, "h1", []vigil.FeedChange{
			{Op: vigil.FeedAdd, Bank: "x", ID: 21, SignalType: vigil.SignalMD5, Value: v},
			{Op: vigil.FeedAdd, Bank: "x", ID: 22, SignalType: vigil.SignalMD5, Value: v},
			{Op: vigil.FeedAdd, Bank: "x", ID: 21, SignalType: vigil.SignalMD5, Value: v}, // sent twice
		})
		if err != nil || res.Added != 1 || res.Duplicates != 2 {
			t.Fatalf("apply = %+v, %v; want 1 added, 2 duplicates", res, err)
		}
		apply := func(n int64, changes ...vigil.FeedChange) {
			t.Helper()
			if _, err := s.Feeds.ApplyBatch(ctx, sub.ID, n, "h", changes); err != nil {
				t.Fatal(err)
			}
		}
		apply(2, vigil.FeedChange{Op: vigil.FeedRetract, Bank: "x", ID: 22, Reason: "wrong"})
		if es := active(); len(es) != 1 {
			t.Fatalf("retracting the entry that was not the feed's own left %d active, want 1", len(es))
		}
		apply(3, vigil.FeedChange{Op: vigil.FeedRetract, Bank: "x", ID: 21, Reason: "wrong"})
		if es := active(); len(es) != 0 {
			t.Fatalf("after the owner's retraction %d active, want 0", len(es))
		}
		// Added again after its retraction: a new entry, owned again.
		apply(4, vigil.FeedChange{Op: vigil.FeedAdd, Bank: "x", ID: 21, SignalType: vigil.SignalMD5, Value: v})
		if es := active(); len(es) != 1 || es[0].AddedBy != vigil.FeedSource("x") {
			t.Fatalf("re-added: %+v", es)
		}
		apply(5, vigil.FeedChange{Op: vigil.FeedRetract, Bank: "x", ID: 21, Reason: "wrong again"})
		if es := active(); len(es) != 0 {
			t.Fatalf("re-added entry not retracted by its owner: %+v", es)
		}
		// Added, retracted and added again within one batch, beside a
		// signal the bank held already.
		w := fmt.Sprintf("%032x", 6)
		if _, err := s.Entries.AddEntries(ctx, b.ID, "local", []*vigil.Entry{{SignalType: vigil.SignalMD5, Value: w}}); err != nil {
			t.Fatal(err)
		}
		res, err = s.Feeds.ApplyBatch(ctx, sub.ID, 6, "h6", []vigil.FeedChange{
			{Op: vigil.FeedAdd, Bank: "x", ID: 31, SignalType: vigil.SignalMD5, Value: v},
			{Op: vigil.FeedAdd, Bank: "x", ID: 32, SignalType: vigil.SignalMD5, Value: w},
			{Op: vigil.FeedRetract, Bank: "x", ID: 31, Reason: "wrong"},
			{Op: vigil.FeedRetract, Bank: "x", ID: 32, Reason: "not the feed's to retract"},
			{Op: vigil.FeedAdd, Bank: "x", ID: 31, SignalType: vigil.SignalMD5, Value: v},
		})
		if err != nil || res.Added != 2 || res.Duplicates != 1 {
			t.Fatalf("mixed batch = %+v, %v; want 2 added, 1 duplicate", res, err)
		}
		if es := active(); len(es) != 2 {
			t.Fatalf("after the mixed batch %d active, want 2 (the re-added one and the held one): %+v", len(es), es)
		}
		if bank, err := s.Banks.FindBankByID(ctx, b.ID); err != nil || bank.ActiveEntries != 2 {
			t.Errorf("bank counts %d active entries, %v; want 2", bank.ActiveEntries, err)
		}
	})

	t.Run("Feedback", func(t *testing.T) {
		s, b, f := setup(t)
		// Feedback quarantines once two subscribers together report
		// enough false positives, as local review would.
		s.SetQuarantinePolicy(vigil.QuarantinePolicy{MinFalsePositives: 3, MaxPrecision: 0.5})
		es := []*vigil.Entry{{SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", 1)}, {SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", 2)}}
		other := createBank(t, s, "other")
		outside := &vigil.Entry{SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", 3)}
		if _, err := s.Entries.AddEntries(ctx, b.ID, "test", es); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Entries.AddEntries(ctx, other.ID, "test", []*vigil.Entry{outside}); err != nil {
			t.Fatal(err)
		}
		quarantined := func() bool {
			t.Helper()
			e, err := s.Entries.FindEntryByID(ctx, es[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			return e.Quarantined()
		}
		a := []vigil.FeedOpinion{{EntryID: es[0].ID, FalsePositives: 2}, {EntryID: es[1].ID, Confirmed: 1},
			{EntryID: outside.ID, FalsePositives: 9}, {EntryID: 99999, FalsePositives: 9}}
		for range 2 { // a report sent twice counts once
			if n, err := s.Feeds.RecordFeedback(ctx, f.ID, "key:1:a", a); err != nil || n != 2 {
				t.Fatalf("a's report stored %d opinions, %v; want 2 (the feed's entries only)", n, err)
			}
		}
		if quarantined() {
			t.Fatal("one subscriber's reports quarantined an entry")
		}
		if n, err := s.Feeds.RecordFeedback(ctx, f.ID, "key:2:b", []vigil.FeedOpinion{{EntryID: es[0].ID, FalsePositives: 1}}); err != nil || n != 1 {
			t.Fatalf("b's report stored %d opinions, %v", n, err)
		}
		if !quarantined() {
			t.Fatal("3 false positives from 2 subscribers did not quarantine the entry")
		}
		got, err := s.Feeds.FeedFeedback(ctx, f.ID, 0, 10)
		want := []vigil.FeedEntryFeedback{
			{EntryID: es[0].ID, Subscribers: 2, FalsePositives: 3},
			{EntryID: es[1].ID, Subscribers: 1, Confirmed: 1},
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("FeedFeedback = %+v, %v; want %+v", got, err, want)
		}
		if got, err := s.Feeds.FeedFeedback(ctx, f.ID, es[0].ID, 10); err != nil || len(got) != 1 || got[0].EntryID != es[1].ID {
			t.Fatalf("FeedFeedback after %d = %+v, %v", es[0].ID, got, err)
		}
		if _, err := s.Feeds.RecordFeedback(ctx, f.ID, "key:1:a", []vigil.FeedOpinion{{EntryID: es[0].ID, FalsePositives: -1}}); vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("negative count: %v", err)
		}
		if _, err := s.Feeds.RecordFeedback(ctx, f.ID, "", a); vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("no subscriber: %v", err)
		}
	})

	t.Run("SubscriptionOpinions", func(t *testing.T) {
		s, b, _ := setup(t)
		must(t, s.Cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}))
		sub := &vigil.Subscription{URL: "http://publisher/v1/feeds/x", Feed: "x", Key: "k", BankID: b.ID}
		must(t, s.Feeds.CreateSubscription(ctx, sub))
		md5 := func(i int) string { return fmt.Sprintf("%032x", i) }
		held := &vigil.Entry{SignalType: vigil.SignalMD5, Value: md5(2)}
		if _, err := s.Entries.AddEntries(ctx, b.ID, "local", []*vigil.Entry{held}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Feeds.ApplyBatch(ctx, sub.ID, 1, "h1", []vigil.FeedChange{
			{Op: vigil.FeedAdd, Bank: "x", ID: 11, SignalType: vigil.SignalMD5, Value: md5(1)},
			{Op: vigil.FeedAdd, Bank: "x", ID: 12, SignalType: vigil.SignalMD5, Value: md5(2)}, // held already
			{Op: vigil.FeedAdd, Bank: "x", ID: 13, SignalType: vigil.SignalMD5, Value: md5(3)}, // never reviewed
		}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Feeds.SubscriptionOpinions(ctx, sub.ID, 0, 10); err != nil || len(got) != 0 {
			t.Fatalf("opinions before any review = %+v, %v", got, err)
		}
		es, err := s.Entries.FindEntries(ctx, vigil.EntryFilter{BankID: &b.ID})
		if err != nil {
			t.Fatal(err)
		}
		decide := func(value string, v vigil.Verdict) {
			t.Helper()
			for _, e := range es {
				if e.Value != value {
					continue
				}
				c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(24 * time.Hour),
					Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", e.ID)},
					Matches: []vigil.Match{{BankID: b.ID, Bank: b.Name, EntryID: e.ID, SignalType: e.SignalType, Value: e.Value}}}
				must(t, s.Cases.OpenCase(ctx, c, "rules"))
				_, err := s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: v, DecidedBy: "rita"})
				must(t, err)
				return
			}
			t.Fatalf("no entry %s", value)
		}
		decide(md5(1), vigil.VerdictConfirmed)
		decide(md5(2), vigil.VerdictFalsePositive) // not the feed's entry: not sent back
		got, err := s.Feeds.SubscriptionOpinions(ctx, sub.ID, 0, 10)
		if want := []vigil.FeedOpinion{{EntryID: 11, Confirmed: 1}}; err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("opinions = %+v, %v; want %+v", got, err, want)
		}
	})
}
