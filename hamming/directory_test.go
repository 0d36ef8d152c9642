package hamming

import (
	"math/rand/v2"
	"testing"
	"unsafe"
)

// TestDirectory checks the compact directory against the dense starts it
// was built from, for sparse, dense and skewed bucket loads: light blocks,
// blocks past a byte (wide), and the dense fallback.
func TestDirectory(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, tc := range []struct {
		name    string
		buckets int
		count   func(v int) int
		per     uint32 // buckets per block; 0: dense
	}{
		{"empty", 1 << 10, func(int) int { return 0 }, 60},
		{"sparse", 1 << 12, func(int) int { return r.IntN(3) }, 60},
		{"one heavy bucket", 1 << 12, func(v int) int {
			if v == 1000 {
				return 5000
			}
			return r.IntN(2)
		}, 60},
		{"heavy last block", 1 << 8, func(v int) int {
			if v >= 250 {
				return 100
			}
			return 0
		}, 28},
		{"medium load, 28 a block", 1 << 12, func(int) int { return 2 + r.IntN(5) }, 28},
		{"heavy load, 12 a block", 1 << 12, func(int) int { return 9 + r.IntN(5) }, 12},
		{"wide blocks of 28", 1 << 12, func(v int) int {
			if v%1000 == 3 {
				return 300
			}
			return 3 + r.IntN(3)
		}, 28},
		{"dense load", 1 << 10, func(int) int { return 30 + r.IntN(5) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dense := make([]uint32, tc.buckets+1)
			for v := range tc.buckets {
				dense[v+1] = dense[v] + uint32(tc.count(v))
			}
			d := newDirectory(dense)
			if d.per != tc.per || (d.blocks != nil) != (tc.per != 0) {
				t.Fatalf("%d buckets a block (compact %v), want %d", d.per, d.blocks != nil, tc.per)
			}
			if tc.name == "wide blocks of 28" && len(d.wide) == 0 {
				t.Fatal("no wide block")
			}
			if d.blocks != nil && uintptr(unsafe.Pointer(unsafe.SliceData(d.blocks)))%64 != 0 {
				t.Fatalf("blocks of %d start off a cache line", d.per)
			}
			for v := range tc.buckets {
				lo, hi := d.run(uint32(v))
				if lo != dense[v] || hi != dense[v+1] {
					t.Fatalf("bucket %d: run [%d, %d), want [%d, %d)", v, lo, hi, dense[v], dense[v+1])
				}
			}
		})
	}
}

// TestDirectoryBlockSizes checks that the multiply standing in for the
// division by a block's bucket count is exact for every bucket of every
// substring length (up to 2^22 buckets, and start(2^22)).
func TestDirectoryBlockSizes(t *testing.T) {
	for _, per := range []uint32{60, 28, 12} {
		magic := (1<<magicShift + uint64(per) - 1) / uint64(per)
		for v := uint32(0); v <= 1<<22; v++ {
			if got := uint32(uint64(v) * magic >> magicShift); got != v/per {
				t.Fatalf("per %d: %d/%d computed as %d", per, v, per, got)
			}
		}
	}
}

// TestCalibrate checks that the cost guard's constants are measured on a
// large segment, stay within their clamp, and keep the defaults on a small
// one.
func TestCalibrate(t *testing.T) {
	ids, hs := uniformData(9, calibrateFrom)
	x, err := Build(ids, hs, Options{Substrings: 16})
	if err != nil {
		t.Fatal(err)
	}
	s := x.cur.Load().base
	if s.candCost < 4 || s.candCost > 256 || s.probeCost != 2*s.candCost {
		t.Fatalf("calibrated costs: candidate %d, probe %d rows", s.candCost, s.probeCost)
	}
	t.Logf("calibrated at %d entries: a candidate costs %d scan rows", len(ids), s.candCost)
	small, err := Build(ids[:5000], hs[:5000], Options{Substrings: 16})
	if err != nil {
		t.Fatal(err)
	}
	if s := small.cur.Load().base; s.candCost != candidateCost || s.probeCost != probeCost {
		t.Fatalf("small segment: costs %d/%d, want the defaults", s.candCost, s.probeCost)
	}
}

// TestGuardFallsBack checks that near a giant cluster the calibrated guard
// abandons the probe for the scan, and that the answer is the same.
func TestGuardFallsBack(t *testing.T) {
	ids, hs, centres := clusteredData(10, 1<<17, 4, 20)
	x, err := Build(ids, hs, Options{Substrings: 16})
	if err != nil {
		t.Fatal(err)
	}
	s := x.cur.Load().base
	w := toWords(&centres[0])
	limit := (s.rows() - s.probeCount(31)*s.probeCost) / s.candCost
	if _, ok := s.probe(&w, 31, nil, 0, nil, new(scratch), limit); ok {
		t.Fatalf("probe kept within a limit of %d candidates (a candidate costs %d scan rows) near a cluster of %d", limit, s.candCost, len(ids)/4)
	}
	sameResults(t, "cluster centre", x.Search(centres[0], 31, nil), oracle(ids, hs, centres[0], 31))
}
