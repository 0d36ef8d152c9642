package hamming

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// checkEF encodes vals and checks that every way the probe reads the
// sequence gives vals back: the whole decode, lowerBound (sample, select
// on the zeros, appendRange, low bits) at every value, its neighbours and
// random points, and appendRange over random spans of high parts.
func checkEF(t *testing.T, what string, vals []uint64, universe uint64, r *rand.Rand) {
	t.Helper()
	e := newEFSeq(vals, universe)
	if got := e.decode(); !slices.Equal(got, vals) && (len(got) != 0 || len(vals) != 0) {
		t.Fatalf("%s: decode = %v, want %v", what, got, vals)
	}
	want := func(x uint64) int { return sort.Search(len(vals), func(i int) bool { return vals[i] >= x }) }
	probes := efProbePoints(vals, universe, r)
	for _, x := range probes {
		if x > universe {
			continue
		}
		if got, w := e.lowerBound(x), want(x); got != w {
			t.Fatalf("%s: lowerBound(%d) = %d, want %d (n %d, L %d)", what, x, got, w, len(vals), e.lowBits)
		}
	}
	for range 32 {
		hlo := r.Uint64N(e.nHigh)
		hhi := min(e.nHigh-1, hlo+r.Uint64N(8))
		p, i := e.start(hlo)
		idx, high := e.appendRange(p, i, hlo, hhi, nil, nil)
		var wantIdx []uint32
		for k, v := range vals {
			if h := v >> e.lowBits; h >= hlo && h <= hhi {
				wantIdx = append(wantIdx, uint32(k))
			}
		}
		if !slices.Equal(idx, wantIdx) {
			t.Fatalf("%s: appendRange(%d..%d) = %v, want %v", what, hlo, hhi, idx, wantIdx)
		}
		for k := range idx {
			if uint64(high[k]) != vals[idx[k]]>>e.lowBits {
				t.Fatalf("%s: element %d high part %d, want %d", what, idx[k], high[k], vals[idx[k]]>>e.lowBits)
			}
		}
	}
	if e.bytes() <= 0 {
		t.Fatalf("%s: bytes %d", what, e.bytes())
	}
}

func sortedRandom(r *rand.Rand, n int, universe uint64) []uint64 {
	vals := make([]uint64, n)
	for i := range vals {
		vals[i] = r.Uint64N(universe)
	}
	slices.Sort(vals)
	return vals
}

func TestEFSeq(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	checkEF(t, "empty", nil, 1000, r)
	checkEF(t, "empty, universe 1", nil, 1, r)
	checkEF(t, "one at 0", []uint64{0}, 1, r)
	checkEF(t, "one at the top", []uint64{1<<40 - 1}, 1<<40, r)
	checkEF(t, "dense", []uint64{0, 1, 2, 3, 4, 5, 6, 7}, 8, r)
	checkEF(t, "repeats", []uint64{3, 3, 3, 3, 9, 9, 10}, 11, r)
	// One high part holding hundreds of elements: runs of ones longer
	// than a word, as a bucket of near-duplicates makes.
	heavy := make([]uint64, 300)
	for i := range heavy {
		heavy[i] = 5000 + uint64(i)
	}
	checkEF(t, "run longer than a word", heavy, 1<<20, r)
	for _, c := range []struct {
		n        int
		universe uint64
	}{{10, 100}, {100, 1 << 10}, {1000, 1 << 30}, {5000, 5000}, {4096, 1 << 22 * 1024}, {777, 1<<44 + 12345}} {
		checkEF(t, fmt.Sprintf("random n=%d U=%d", c.n, c.universe), sortedRandom(r, c.n, c.universe), c.universe, r)
	}
	// Empty stretches of more than a sample's 64 high parts.
	checkEF(t, "gaps", []uint64{1, 2, 1 << 20, 1<<20 + 1, 1 << 30}, 1<<30+1, r)
}

// FuzzEFSeq: random sorted sequences under random universes decode to
// themselves through every read path.
func FuzzEFSeq(f *testing.F) {
	f.Add(uint64(100), []byte{1, 2, 3})
	f.Add(uint64(1), []byte{0, 0, 0, 0})
	f.Add(uint64(1<<40), []byte{255, 255, 255, 255, 255, 255, 255, 255, 7})
	f.Fuzz(func(t *testing.T, universe uint64, data []byte) {
		if len(data) > 4096 || universe == 0 || universe > 1<<50 {
			return
		}
		var vals []uint64
		for len(data) >= 2 {
			// Two bytes a value, scaled over the universe, so short inputs
			// reach both ends and repeats are common.
			v := uint64(binary.LittleEndian.Uint16(data))
			vals = append(vals, v*(universe-1)/65535)
			data = data[2:]
		}
		slices.Sort(vals)
		checkEF(t, "fuzz", vals, universe, rand.New(rand.NewPCG(universe, uint64(len(vals)))))
	})
}

func TestSelectBit(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 2000 {
		x := r.Uint64() & r.Uint64()
		if r.IntN(4) == 0 {
			x = ^uint64(0)
		}
		k := 0
		for b := range 64 {
			if x>>b&1 == 1 {
				if got := selectBit(x, k); got != b {
					t.Fatalf("selectBit(%#x, %d) = %d, want %d", x, k, got, b)
				}
				k++
			}
		}
	}
}

// efProbePoints are the points a coding's lower bound is checked at: the
// ends of the universe, every value and its neighbours, and 64 random ones.
func efProbePoints(vals []uint64, universe uint64, r *rand.Rand) []uint64 {
	probes := []uint64{0, universe - 1, universe}
	for _, v := range vals {
		probes = append(probes, v, v+1, v-1)
	}
	for range 64 {
		probes = append(probes, r.Uint64N(universe+1))
	}
	return probes
}
