package matcher_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/matcher"
)

// badStore is an entry store that also holds entries stored before input
// validation refused their values, or with ids too large to index. It
// serves them after the real store's entries; one with a Seq is a change
// after the load.
type badStore struct {
	vigil.EntryService
	bad []*vigil.Entry
}

func (s *badStore) ForEachActiveEntry(ctx context.Context, t vigil.SignalType, fn func(*vigil.Entry) error) (int64, error) {
	seq, err := s.EntryService.ForEachActiveEntry(ctx, t, fn)
	if err != nil {
		return 0, err
	}
	for _, e := range s.bad {
		if e.SignalType == t && e.Active() {
			if err := fn(e); err != nil {
				return 0, err
			}
		}
	}
	return seq, nil
}

func (s *badStore) EntriesChangedSince(ctx context.Context, t vigil.SignalType, seq int64, limit int) ([]*vigil.Entry, error) {
	out, err := s.EntryService.EntriesChangedSince(ctx, t, seq, limit)
	for _, e := range s.bad {
		if e.SignalType == t && e.Seq > seq {
			out = append(out, e)
		}
	}
	return out, err
}

// TestBadStoredEntriesDoNotStopTheIndex checks that entries the indexes
// cannot take (a keyword of only invisible characters, unparseable URLs,
// hashes and videos, ids past the packed range) are skipped and reported
// with their real ids, while every other entry loads, matches and keeps
// refreshing (issue 10: one such keyword made every refresh and every
// restart fail).
func TestBadStoredEntriesDoNotStopTheIndex(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	b := f.bank(t, &vigil.Bank{Name: "mixed"})
	pdqHex := strings.Repeat("ab", 32)
	f.add(t, b,
		&vigil.Entry{SignalType: vigil.SignalKeyword, Value: "telegram"},
		&vigil.Entry{SignalType: vigil.SignalURL, Value: "host:bad.example"},
		&vigil.Entry{SignalType: vigil.SignalPDQ, Value: pdqHex},
	)
	const base = 1 << 30 // above any id the real store gives here
	bs := &badStore{EntryService: f.entries, bad: []*vigil.Entry{
		{ID: base + 1, BankID: b.ID, SignalType: vigil.SignalKeyword, Value: "\u200b\u0301"},
		{ID: base + 2, BankID: b.ID, SignalType: vigil.SignalURL, Value: "a,b,c"},
		{ID: base + 3, BankID: b.ID, SignalType: vigil.SignalURL, Value: "prefix:javascript:alert(1)"},
		{ID: base + 4, BankID: b.ID, SignalType: vigil.SignalVPDQ, Value: "0,100," + pdqHex + ",NaN"},
		{ID: base + 5, BankID: b.ID, SignalType: vigil.SignalPDQ, Value: "not hex"},
		{ID: base + 6, BankID: b.ID, SignalType: vigil.SignalSHA256, Value: "abc"},
		{ID: 1 << 41, BankID: b.ID, SignalType: vigil.SignalKeyword, Value: "robux"},
	}}
	m := matcher.New(f.banks, bs, slog.New(slog.DiscardHandler))
	if err := m.Load(ctx); err != nil {
		t.Fatalf("load with bad entries: %v", err)
	}
	check := func(when string) {
		t.Helper()
		res := lookup(t, m, vigil.MatchOptions{},
			vigil.Signal{Type: vigil.SignalText, Value: "move to telegram"},
			vigil.Signal{Type: vigil.SignalURL, Value: "https://x.bad.example/p"},
			vigil.Signal{Type: vigil.SignalPDQ, Value: pdqHex})
		for i, r := range res {
			if len(r.Matches) != 1 {
				t.Errorf("%s: signal %d: %d matches, want 1", when, i, len(r.Matches))
			}
		}
		st := m.Status()
		var ids []int64
		for _, r := range st.Rejected {
			ids = append(ids, r.EntryID)
			if r.Reason == "" || r.BankID != b.ID {
				t.Errorf("%s: rejection %+v", when, r)
			}
		}
		var want []int64
		for _, e := range bs.bad {
			want = append(want, e.ID)
		}
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("%s: rejected entries %v, want %v", when, ids, want)
		}
		if n := st.Types[vigil.SignalKeyword].Rejected; n != 2 {
			t.Errorf("%s: %d keyword rejections, want 2", when, n)
		}
		if n := st.Types[vigil.SignalURL].Rejected; n != 2 {
			t.Errorf("%s: %d url rejections, want 2", when, n)
		}
	}
	check("after load")

	// Entries added later still reach the index.
	f.add(t, b,
		&vigil.Entry{SignalType: vigil.SignalKeyword, Value: "skins"},
		&vigil.Entry{SignalType: vigil.SignalURL, Value: "https://files.example/a"},
	)
	if err := m.Refresh(ctx); err != nil {
		t.Fatalf("refresh with bad entries: %v", err)
	}
	check("after refresh")
	res := lookup(t, m, vigil.MatchOptions{},
		vigil.Signal{Type: vigil.SignalText, Value: "free skins"},
		vigil.Signal{Type: vigil.SignalURL, Value: "files.example/a"})
	if len(res[0].Matches) != 1 || len(res[1].Matches) != 1 {
		t.Fatalf("entries added after a bad one: %+v", res)
	}

	// A bad entry arriving through a refresh is skipped the same way.
	bs.bad = append(bs.bad, &vigil.Entry{ID: base + 8, BankID: b.ID, SignalType: vigil.SignalMD5, Value: "zz", Seq: base})
	if err := m.Refresh(ctx); err != nil {
		t.Fatalf("refresh with a new bad entry: %v", err)
	}
	check("after a bad change")

	// Retracting a rejected entry clears its report.
	now := time.Now()
	for _, e := range bs.bad {
		if e.ID == base+5 {
			e.RetractedAt, e.Seq = &now, base+1
		}
	}
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for _, r := range m.Status().Rejected {
		if r.EntryID == base+5 {
			t.Errorf("retracted entry still reported: %+v", r)
		}
	}
}
