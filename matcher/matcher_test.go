package matcher_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/sqlite"
)

type fixture struct {
	banks   vigil.BankService
	entries vigil.EntryService
	m       *matcher.Matcher
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), tb.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	f := &fixture{banks: sqlite.NewBankService(db), entries: sqlite.NewEntryService(db)}
	f.m = matcher.New(f.banks, f.entries, slog.New(slog.DiscardHandler))
	return f
}

func (f *fixture) bank(tb testing.TB, b *vigil.Bank) *vigil.Bank {
	tb.Helper()
	b.Enabled = true
	if err := f.banks.CreateBank(context.Background(), b); err != nil {
		tb.Fatal(err)
	}
	return b
}

func (f *fixture) add(tb testing.TB, bank *vigil.Bank, entries ...*vigil.Entry) {
	tb.Helper()
	if _, err := f.entries.AddEntries(context.Background(), bank.ID, "test", entries); err != nil {
		tb.Fatal(err)
	}
}

func randomHash(r *rand.Rand) pdq.Hash {
	var h pdq.Hash
	for i := range h {
		h[i] = byte(r.Uint32())
	}
	return h
}

// flip returns h with its first n bits inverted.
func flip(h pdq.Hash, n int) pdq.Hash {
	for k := range n {
		h[31-k/8] ^= 1 << (k % 8)
	}
	return h
}

func lookup(tb testing.TB, m *matcher.Matcher, opts vigil.MatchOptions, sigs ...vigil.Signal) []vigil.MatchResult {
	tb.Helper()
	res, err := m.Lookup(context.Background(), sigs, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

func TestMatchThresholdsProvenanceAndSuppression(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	r := rand.New(rand.NewPCG(1, 1))
	a := f.bank(t, &vigil.Bank{Name: "hotline"})
	strict := f.bank(t, &vigil.Bank{Name: "strict", Thresholds: map[vigil.SignalType]int{vigil.SignalPDQ: 10}})
	neg := f.bank(t, &vigil.Bank{Name: "benign-memes", Negative: true})
	h1, h2 := randomHash(r), randomHash(r)
	f.add(t, a, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: h1.String(), Source: "ncmec", SourceEntryID: "n-1", Category: "A1"},
		&vigil.Entry{SignalType: vigil.SignalMD5, Value: "d35c785545392755e7e4164457657269", Source: "iwf", SourceEntryID: "i-9"})
	f.add(t, strict, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: h1.String(), Source: "local"})
	f.add(t, a, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: h2.String(), Source: "ncmec"})
	f.add(t, neg, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: h2.String(), Source: "local", Category: "meme"})
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}

	// 20 bits away: within the default 31 of "hotline", outside strict's 10.
	res := lookup(t, f.m, vigil.MatchOptions{}, vigil.Signal{Type: vigil.SignalPDQ, Value: flip(h1, 20).String()})
	if len(res[0].Matches) != 1 {
		t.Fatalf("matches: %+v", res[0])
	}
	m := res[0].Matches[0]
	if m.Bank != "hotline" || m.Distance != 20 || m.Source != "ncmec" || m.SourceEntryID != "n-1" || m.Category != "A1" || m.Threshold != 31 {
		t.Errorf("match provenance: %+v", m)
	}
	// 5 bits: both banks.
	res = lookup(t, f.m, vigil.MatchOptions{}, vigil.Signal{Type: vigil.SignalPDQ, Value: flip(h1, 5).String()})
	if len(res[0].Matches) != 2 {
		t.Errorf("want both banks at distance 5: %+v", res[0].Matches)
	}
	// 32 bits: nothing.
	res = lookup(t, f.m, vigil.MatchOptions{}, vigil.Signal{Type: vigil.SignalPDQ, Value: flip(h1, 32).String()})
	if len(res[0].Matches) != 0 {
		t.Errorf("distance 32 matched: %+v", res[0].Matches)
	}
	// h2 is in a negative bank: suppressed.
	res = lookup(t, f.m, vigil.MatchOptions{}, vigil.Signal{Type: vigil.SignalPDQ, Value: h2.String()})
	if len(res[0].Matches) != 0 || len(res[0].SuppressedBy) != 1 || len(res[0].Suppressed) != 1 || res[0].SuppressedBy[0].Bank != "benign-memes" {
		t.Errorf("suppression: %+v", res[0])
	}
	// Exact digest, any case.
	res = lookup(t, f.m, vigil.MatchOptions{}, vigil.Signal{Type: vigil.SignalMD5, Value: "D35C785545392755E7E4164457657269"})
	if len(res[0].Matches) != 1 || res[0].Matches[0].SourceEntryID != "i-9" {
		t.Errorf("md5: %+v", res[0])
	}
	// Quality gate.
	q := 30
	res = lookup(t, f.m, vigil.MatchOptions{}, vigil.Signal{Type: vigil.SignalPDQ, Value: h1.String(), Quality: &q})
	if len(res[0].Matches) != 0 || res[0].Skipped == "" {
		t.Errorf("low quality matched: %+v", res[0])
	}
	res = lookup(t, f.m, vigil.MatchOptions{MinQuality: -1}, vigil.Signal{Type: vigil.SignalPDQ, Value: h1.String(), Quality: &q})
	if len(res[0].Matches) != 2 {
		t.Errorf("quality filter off: %+v", res[0])
	}
	// Malformed signals are caller errors naming the signal.
	for _, bad := range []vigil.Signal{{Type: vigil.SignalPDQ, Value: "abc"}, {Type: vigil.SignalMD5, Value: h1.String()}, {Type: "nope", Value: "x"}} {
		_, err := f.m.Lookup(ctx, []vigil.Signal{{Type: vigil.SignalPDQ, Value: h1.String()}, bad}, vigil.MatchOptions{})
		if code := vigil.ErrorCode(err); code != vigil.EINVALID {
			t.Errorf("%+v: error %v (code %s)", bad, err, code)
		}
	}
}

