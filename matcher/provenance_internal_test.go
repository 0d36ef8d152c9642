package matcher

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/cputime"
	"github.com/vigil-oss/vigil/sqlite"
	"github.com/vigil-oss/vigil/sqlstore"
)

// fakeEntries is a store of one entry with a shared change counter, whose
// writers the tests drive step by step: raise, commit, settle.
type fakeEntries struct {
	n         atomic.Uint64
	changeSeq int64                       // committed with the entry
	entry     atomic.Pointer[vigil.Entry] // as committed
	finds     int
	seqReads  int
	onFind    func() // runs inside the read, after its snapshot is taken
	counted   bool   // EntryChangeCount's ok
	clock     time.Duration
}

func (f *fakeEntries) EntryChangeCount() (uint64, bool) { return f.n.Load(), f.counted }

func (f *fakeEntries) FindEntryAndSeq(ctx context.Context, id int64) (*vigil.Entry, int64, error) {
	f.finds++
	e, seq := *f.entry.Load(), f.changeSeq
	if f.onFind != nil {
		f.onFind()
	}
	return &e, seq, nil
}

func (f *fakeEntries) EntryChangeSeq(ctx context.Context) (int64, error) {
	f.seqReads++
	return f.changeSeq, nil
}

// retract commits a retraction (the counter is the caller's to move).
func (f *fakeEntries) retract() {
	e := *f.entry.Load()
	now := time.Now()
	e.RetractedAt = &now
	f.entry.Store(&e)
	f.changeSeq++
}

func newFake() (*fakeEntries, *provenance) {
	f := &fakeEntries{counted: true, changeSeq: 10}
	f.n.Store(2)
	f.entry.Store(&vigil.Entry{ID: 1, SignalType: vigil.SignalMD5, Value: "v"})
	p := &provenance{store: f, max: 16, logger: slog.New(slog.DiscardHandler), counter: f,
		since: func() time.Duration { return f.clock }}
	return f, p
}

func (p *provenance) mustEntry(t *testing.T) *vigil.Entry {
	t.Helper()
	return p.mustEntryID(t, 1)
}

