package hamming

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func liveHeap() uint64 {
	var ms runtime.MemStats
	// Two cycles: the first may only finish sweeping what the last one found.
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryStableAcrossCompactions runs 100 update+compaction cycles while
// readers search continuously, holding the entry count constant, and checks
// the heap ends within 10% of where it started: reloading must not leak old
// segments, maps or delta arrays (HMA's common complaint).
func TestMemoryStableAcrossCompactions(t *testing.T) {
	n, churn, cycles := 100_000, 1_000, 100
	if testing.Short() {
		n, cycles = 20_000, 30
	}
	ids, hs := uniformData(21, n)
	x, err := Build(ids, hs, Options{Substrings: 16})
	if err != nil {
		t.Fatal(err)
	}
	ids, hs = nil, nil

	var stop atomic.Bool
	var wg sync.WaitGroup
	var searches atomic.Int64
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 22))
			var dst []Result
			for !stop.Load() {
				dst = x.Search(randomHash(r), 31, dst[:0])
				searches.Add(1)
			}
		}()
	}

	r := rand.New(rand.NewPCG(23, 23))
	oldest, next := uint64(1), uint64(n+1)
	cycle := func() {
		addIDs := make([]uint64, churn)
		add := make([][32]byte, churn)
		for i := range add {
			addIDs[i] = next
			add[i] = randomHash(r)
			next++
		}
		if err := x.AddBatch(addIDs, add); err != nil {
			t.Fatal(err)
		}
		for range churn {
			if !x.Remove(oldest) {
				t.Fatalf("Remove(%d) found nothing", oldest)
			}
			oldest++
		}
		x.Compact()
	}
	// One warm-up cycle so the baseline includes the steady-state shapes
	// (tombstone bitmap, delta map) rather than the fresh-from-Build ones.
	cycle()
	before := liveHeap()
	for range cycles {
		cycle()
	}
	stop.Store(true)
	wg.Wait()
	after := liveHeap()

	if x.Len() != n {
		t.Fatalf("Len = %d, want %d", x.Len(), n)
	}
	growth := float64(after)/float64(before) - 1
	t.Logf("%d entries, %d cycles of +%d/-%d with compaction, %d concurrent searches: heap %.1f MiB -> %.1f MiB (%+.2f%%), %.1f bytes/entry by Stats",
		n, cycles, churn, churn, searches.Load(), float64(before)/(1<<20), float64(after)/(1<<20), 100*growth,
		float64(x.Stats().Bytes)/float64(x.Len()))
	if growth > 0.10 {
		t.Fatalf("heap grew %.1f%% over %d cycles, limit 10%%", 100*growth, cycles)
	}
	runtime.KeepAlive(x)
}
