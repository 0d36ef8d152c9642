package hamming

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGroupedMatchesOracle checks the grouped layout against the linear
// oracle and the plain layout on the same data, through Search and through
// the probe itself (which the cost guard would often bypass at this size):
// uniform and clustered data, exact duplicates, sizes that leave a short
// last group, removed rows, every test radius.
func TestGroupedMatchesOracle(t *testing.T) {
	type dataset struct {
		name string
		ids  []uint64
		hs   [][32]byte
	}
	var sets []dataset
	ids, hs := uniformData(11, 6001)
	sets = append(sets, dataset{"uniform", ids, hs})
	ids, hs, _ = clusteredData(12, 6002, 30, 40)
	sets = append(sets, dataset{"clustered", ids, hs})
	ids, hs, _ = clusteredData(13, 6003, 3, 12)
	sets = append(sets, dataset{"tight-clusters", ids, hs})
	// Exact duplicates: every hash four times, in and across groups.
	ids, hs = uniformData(14, 1500)
	for i := range 4500 {
		ids = append(ids, uint64(2000+i))
		hs = append(hs, hs[(i*7)%1500])
	}
	sets = append(sets, dataset{"duplicates", ids, hs})
	ids, hs = uniformData(15, 5)
	sets = append(sets, dataset{"five", ids, hs})

	// The codings: efSeq (-1), and efBlk of 16, 32 (the default, 0) and
	// 128 high parts a block; at 128 most blocks' unary exceeds 64 bits,
	// which forces appendIn's word-by-word path.
	codings := []int{-1, 4, 0, 7}
	if testing.Short() {
		// The race pass: the default coding and the word-by-word path
		// (the full set runs without -short).
		codings = []int{0, 7}
	}
	// Both check-stage filters and decodes: assembly (AVX2, BMI2) where
	// the CPU has it, and pure Go.
	filters := []bool{false}
	if hasAVX2() {
		filters = append(filters, true)
	} else {
		t.Log("no AVX2: the pure-Go filter only")
	}
	for _, ds := range sets {
		for _, coding := range codings {
			for _, asm := range filters {
				t.Run(fmt.Sprintf("%s/blocked=%d/asm=%v", ds.name, coding, asm), func(t *testing.T) {
					groupedMatchesOracle(t, ds.name, ds.ids, ds.hs, coding, asm)
				})
			}
		}
	}
}

func groupedMatchesOracle(t *testing.T, name string, ids []uint64, hs [][32]byte, coding int, asm bool) {
	type dataset struct {
		name string
		ids  []uint64
		hs   [][32]byte
	}
	for _, ds := range []dataset{{name, ids, hs}} {
		subsets := []int{0, 11, 12, 13, 16, 32}
		if testing.Short() {
			subsets = []int{0, 16}
		}
		for _, subs := range subsets {
			grouped, err := Build(ds.ids, ds.hs, Options{Substrings: subs, grouped: 1, blocked: coding, MaxDelta: 1 << 30})
			if err != nil {
				t.Fatal(err)
			}
			plain, err := Build(ds.ids, ds.hs, Options{Substrings: subs, grouped: -1, MaxDelta: 1 << 30})
			if err != nil {
				t.Fatal(err)
			}
			seg := grouped.cur.Load().base
			if seg.m > 0 && (seg.ef == nil) == (coding < 0) || seg.m > 0 && (seg.bk == nil) == (coding >= 0) {
				t.Fatalf("%s subs=%d: not grouped", ds.name, subs)
			}
			if seg.m > 0 && (seg.frontAsm != hasAVX2() || seg.bk != nil && seg.decodeAsm != hasDecodeAsm()) {
				t.Fatalf("%s subs=%d: frontAsm %v, hasAVX2 %v, decodeAsm %v", ds.name, subs, seg.frontAsm, hasAVX2(), seg.decodeAsm)
			}
			seg.frontAsm = asm
			seg.decodeAsm = asm && seg.bk != nil && hasDecodeAsm()
			// Remove a few rows from both: the probe must skip dead rows
			// of a group while keeping the live ones.
			model := map[uint64][32]byte{}
			for i := range ds.ids {
				model[ds.ids[i]] = ds.hs[i]
			}
			for i := 0; i < len(ds.ids); i += 97 {
				grouped.Remove(ds.ids[i])
				plain.Remove(ds.ids[i])
				delete(model, ds.ids[i])
			}
			v := grouped.cur.Load()
			for _, radius := range testRadii {
				r := rand.New(rand.NewPCG(uint64(radius), 17))
				for qi, q := range queriesFor(r, ds.hs, radius, 16) {
					want := oracleMap(model, q, radius)
					what := fmt.Sprintf("%s subs=%d radius=%d query %d", ds.name, subs, radius, qi)
					sameResults(t, what, grouped.Search(q, radius, nil), want)
					sameResults(t, what+" plain", plain.Search(q, radius, nil), want)
					if seg.canProbe(radius) {
						w := toWords(&q)
						got, _ := seg.probe(&w, radius, v.dead, 0, nil, new(scratch), math.MaxInt)
						sameResults(t, what+" probe", got, want)
					}
				}
			}
		}
	}
}

// TestGroupedBuckets checks the layout's values themselves: every row's
// group is in its bucket's run in every substring, each (bucket, group)
// once, and nothing else is.
func TestGroupedBuckets(t *testing.T) {
	ids, hs, _ := clusteredData(21, 3001, 5, 6)
	for _, coding := range []int{-1, 0, 4} {
		x, err := Build(ids, hs, Options{Substrings: 16, grouped: 1, blocked: coding})
		if err != nil {
			t.Fatal(err)
		}
		groupedBuckets(t, x.cur.Load().base)
	}
}

func groupedBuckets(t *testing.T, s *segment) {
	for j := range s.m {
		want := map[uint64]bool{}
		for row := range uint32(s.rows()) {
			h := s.hashAt(row)
			v := uint64(substr(&h, s.start[j], s.length[j]))
			want[v*s.groups+uint64(row/groupRows)] = true
		}
		var got []uint64
		if s.bk != nil {
			got = s.bk[j].decode()
		} else {
			got = s.ef[j].decode()
		}
		if len(got) != len(want) {
			t.Fatalf("substring %d: %d values, want %d", j, len(got), len(want))
		}
		for i, v := range got {
			if !want[v] || (i > 0 && got[i-1] >= v) {
				t.Fatalf("substring %d: value %d at %d not expected or not ascending", j, v, i)
			}
		}
	}
}

func TestUseGrouped(t *testing.T) {
	for _, c := range []struct {
		n    int
		opts Options
		want bool
	}{
		{groupedFrom, Options{}, groupedFast()},
		{groupedFrom - 1, Options{}, false},
		{groupedFrom, Options{Plain: true}, false},
		{groupedFrom, Options{Plain: true, Grouped: true}, true},
		{groupedFrom, Options{Substrings: 11}, false},
		{groupedFrom - 1, Options{Grouped: true}, false},
		{groupedFrom, Options{Grouped: true}, true},
		{groupedFrom, Options{Grouped: true, Substrings: 11}, false},
		{groupedFrom, Options{Grouped: true, grouped: -1}, false},
		{100, Options{grouped: 1}, true},
		{1 << 30, Options{grouped: 1}, false},
	} {
		if got := useGrouped(c.n, c.opts); got != c.want {
			t.Errorf("useGrouped(%d, %+v) = %v, want %v", c.n, c.opts, got, c.want)
		}
	}
}
