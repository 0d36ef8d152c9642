package matcher_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/sqlite"
)

func TestRetroactiveMatching(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := &fixture{banks: sqlite.NewBankService(db), entries: sqlite.NewEntryService(db)}
	signals := sqlite.NewSignalStore(db)
	f.m = matcher.New(f.banks, f.entries, slog.New(slog.DiscardHandler))
	f.m.SetSignalStore(signals)
	b := f.bank(t, &vigil.Bank{Name: "later"})
	neg := f.bank(t, &vigil.Bank{Name: "benign", Negative: true})
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(8, 8))
	seen := randomHash(r)
	q, low := 90, 20
	const content = "c0ffee00000000000000000000000000000000000000000000000000000000aa"
	sigs := vigil.KeepableSignals([]vigil.Signal{
		{Type: vigil.SignalPDQ, Value: seen.String(), Quality: &q},
		{Type: vigil.SignalPDQ, Value: randomHash(r).String(), Quality: &low}, // too flat to keep
		{Type: vigil.SignalMD5, Value: "d35c785545392755e7e4164457657269"},
	})
	if len(sigs) != 2 {
		t.Fatalf("keepable: %+v", sigs)
	}
	if err := signals.KeepSignals(ctx, content, sigs, time.Hour); err != nil {
		t.Fatal(err)
	}
	// Entries added after the content was seen.
	f.add(t, b, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: flip(seen, 12).String(), Source: "ncmec", SourceEntryID: "late-1"},
		&vigil.Entry{SignalType: vigil.SignalMD5, Value: "d35c785545392755e7e4164457657269", Source: "iwf"},
		&vigil.Entry{SignalType: vigil.SignalPDQ, Value: flip(seen, 40).String()}) // too far
	f.add(t, neg, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: seen.String()})
	if err := f.m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	rs, err := signals.ListRematches(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("rematches: %+v", rs)
	}
	for _, rm := range rs {
		if rm.ContentSHA256 != content || rm.Match.Bank != "later" {
			t.Errorf("rematch: %+v", rm)
		}
		if rm.Match.SignalType == vigil.SignalPDQ && (rm.Match.Distance != 12 || rm.Match.SourceEntryID != "late-1") {
			t.Errorf("pdq rematch: %+v", rm.Match)
		}
	}
	// A refresh with nothing new finds nothing more.
	f.m.Refresh(ctx)
	if rs, _ := signals.ListRematches(ctx, 0, 10); len(rs) != 2 {
		t.Fatalf("rematches after an idle refresh: %d", len(rs))
	}
}

// countingSignals records how many values each FindSeenSignals call asks
// about.
type countingSignals struct {
	vigil.SignalStore
	calls []int
}

func (c *countingSignals) FindSeenSignals(ctx context.Context, t vigil.SignalType, values []string) ([]*vigil.SeenSignal, error) {
	c.calls = append(c.calls, len(values))
	return c.SignalStore.FindSeenSignals(ctx, t, values)
}

// TestRetroactiveMatchingInBatches checks that a refresh after a large
// import matches the added entries retroactively in bounded batches, and
// finds the match in a later batch, instead of holding every added entry
// until the end (issue 10: a 32 MB import peaked at 676 MB, most of it
// the entries held for retroactive matching).
func TestRetroactiveMatchingInBatches(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := &fixture{banks: sqlite.NewBankService(db), entries: sqlite.NewEntryService(db)}
	signals := &countingSignals{SignalStore: sqlite.NewSignalStore(db)}
	f.m = matcher.New(f.banks, f.entries, slog.New(slog.DiscardHandler))
	f.m.SetSignalStore(signals)
	matcher.SetRematchBatch(f.m, 3)
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	const seen = "d35c785545392755e7e4164457657269"
	const content = "c0ffee00000000000000000000000000000000000000000000000000000000aa"
	if err := signals.KeepSignals(ctx, content, []vigil.Signal{{Type: vigil.SignalMD5, Value: seen}}, time.Hour); err != nil {
		t.Fatal(err)
	}
	b := f.bank(t, &vigil.Bank{Name: "new"}) // created with its entries, after the load
	var entries []*vigil.Entry
	for i := range 9 {
		entries = append(entries, &vigil.Entry{SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", i+1)})
	}
	entries = append(entries, &vigil.Entry{SignalType: vigil.SignalMD5, Value: seen})
	f.add(t, b, entries...)
	if err := f.m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(signals.calls, []int{3, 3, 3, 1}) {
		t.Errorf("retroactive lookups of %v values, want [3 3 3 1]", signals.calls)
	}
	if rs, err := signals.ListRematches(ctx, 0, 10); err != nil || len(rs) != 1 || rs[0].Match.Bank != "new" {
		t.Fatalf("rematches %+v, %v", rs, err)
	}
}
