package matcher_test

import (
	"context"
	"iter"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/pdq"
)

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestNoMemoryGrowthAcrossUpdates makes 100 successive bank updates (entries
// added and retracted through the store, so the bank keeps its size; the
// matcher refreshed and its index compacted) while lookups run continuously, and checks that the heap ends
// within 10% of where it started: reloading must not leak old indexes.
func TestNoMemoryGrowthAcrossUpdates(t *testing.T) {
	ctx := context.Background()
	n, churn, cycles := 20_000, 20, 100
	if testing.Short() {
		n, cycles = 5_000, 20
	}
	f := newFixture(t)
	b := f.bank(t, &vigil.Bank{Name: "big"})
	r := rand.New(rand.NewPCG(5, 5))
	seq := func(k int) iter.Seq2[*vigil.Entry, error] {
		return func(yield func(*vigil.Entry, error) bool) {
			for range k {
				if !yield(&vigil.Entry{SignalType: vigil.SignalPDQ, Value: randomHash(r).String()}, nil) {
					return
				}
			}
		}
	}
	if _, err := f.entries.ImportEntries(ctx, b.ID, "test", seq(n)); err != nil {
		t.Fatal(err)
	}
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}

	var stop atomic.Bool
	var lookups atomic.Int64
	var wg sync.WaitGroup
	{
		wg.Go(func() {
			qr := rand.New(rand.NewPCG(1, 7))
			for !stop.Load() {
				var q pdq.Hash
				for i := range q {
					q[i] = byte(qr.Uint32())
				}
				if _, err := f.m.Lookup(ctx, []vigil.Signal{{Type: vigil.SignalPDQ, Value: q.String()}}, vigil.MatchOptions{}); err != nil {
					t.Error(err)
					return
				}
				lookups.Add(1)
			}
		})
	}

	cycle := func() {
		added := make([]*vigil.Entry, churn)
		for i := range added {
			added[i] = &vigil.Entry{SignalType: vigil.SignalPDQ, Value: randomHash(r).String()}
		}
		if _, err := f.entries.AddEntries(ctx, b.ID, "test", added); err != nil {
			t.Fatal(err)
		}
		for _, e := range added {
			if _, err := f.entries.RetractEntry(ctx, e.ID, "test", "churn"); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.m.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		f.m.Compact()
	}
	cycle() // warm up buffers and caches before the baseline
	before := heapInUse()
	for range cycles {
		cycle()
	}
	stop.Store(true)
	wg.Wait()
	after := heapInUse()
	entries := f.m.Status().Types[vigil.SignalPDQ].Entries
	t.Logf("%d cycles, %d lookups meanwhile, %d entries now: heap %d → %d bytes (%+.1f%%)",
		cycles, lookups.Load(), entries, before, after, 100*(float64(after)-float64(before))/float64(before))
	if float64(after) > float64(before)*1.10 {
		t.Fatalf("heap grew from %d to %d bytes, more than 10%%", before, after)
	}
}