func (p *provenance) mustEntryID(t *testing.T, id int64) *vigil.Entry {
	t.Helper()
	e, err := p.entry(context.Background(), &lookupSeq{}, id)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The reader's side of the seqlock, over a store whose writers the test
// steps through.
func TestProvenanceCounter(t *testing.T) {
	t.Run("hit while unchanged", func(t *testing.T) {
		f, p := newFake()
		p.mustEntry(t)
		p.mustEntry(t)
		if f.finds != 1 {
			t.Fatalf("%d store reads, want 1", f.finds)
		}
		f.n.Store(4) // a change committed and settled
		f.retract()
		if e := p.mustEntry(t); e.Active() || f.finds != 2 {
			t.Fatalf("after a change: active %v, %d store reads", e.Active(), f.finds)
		}
	})
	t.Run("odd: neither used nor filled", func(t *testing.T) {
		f, p := newFake()
		p.mustEntry(t) // cached at 2
		// A writer raised the counter and is about to commit: its read of
		// the old snapshot must not be cached under 3, and the entry cached
		// under 2 must not be used (the commit may land at any moment).
		f.n.Store(3)
		p.mustEntry(t)
		p.mustEntry(t)
		f.retract() // the COMMIT; its settle has not run (or its writer died)
		if e := p.mustEntry(t); e.Active() {
			t.Fatal("an entry retracted while the counter was odd served active")
		}
		if f.finds != 4 {
			t.Fatalf("%d store reads with the counter odd, want 4", f.finds)
		}
		f.n.Store(4)
		if e := p.mustEntry(t); e.Active() {
			t.Fatal("served active after the settle")
		}
	})
	t.Run("stale fill", func(t *testing.T) {
		// The ordering trap: the reader loads 2, takes its snapshot, and a
		// writer then raises, commits and settles before the reader's put.
		// The snapshot is older than the commit: it must not be kept, under
		// 2 or under 4.
		f, p := newFake()
		f.onFind = func() {
			f.onFind = nil
			f.n.Store(3)
			f.retract()
			f.n.Store(4)
		}
		if e := p.mustEntry(t); !e.Active() {
			t.Fatal("the read before the commit is not the active entry")
		}
		if e := p.mustEntry(t); e.Active() {
			t.Fatal("a snapshot read before a commit was cached and served after it")
		}
	})
	t.Run("unannounced change", func(t *testing.T) {
		// An older Vigil retracts without raising the counter: served from
		// memory until the next periodic check, and not after it.
		f, p := newFake()
		p.mustEntry(t)
		f.retract()
		f.clock = unannouncedCheck - 1
		p.mustEntry(t) // stale, within the period: what the check bounds
		if f.seqReads != 0 {
			t.Fatalf("%d change sequence reads before the period", f.seqReads)
		}
		f.clock = unannouncedCheck
		if e := p.mustEntry(t); e.Active() {
			t.Fatal("an unannounced retraction is still served active after the check")
		}
		if e := p.mustEntry(t); e.Active() || f.seqReads != 1 || f.finds != 2 {
			t.Fatalf("after the check: active %v, %d sequence reads, %d entry reads", e.Active(), f.seqReads, f.finds)
		}
	})
	t.Run("unannounced change seen by a fill", func(t *testing.T) {
		// Two fills under one counter value that read different change
		// sequences: the cache read before the change is dropped.
		f, p := newFake()
		f.entry.Store(&vigil.Entry{ID: 2, SignalType: vigil.SignalMD5, Value: "w"})
		p.mustEntryID(t, 2)
		f.entry.Store(&vigil.Entry{ID: 1, SignalType: vigil.SignalMD5, Value: "v"})
		f.changeSeq++ // entry 2 retracted by an older Vigil
		p.mustEntryID(t, 1)
		if _, _, ok := p.get(2); ok {
			t.Fatal("an entry read before an unannounced change is still cached")
		}
		if _, _, ok := p.get(1); !ok {
			t.Fatal("the entry read after it is not cached")
		}
	})
	t.Run("no counter", func(t *testing.T) {
		f, p := newFake()
		f.counted = false
		p.mustEntry(t)
		p.mustEntry(t)
		if f.finds != 2 {
			t.Fatalf("%d store reads without a counter, want 2", f.finds)
		}
	})
}

// The stale-fill race on the SQLite store, deterministically: a hook
// between the matcher's store read and its decision to cache retracts (or
// quarantines) the entry, committing in between; no later lookup may
// report the entry active.
func TestProvenanceStaleFill(t *testing.T) {
	for _, change := range []string{"retract", "quarantine"} {
		t.Run(change, func(t *testing.T) {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			banks, entries, cases := sqlite.NewBankService(db), sqlite.NewEntryService(db), sqlite.NewCaseService(db)
			b := &vigil.Bank{Name: "b", Enabled: true}
			if err := banks.CreateBank(ctx, b); err != nil {
				t.Fatal(err)
			}
			e := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: fmt.Sprintf("%064x", 0x5eed), Source: "test"}
			if _, err := entries.AddEntries(ctx, b.ID, "setup", []*vigil.Entry{e}); err != nil {
				t.Fatal(err)
			}
			m := New(banks, entries, slog.New(slog.DiscardHandler))
			if err := m.Load(ctx); err != nil {
				t.Fatal(err)
			}
			if m.prov == nil || m.prov.counter == nil {
				t.Skip("the store has no shared change counter here")
			}
			reported := func() bool {
				t.Helper()
				res, err := m.Lookup(ctx, []vigil.Signal{{Type: vigil.SignalPDQ, Value: e.Value}}, vigil.MatchOptions{})
				if err != nil {
					t.Fatal(err)
				}
				return len(res[0].Matches) == 1
			}
			var hooked int
			m.prov.afterRead = func(id int64) {
				hooked++
				if hooked > 1 {
					return
				}
				var err error
				if change == "retract" {
					_, err = entries.RetractEntry(ctx, id, "curator", "wrong")
				} else {
					err = cases.QuarantineEntry(ctx, id, "checking")
				}
				if err != nil {
					t.Error(err)
				}
			}
			if !reported() {
				t.Fatal("the lookup that overlapped the change read the entry after it")
			}
			for range 3 {
				if reported() {
					t.Fatalf("the entry read before the %s committed is served after it", change)
				}
			}
			// The first lookup after the change read the store and cached
			// the entry as it now is; the others were served that.
			if hooked != 2 {
				t.Fatalf("%d store reads, want 2", hooked)
			}
		})
	}
}