func TestRefreshFollowsChanges(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	r := rand.New(rand.NewPCG(2, 2))
	b := f.bank(t, &vigil.Bank{Name: "list"})
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	h := randomHash(r)
	sig := vigil.Signal{Type: vigil.SignalPDQ, Value: h.String()}
	if res := lookup(t, f.m, vigil.MatchOptions{}, sig); len(res[0].Matches) != 0 {
		t.Fatal("empty bank matched")
	}
	e := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: h.String()}
	f.add(t, b, e)
	if err := f.m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if res := lookup(t, f.m, vigil.MatchOptions{}, sig); len(res[0].Matches) != 1 {
		t.Fatal("added entry not matched after refresh")
	}
	// Disabling the bank stops its matches without touching the index.
	disabled := false
	if _, err := f.banks.UpdateBank(ctx, b.ID, vigil.BankUpdate{Enabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	f.m.Refresh(ctx)
	if res := lookup(t, f.m, vigil.MatchOptions{}, sig); len(res[0].Matches) != 0 {
		t.Fatal("disabled bank matched")
	}
	// Unless the caller asks for disabled banks too (HMA's raw lookup).
	if res := lookup(t, f.m, vigil.MatchOptions{IncludeDisabled: true}, sig); len(res[0].Matches) != 1 || !res[0].Matches[0].BankDisabled {
		t.Fatalf("IncludeDisabled: %+v", res[0].Matches)
	}
	enabled := true
	f.banks.UpdateBank(ctx, b.ID, vigil.BankUpdate{Enabled: &enabled})
	f.m.Refresh(ctx)
	if res := lookup(t, f.m, vigil.MatchOptions{}, sig); len(res[0].Matches) != 1 {
		t.Fatal("entry of the enabled bank not matched")
	}
	if _, err := f.entries.RetractEntry(ctx, e.ID, "curator", "false positive"); err != nil {
		t.Fatal(err)
	}
	// Even before the refresh a retracted entry is not reported.
	if res := lookup(t, f.m, vigil.MatchOptions{}, sig); len(res[0].Matches) != 0 {
		t.Fatal("retracted entry matched before refresh")
	}
	f.m.Refresh(ctx)
	if res := lookup(t, f.m, vigil.MatchOptions{}, sig); len(res[0].Matches) != 0 {
		t.Fatal("retracted entry matched")
	}
	if st := f.m.Status(); st.Types[vigil.SignalPDQ].Entries != 0 || st.Banks != 1 {
		t.Fatalf("status %+v", st)
	}
}

func TestDihedral(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	r := rand.New(rand.NewPCG(3, 3))
	b := f.bank(t, &vigil.Bank{Name: "list"})
	stored := randomHash(r)
	f.add(t, b, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: stored.String()})
	f.m.Load(ctx)
	// The query is the stored image rotated: its rot270 variant is the
	// stored hash.
	sig := vigil.Signal{Type: vigil.SignalPDQ, Value: randomHash(r).String(), Dihedral: map[string]string{"rot270": flip(stored, 3).String()}}
	if res := lookup(t, f.m, vigil.MatchOptions{}, sig); len(res[0].Matches) != 0 {
		t.Fatal("variant searched without dihedral option")
	}
	res := lookup(t, f.m, vigil.MatchOptions{Dihedral: true}, sig)
	if len(res[0].Matches) != 1 || res[0].Matches[0].Variant != "rot270" || res[0].Matches[0].Distance != 3 {
		t.Fatalf("dihedral: %+v", res[0])
	}
}
