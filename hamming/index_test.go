package hamming

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// queriesFor returns random queries plus queries placed at and around the
// radius from stored hashes, where an off-by-one in the bound would show.
func queriesFor(r *rand.Rand, hs [][32]byte, radius, n int) [][32]byte {
	qs := make([][32]byte, 0, n)
	for len(qs) < n {
		switch len(qs) % 4 {
		case 0:
			qs = append(qs, randomHash(r))
		default:
			d := max(0, radius+len(qs)%4-2) // radius-1, radius, radius+1
			qs = append(qs, flip(r, hs[r.IntN(len(hs))], min(d, 256)))
		}
	}
	return qs
}

func TestSearchMatchesOracle(t *testing.T) {
	type dataset struct {
		name string
		ids  []uint64
		hs   [][32]byte
	}
	var sets []dataset
	ids, hs := uniformData(1, 6000)
	sets = append(sets, dataset{"uniform", ids, hs})
	ids, hs, _ = clusteredData(2, 6000, 30, 40)
	sets = append(sets, dataset{"clustered", ids, hs})
	ids, hs, _ = clusteredData(3, 6000, 3, 12)
	sets = append(sets, dataset{"tight-clusters", ids, hs})

	for _, ds := range sets {
		for _, subs := range []int{-1, 0, 11, 12, 13, 16, 32} {
			x, err := Build(ds.ids, ds.hs, Options{Substrings: subs})
			if err != nil {
				t.Fatal(err)
			}
			seg := x.cur.Load().base
			for _, radius := range testRadii {
				r := rand.New(rand.NewPCG(uint64(radius), 7))
				for qi, q := range queriesFor(r, ds.hs, radius, 24) {
					want := oracle(ds.ids, ds.hs, q, radius)
					what := fmt.Sprintf("%s subs=%d radius=%d query %d", ds.name, subs, radius, qi)
					sameResults(t, what, x.Search(q, radius, nil), want)
					if seg.canProbe(radius) {
						// Check the multi-index path itself, which the cost
						// guard would often bypass on data this small.
						w := toWords(&q)
						got, _ := seg.probe(&w, radius, nil, 0, nil, new(scratch), math.MaxInt)
						sameResults(t, what+" probe", got, want)
					}
				}
			}
		}
	}
}

func TestLayoutBySize(t *testing.T) {
	for _, c := range []struct{ n, subs, m int }{
		{100, 0, 0}, {scanBelow, 0, 32}, {1<<16 - 1, 0, 32}, {1 << 16, 0, 16},
		{1<<19 - 1, 0, 16}, {1 << 19, 0, 13}, {1<<22 - 1, 0, 13}, {1 << 22, 0, 12},
		{1<<23 - 1, 0, 12}, {1 << 23, 0, 11},
		{10, 16, 16}, {10, 32, 32}, {10, 11, 11}, {10, 12, 12}, {10, 13, 13}, {1 << 20, -1, 0}, {1 << 20, 7, 13},
	} {
		lengths := layoutFor(c.n, c.subs)
		if len(lengths) != c.m {
			t.Errorf("layoutFor(%d, %d) = %d substrings, want %d", c.n, c.subs, len(lengths), c.m)
		}
		sum := 0
		for _, b := range lengths {
			sum += b
		}
		// The 11-substring layout leaves 14 bits out of every bucket key:
		// the pigeonhole bound holds on any disjoint substrings, and the
		// full hash is still checked.
		want := 256
		if c.m == 11 {
			want = 242
		}
		if c.m > 0 && sum != want {
			t.Errorf("layoutFor(%d, %d) covers %d bits, want %d", c.n, c.subs, sum, want)
		}
		if c.m > 0 && !validLengths(lengths, newProbeTables()) {
			t.Errorf("layoutFor(%d, %d) = %v, which buildSegment cannot index", c.n, c.subs, lengths)
		}
	}
}

func TestSubstr(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for range 200 {
		h := randomHash(r)
		w := toWords(&h)
		start, n := r.IntN(256), 1+r.IntN(22)
		if start+n > 256 {
			continue
		}
		var want uint32
		for i := start; i < start+n; i++ {
			want = want<<1 | uint32(h[i/8]>>(7-i%8)&1)
		}
		if got := substr(&w, start, n); got != want {
			t.Fatalf("substr(%x, %d, %d) = %#x, want %#x", h, start, n, got, want)
		}
	}
}

