package matcher_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/sqlite"
)

// TestQuarantine checks that a quarantined entry stops matching through the
// change feed, without a reload, and matches again once released; and that
// a false-positive decision quarantines automatically under a policy.
func TestQuarantine(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{banks: sqlite.NewBankService(db), entries: sqlite.NewEntryService(db)}
	f.m = matcher.New(f.banks, f.entries, slog.New(slog.DiscardHandler))
	cases := sqlite.NewCaseService(db)

	r := rand.New(rand.NewPCG(7, 7))
	b := f.bank(t, &vigil.Bank{Name: "list"})
	h := randomHash(r)
	md5 := strings.Repeat("12", 16)
	pdqEntry := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: h.String()}
	md5Entry := &vigil.Entry{SignalType: vigil.SignalMD5, Value: md5}
	kwEntry := &vigil.Entry{SignalType: vigil.SignalKeyword, Value: "secret island"}
	f.add(t, b, pdqEntry, md5Entry, kwEntry)
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	sigs := []vigil.Signal{
		{Type: vigil.SignalPDQ, Value: flip(h, 3).String()},
		{Type: vigil.SignalMD5, Value: md5},
		{Type: vigil.SignalText, Value: "meet me on secret island"},
	}
	matched := func() int {
		n := 0
		for _, res := range lookup(t, f.m, vigil.MatchOptions{}, sigs...) {
			n += len(res.Matches)
		}
		return n
	}
	if n := matched(); n != 3 {
		t.Fatalf("%d matches before quarantine, want 3", n)
	}

	for _, e := range []*vigil.Entry{pdqEntry, md5Entry, kwEntry} {
		if err := cases.QuarantineEntry(ctx, e.ID, "checking"); err != nil {
			t.Fatal(err)
		}
	}
	// The hash entries drop out even before the refresh, at lookup.
	if res := lookup(t, f.m, vigil.MatchOptions{}, sigs[:2]...); len(res[0].Matches)+len(res[1].Matches) != 0 {
		t.Error("quarantined entries matched before refresh")
	}
	if err := f.m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n := matched(); n != 0 {
		t.Errorf("%d matches after quarantine", n)
	}
	st := f.m.Status()
	if st.Types[vigil.SignalPDQ].Entries != 0 || st.Types[vigil.SignalMD5].Entries != 0 || st.Types[vigil.SignalKeyword].Entries != 0 {
		t.Errorf("index still holds quarantined entries: %+v", st.Types)
	}

	for _, e := range []*vigil.Entry{pdqEntry, md5Entry, kwEntry} {
		if err := cases.ReleaseEntry(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n := matched(); n != 3 {
		t.Errorf("%d matches after release, want 3", n)
	}

	// A reviewer's false positive quarantines the PDQ entry under the
	// policy; a fresh load leaves it out too.
	cases.Policy = vigil.QuarantinePolicy{MinFalsePositives: 1}
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	res := lookup(t, f.m, vigil.MatchOptions{}, sigs[0])
	c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, Matches: res[0].Matches, RetainUntil: time.Now().Add(time.Hour)}
	if err := cases.OpenCase(ctx, c, "rules"); err != nil {
		t.Fatal(err)
	}
	if _, err := cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictFalsePositive, DecidedBy: "rita"}); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if res := lookup(t, f.m, vigil.MatchOptions{}, sigs[0]); len(res[0].Matches) != 0 {
		t.Error("entry matched after a false positive quarantined it")
	}
	fresh := matcher.New(f.banks, f.entries, slog.New(slog.DiscardHandler))
	if err := fresh.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if st := fresh.Status(); st.Types[vigil.SignalPDQ].Entries != 0 || st.Types[vigil.SignalMD5].Entries != 1 {
		t.Errorf("fresh load: %+v", st.Types)
	}
}
