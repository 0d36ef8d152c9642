package matcher_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/sqlite"
)

// countingEntries counts the store reads of matched entries.
type countingEntries struct {
	vigil.EntryService
	v                   vigil.EntryVersions
	finds, seqs, legacy atomic.Int64
}

func (c *countingEntries) FindEntryByID(ctx context.Context, id int64) (*vigil.Entry, error) {
	c.legacy.Add(1)
	return c.EntryService.FindEntryByID(ctx, id)
}

func (c *countingEntries) EntryChangeSeq(ctx context.Context) (int64, error) {
	c.seqs.Add(1)
	return c.v.EntryChangeSeq(ctx)
}

func (c *countingEntries) FindEntryAndSeq(ctx context.Context, id int64) (*vigil.Entry, int64, error) {
	c.finds.Add(1)
	return c.v.FindEntryAndSeq(ctx, id)
}

// Matched entries' provenance comes from memory while no entry changes in
// the store, and from the store again as soon as any does: a change made
// by another process (here, straight through the store) shows at the
// next lookup, before the index is refreshed.
func TestProvenanceFromMemory(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{banks: sqlite.NewBankService(db), entries: sqlite.NewEntryService(db)}
	c := &countingEntries{EntryService: f.entries, v: f.entries.(vigil.EntryVersions)}
	f.m = matcher.New(f.banks, c, slog.New(slog.DiscardHandler))
	r := rand.New(rand.NewPCG(9, 9))
	b := f.bank(t, &vigil.Bank{Name: "list"})
	h1, h2 := randomHash(r), randomHash(r)
	e1 := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: h1.String(), Source: "ncmec", Category: "A1"}
	e2 := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: h2.String(), Source: "own"}
	f.add(t, b, e1, e2)
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	sig1 := vigil.Signal{Type: vigil.SignalPDQ, Value: flip(h1, 4).String()}
	sig2 := vigil.Signal{Type: vigil.SignalPDQ, Value: flip(h2, 4).String()}
	want := func(res []vigil.MatchResult, ids ...int64) {
		t.Helper()
		for i, id := range ids {
			ms := res[i].Matches
			if id == 0 && len(ms) != 0 || id != 0 && (len(ms) != 1 || ms[0].EntryID != id) {
				t.Fatalf("signal %d: matches %+v, want entry %d", i, ms, id)
			}
		}
	}
	reads := func(finds, seqs int64) {
		t.Helper()
		if c.finds.Load() != finds || c.seqs.Load() != seqs || c.legacy.Load() != 0 {
			t.Fatalf("store reads: %d entries, %d sequences, %d by FindEntryByID; want %d, %d, 0",
				c.finds.Load(), c.seqs.Load(), c.legacy.Load(), finds, seqs)
		}
	}

	res := lookup(t, f.m, vigil.MatchOptions{}, sig1, sig2)
	want(res, e1.ID, e2.ID)
	if m := res[0].Matches[0]; m.Source != "ncmec" || m.Category != "A1" || m.Bank != "list" || m.Distance != 4 {
		t.Fatalf("provenance %+v", m)
	}
	reads(2, 0) // both read, with the sequence

	// Nothing changed: one sequence read a lookup, however many matches.
	res2 := lookup(t, f.m, vigil.MatchOptions{}, sig1, sig2)
	want(res2, e1.ID, e2.ID)
	if !reflect.DeepEqual(res2, res) {
		t.Fatalf("from memory %+v, from the store %+v", res2, res)
	}
	reads(2, 1)
	want(lookup(t, f.m, vigil.MatchOptions{}, sig1), e1.ID)
	reads(2, 2)

	// Another process retracts e2: no refresh, yet it is not reported.
	if _, err := f.entries.RetractEntry(ctx, e2.ID, "curator", "false positive"); err != nil {
		t.Fatal(err)
	}
	want(lookup(t, f.m, vigil.MatchOptions{}, sig1, sig2), e1.ID, 0)
	reads(4, 3) // the sequence moved: both read again
	want(lookup(t, f.m, vigil.MatchOptions{}, sig1, sig2), e1.ID, 0)
	reads(4, 4) // both from memory, e2 as retracted

	// And quarantine, through the case store, the same.
	if err := sqlite.NewCaseService(db).QuarantineEntry(ctx, e1.ID, "checking"); err != nil {
		t.Fatal(err)
	}
	want(lookup(t, f.m, vigil.MatchOptions{}, sig1), 0)
}