func TestProbeTables(t *testing.T) {
	for b, pt := range newProbeTables() {
		seen := map[uint32]bool{}
		for i, m := range pt.masks {
			if m >= 1<<b || seen[m] {
				t.Fatalf("b=%d: mask %#x out of range or repeated", b, m)
			}
			seen[m] = true
			if i > 0 && bits.OnesCount32(m) < bits.OnesCount32(pt.masks[i-1]) {
				t.Fatalf("b=%d: masks not ordered by popcount", b)
			}
		}
		for r := 0; r <= pt.maxR; r++ {
			want := 0
			for k := 0; k <= r; k++ {
				want += binomial(b, k)
			}
			if pt.upTo[r] != want {
				t.Fatalf("b=%d: upTo[%d] = %d, want %d", b, r, pt.upTo[r], want)
			}
		}
	}
}

func binomial(n, k int) int {
	c := 1
	for i := range k {
		c = c * (n - i) / (i + 1)
	}
	return c
}

func TestSubRadiusIsPigeonhole(t *testing.T) {
	// The per-substring radii must add up to exactly radius+1-m: one more
	// bit anywhere and some substring's bound is met.
	for _, m := range []int{16, 32} {
		for radius := range 200 {
			sum := 0
			for j := range m {
				sum += subRadius(radius, m, j) + 1
			}
			if sum != radius+1 {
				t.Fatalf("m=%d radius=%d: bounds sum to %d, want %d", m, radius, sum, radius+1)
			}
		}
	}
}

func TestBuildRejectsMismatch(t *testing.T) {
	if _, err := Build([]uint64{1, 2}, make([][32]byte, 1), Options{}); err == nil {
		t.Fatal("Build accepted 2 ids and 1 hash")
	}
	x := New(Options{})
	if err := x.AddBatch([]uint64{1}, nil); err == nil {
		t.Fatal("AddBatch accepted 1 id and 0 hashes")
	}
}

func TestBuildDuplicateIDsKeepLast(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	a, b, c := randomHash(r), randomHash(r), randomHash(r)
	x, err := Build([]uint64{5, 3, 5, 3}, [][32]byte{a, b, c, a}, Options{Substrings: 16})
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != 2 {
		t.Fatalf("Len = %d, want 2", x.Len())
	}
	sameResults(t, "id 5", x.Search(c, 0, nil), []Result{{5, 0}})
	sameResults(t, "id 3", x.Search(a, 0, nil), []Result{{3, 0}})
}

// TestIncremental drives adds, replacements, removals and compactions
// against a map, checking searches and Len throughout.
func TestIncremental(t *testing.T) {
	for _, subs := range []int{0, 12, 13, 16, 32} {
		t.Run(fmt.Sprint("subs=", subs), func(t *testing.T) {
			if (subs == 12 || subs == 13) && testing.Short() {
				// Their 40 and 14 MB of directories make each of the ~60
				// compactions slow on data this small.
				t.Skip("12- and 13-substring layouts skipped in -short mode")
			}
			r := rand.New(rand.NewPCG(uint64(subs+100), 3))
			ids, hs, centres := clusteredData(4, 4000, 40, 30)
			x, err := Build(ids, hs, Options{Substrings: subs})
			if err != nil {
				t.Fatal(err)
			}
			model := make(map[uint64][32]byte, len(ids))
			for i := range ids {
				model[ids[i]] = hs[i]
			}
			nextID := uint64(len(ids) + 1)
			for step := range 3000 {
				switch op := r.IntN(100); {
				case op < 35:
					h := flip(r, centres[r.IntN(len(centres))], r.IntN(40))
					x.Add(nextID, h)
					model[nextID] = h
					nextID++
				case op < 45: // replace an existing id's hash
					id := uint64(r.IntN(int(nextID-1))) + 1
					h := randomHash(r)
					x.Add(id, h)
					model[id] = h
				case op < 75:
					id := uint64(r.IntN(int(nextID-1))) + 1
					_, had := model[id]
					if got := x.Remove(id); got != had {
						t.Fatalf("step %d: Remove(%d) = %v, want %v", step, id, got, had)
					}
					delete(model, id)
				case op < 77:
					x.Compact()
				case op < 79:
					batchIDs := make([]uint64, 50)
					batch := make([][32]byte, 50)
					for i := range batch {
						batchIDs[i] = uint64(r.IntN(int(nextID))) + 1
						batch[i] = flip(r, centres[r.IntN(len(centres))], r.IntN(40))
						model[batchIDs[i]] = batch[i]
					}
					nextID += 2
					if err := x.AddBatch(batchIDs, batch); err != nil {
						t.Fatal(err)
					}
				default:
					radius := testRadii[r.IntN(len(testRadii))]
					q := flip(r, centres[r.IntN(len(centres))], r.IntN(20))
					if r.IntN(3) == 0 {
						q = randomHash(r)
					}
					sameResults(t, fmt.Sprintf("step %d radius %d", step, radius), x.Search(q, radius, nil), oracleMap(model, q, radius))
				}
				if x.Len() != len(model) {
					t.Fatalf("step %d: Len = %d, want %d", step, x.Len(), len(model))
				}
			}
			x.Compact()
			st := x.Stats()
			if st.Delta != 0 || st.Tombstones != 0 || st.Entries != len(model) || st.Base != len(model) {
				t.Fatalf("after Compact: %+v, want %d entries all in base", st, len(model))
			}
			for range 50 {
				q := flip(r, centres[r.IntN(len(centres))], r.IntN(20))
				sameResults(t, "after final compaction", x.Search(q, 31, nil), oracleMap(model, q, 31))
			}
		})
	}
}

