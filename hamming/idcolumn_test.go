package hamming

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestIDColumn checks that every row reads back its id and that find
// answers for every stored id and for the ids between and around them, on
// the shapes ids take: consecutive (no bits at all), the matcher's bank and
// entry packing, random gaps of every width up to the full 64 bits, and the
// extremes of uint64. The generators are seeded, so each case is one fixed
// list.
func TestIDColumn(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	gaps := func(n int, gap func() uint64) []uint64 {
		ids := make([]uint64, n)
		next := uint64(0)
		for i := range ids {
			next += gap()
			ids[i] = next
			next++
		}
		return ids
	}
	cases := map[string][]uint64{
		"empty":       nil,
		"one":         {42},
		"one max":     {math.MaxUint64},
		"consecutive": gaps(1000, func() uint64 { return 0 }),
		"from zero, block edges": gaps(3*idBlock+1, func() uint64 {
			return 0
		}),
		"banks": func() []uint64 {
			var ids []uint64
			for bank := uint64(1); bank <= 5; bank++ {
				for e := range uint64(300) {
					ids = append(ids, bank<<40|(1000*bank+e))
				}
			}
			return ids
		}(),
		"small gaps":  gaps(2000, func() uint64 { return uint64(r.IntN(3)) }),
		"random gaps": gaps(2000, func() uint64 { return r.Uint64() >> (8 + r.IntN(56)) }),
		"huge gaps": func() []uint64 {
			ids := make([]uint64, 500)
			for i := range ids {
				ids[i] = r.Uint64()
			}
			ids = append(ids, 0, math.MaxUint64, math.MaxUint64-1, 1)
			slices.Sort(ids)
			return slices.Compact(ids)
		}(),
	}
	for name, ids := range cases {
		t.Run(name, func(t *testing.T) {
			c := newIDColumn(ids)
			if c.len() != len(ids) {
				t.Fatalf("len = %d, want %d", c.len(), len(ids))
			}
			for i, id := range ids {
				if got := c.at(uint32(i)); got != id {
					t.Fatalf("at(%d) = %d, want %d", i, got, id)
				}
				if row, ok := c.find(id); !ok || row != uint32(i) {
					t.Fatalf("find(%d) = %d, %v, want %d, true", id, row, ok, i)
				}
			}
			absent := func(id uint64) {
				if _, ok := slices.BinarySearch(ids, id); ok {
					return
				}
				if row, ok := c.find(id); ok {
					t.Fatalf("find(%d) = %d, true for an absent id", id, row)
				}
			}
			absent(0)
			absent(math.MaxUint64)
			for _, id := range ids {
				absent(id - 1)
				absent(id + 1)
			}
			if name == "consecutive" && c.bytes() > int64(len(ids))/4+64 {
				t.Fatalf("consecutive ids cost %d bytes for %d rows", c.bytes(), len(ids))
			}
		})
	}
}

// TestSegmentIDsAfterCompaction checks the id column through the index:
// removals, replacements and adds across compactions keep Search reporting
// the right ids, with ids that mix consecutive runs and wide gaps. It runs
// the 11-substring layout too, which TestIncremental leaves out for time.
func TestSegmentIDsAfterCompaction(t *testing.T) {
	for _, subs := range []int{16, 11} {
		t.Run(fmt.Sprint("subs=", subs), func(t *testing.T) { testSegmentIDsAfterCompaction(t, subs) })
	}
}

func testSegmentIDsAfterCompaction(t *testing.T, subs int) {
	r := rand.New(rand.NewPCG(7, 8))
	const n = 5000
	ids := make([]uint64, n)
	hs := make([][32]byte, n)
	for i := range ids {
		ids[i] = uint64(i/1000)<<50 | uint64(i%1000)*uint64(1+i%3)
		hs[i] = randomHash(r)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	hs = hs[:len(ids)]
	x, err := Build(ids, hs, Options{Substrings: subs})
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint64][32]byte{}
	for i, id := range ids {
		want[id] = hs[i]
	}
	for round := range 4 {
		for k := range 200 {
			id := ids[r.IntN(len(ids))]
			switch k % 3 {
			case 0:
				if _, ok := want[id]; x.Remove(id) != ok {
					t.Fatalf("round %d: Remove(%d) disagrees with the model", round, id)
				}
				delete(want, id)
			case 1:
				h := randomHash(r)
				x.Add(id, h)
				want[id] = h
			case 2:
				id := r.Uint64()
				h := randomHash(r)
				x.Add(id, h)
				want[id] = h
			}
		}
		x.Compact()
		if x.Len() != len(want) {
			t.Fatalf("round %d: Len = %d, want %d", round, x.Len(), len(want))
		}
		// Every 7th id in order, so the check is the same each run.
		keys := slices.Sorted(maps.Keys(want))
		for i := 0; i < len(keys); i += 7 {
			h := want[keys[i]]
			sameResults(t, fmt.Sprintf("round %d, id %d", round, keys[i]), x.Search(h, 0, nil), oracleMap(want, h, 0))
		}
	}
}

// FuzzIDColumn reads ascending ids from the input (each 9 bytes: a shift
// and a gap, so that gaps of every width occur) and checks that every row
// reads back and every id and its neighbours are found or not as they
// should be.
func FuzzIDColumn(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{63, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(bytesOf(300, func(i int) byte { return byte(i * 7) }))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 9*4096 {
			return
		}
		var ids []uint64
		next := uint64(0)
		for len(in) >= 9 {
			gap := binary.LittleEndian.Uint64(in[1:9]) >> (in[0] % 64)
			in = in[9:]
			if len(ids) > 0 {
				if next+gap < next || next+gap == math.MaxUint64 {
					break
				}
				next += gap + 1
			} else {
				next = gap
			}
			ids = append(ids, next)
		}
		c := newIDColumn(ids)
		for i, id := range ids {
			if got := c.at(uint32(i)); got != id {
				t.Fatalf("at(%d) = %d, want %d", i, got, id)
			}
			if row, ok := c.find(id); !ok || row != uint32(i) {
				t.Fatalf("find(%d) = %d, %v, want %d", id, row, ok, i)
			}
			for _, near := range []uint64{id - 1, id + 1} {
				_, present := slices.BinarySearch(ids, near)
				if _, ok := c.find(near); ok != present {
					t.Fatalf("find(%d) = %v, want %v", near, ok, present)
				}
			}
		}
	})
}

func bytesOf(n int, f func(int) byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = f(i)
	}
	return b
}