// BenchmarkProvenanceHit measures a lookup's read of one matched entry's
// provenance from memory: change-seq is the store's change sequence read
// once per lookup (vigil.EntryVersions, a SQLite read; main's path and
// the fallback), counter the shared change counter's atomic loads. Both
// over the same SQLite store, in the same run.
//
//	go test -run '^$' -bench BenchmarkProvenanceHit ./matcher/
func BenchmarkProvenanceHit(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	banks, entries := sqlite.NewBankService(db), sqlite.NewEntryService(db)
	bank := &vigil.Bank{Name: "b", Enabled: true}
	if err := banks.CreateBank(ctx, bank); err != nil {
		b.Fatal(err)
	}
	e := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: fmt.Sprintf("%064x", 0xbe4c), Source: "test"}
	if _, err := entries.AddEntries(ctx, bank.ID, "setup", []*vigil.Entry{e}); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		p    *provenance
	}{
		{"change-seq", &provenance{store: entries, max: defaultProvenanceEntries}},
		{"counter", newProvenance(entries, defaultProvenanceEntries, nil)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if bc.name == "counter" && bc.p.counter == nil {
				b.Skip("no shared change counter here")
			}
			if _, err := bc.p.entry(ctx, &lookupSeq{}, e.ID); err != nil { // fills the cache
				b.Fatal(err)
			}
			b.ReportAllocs()
			cputime.PerOp(b, func() {
				var v lookupSeq // one per lookup
				if _, err := bc.p.entry(ctx, &v, e.ID); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// An entry change made without the shared counter (as an older Vigil
// writing to the same database makes it: SQL alone) is caught by the
// periodic read of the change sequence.
func TestProvenanceUnannouncedWriter(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	banks, entries := sqlite.NewBankService(db), sqlite.NewEntryService(db)
	b := &vigil.Bank{Name: "b", Enabled: true}
	if err := banks.CreateBank(ctx, b); err != nil {
		t.Fatal(err)
	}
	e := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: fmt.Sprintf("%064x", 0x01d), Source: "test"}
	if _, err := entries.AddEntries(ctx, b.ID, "setup", []*vigil.Entry{e}); err != nil {
		t.Fatal(err)
	}
	m := New(banks, entries, slog.New(slog.DiscardHandler))
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if m.prov == nil || m.prov.counter == nil {
		t.Skip("the store has no shared change counter here")
	}
	var clock atomic.Int64
	m.prov.since = func() time.Duration { return time.Duration(clock.Load()) }
	reported := func() bool {
		t.Helper()
		res, err := m.Lookup(ctx, []vigil.Signal{{Type: vigil.SignalPDQ, Value: e.Value}}, vigil.MatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(res[0].Matches) == 1
	}
	if !reported() || !reported() {
		t.Fatal("the entry is not reported")
	}

	old, err := sql.Open("sqlite", "file:"+db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := old.ExecContext(ctx, `
		UPDATE entries SET retracted_at = ?, retracted_by = 'old', retract_reason = 'old',
			seq = (SELECT value + 1 FROM change_seq WHERE id = 1) WHERE id = ?;
		UPDATE change_seq SET value = value + 1 WHERE id = 1`, sqlstore.FormatTime(time.Now()), e.ID); err != nil {
		t.Fatal(err)
	}
	clock.Store(int64(unannouncedCheck))
	if reported() {
		t.Fatal("an entry retracted without the counter is reported after the check")
	}
}