func TestSearchManyDedupesKeepingMin(t *testing.T) {
	ids, hs := uniformData(5, 3000)
	x, err := Build(ids, hs, Options{Substrings: 16})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	for range 20 {
		base := hs[r.IntN(len(hs))]
		qs := [][32]byte{flip(r, base, 20), flip(r, base, 5), randomHash(r), flip(r, base, 30), base}
		best := map[uint64]int{}
		for _, q := range qs {
			for _, res := range oracle(ids, hs, q, 31) {
				if d, ok := best[res.ID]; !ok || res.Distance < d {
					best[res.ID] = res.Distance
				}
			}
		}
		var want []Result
		for id, d := range best {
			want = append(want, Result{id, d})
		}
		got := x.SearchMany(qs, 31, []Result{{ID: 999999, Distance: 1}})
		if got[0] != (Result{999999, 1}) {
			t.Fatal("SearchMany overwrote dst's prefix")
		}
		got = got[1:]
		for i := 1; i < len(got); i++ {
			if got[i-1].ID >= got[i].ID {
				t.Fatalf("SearchMany results not in strictly ascending id order: %v", got)
			}
		}
		sameResults(t, "SearchMany", got, want)
	}
}

// TestConcurrentReadersAndWriters is mostly for the race detector: searches,
// writers and the background compactor run together, and every result a
// reader sees must be a real match of some version of the data.
func TestConcurrentReadersAndWriters(t *testing.T) {
	ids, hs, centres := clusteredData(6, 5000, 50, 20)
	x, err := Build(ids, hs, Options{MaxDelta: 200})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	compactorDone := make(chan error, 1)
	go func() { compactorDone <- x.RunCompactor(ctx) }()

	// Writers only ever store hashes derived from the centres, and readers
	// query the centres, so each result's distance can be checked exactly.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var searches atomic.Int64
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 11))
			var dst []Result
			for !stop.Load() {
				c := r.IntN(len(centres))
				dst = x.Search(centres[c], 31, dst[:0])
				for _, res := range dst {
					if res.Distance > 31 {
						t.Errorf("result %+v beyond radius", res)
						return
					}
				}
				searches.Add(1)
			}
		}()
	}
	r := rand.New(rand.NewPCG(12, 12))
	for i := range 4000 {
		id := uint64(r.IntN(8000)) + 1
		if i%3 == 0 {
			x.Remove(id)
		} else {
			x.Add(id, flip(r, centres[r.IntN(len(centres))], r.IntN(20)))
		}
		if i%1000 == 999 {
			x.Compact()
		}
	}
	stop.Store(true)
	wg.Wait()
	cancel()
	if err := <-compactorDone; err != context.Canceled {
		t.Fatalf("RunCompactor returned %v, want context.Canceled", err)
	}
	if searches.Load() == 0 {
		t.Fatal("readers made no searches")
	}
}
