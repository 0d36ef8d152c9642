package hamming

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// FuzzIndex interprets the input as a program of adds, removes, compactions
// and searches over a few cluster centres, and checks every search against a
// linear scan of a map. The centres make near-duplicates and distances near
// each radius common, which is where an exactness bug would hide; the
// layout byte makes the fuzzer cover the scan and the 16×16 and 32×8 probes.
func FuzzIndex(f *testing.F) {
	f.Add(uint64(1), []byte{0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	f.Add(uint64(2), []byte{1, 31, 31, 31, 31, 31, 31, 200, 201, 202, 203, 204, 205})
	f.Add(uint64(3), []byte{2, 250, 120, 64, 32, 16, 8, 4, 2, 1, 0, 255, 254, 100, 99, 98})
	f.Add(uint64(4), []byte{3, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255})
	f.Add(uint64(5), []byte{4, 3, 9, 9, 9, 9, 4, 4, 4, 4, 200, 100, 31, 16, 5, 0, 77})
	f.Add(uint64(6), []byte{5, 7, 1, 1, 1, 4, 4, 2, 2, 255, 254, 3, 3, 3, 8, 9})
	f.Fuzz(func(t *testing.T, seed uint64, prog []byte) {
		if len(prog) < 2 || len(prog) > 512 {
			return
		}
		// The 12-substring layout is left to the property and reference
		// tests: its 128 MB of tables per build make an input take seconds,
		// which the fuzzer reports as a hang.
		// The last two are the 16×16 and 32×8 substrings in the grouped
		// layout.
		layouts := []int{-1, 0, 16, 32, 16, 32}
		subs := layouts[int(prog[0])%len(layouts)]
		grouped := -1
		if int(prog[0])%len(layouts) >= 4 {
			grouped = 1
		}
		r := rand.New(rand.NewPCG(seed, 31))
		centres := make([][32]byte, 1+int(prog[1])%8)
		for i := range centres {
			centres[i] = randomHash(r)
		}
		// Start from a small built index so compacted segments with each
		// layout exist before the program runs.
		n := 50 + int(seed%400)
		ids := make([]uint64, n)
		hs := make([][32]byte, n)
		for i := range hs {
			ids[i] = uint64(i)
			hs[i] = flip(r, centres[i%len(centres)], r.IntN(70))
		}
		x, err := Build(ids, hs, Options{Substrings: subs, MaxDelta: 1 << 30, grouped: grouped})
		if err != nil {
			t.Fatal(err)
		}
		model := make(map[uint64][32]byte, n)
		for i := range ids {
			model[ids[i]] = hs[i]
		}
		radii := []int{0, 8, 16, 31, 32, 48, 63}
		compactions := 0
		for pc, op := range prog[2:] {
			arg := int(op >> 3)
			switch op & 7 {
			case 0, 1, 2: // add or replace, at a distance chosen by the input
				id := uint64(r.IntN(n + 64))
				h := flip(r, centres[arg%len(centres)], (arg*3)%72)
				x.Add(id, h)
				model[id] = h
			case 3:
				id := uint64(r.IntN(n + 64))
				_, had := model[id]
				if x.Remove(id) != had {
					t.Fatalf("op %d: Remove(%d) disagrees with model", pc, id)
				}
				delete(model, id)
			case 4:
				// A few compactions per program cover their interplay with
				// the delta; more only slow the fuzzer (each allocates the
				// 4 MB offset tables of a forced 16×16 layout).
				if compactions < 3 {
					x.Compact()
					compactions++
				}
			default: // search near a centre, or exactly on a stored hash
				radius := radii[arg%len(radii)]
				q := flip(r, centres[arg%len(centres)], r.IntN(radius+2))
				if arg%5 == 0 {
					for _, h := range model {
						q = h
						break
					}
				}
				sameResults(t, fmt.Sprintf("op %d radius %d", pc, radius), x.Search(q, radius, nil), oracleMap(model, q, radius))
				// Exercise the multi-index path even where the guard scans.
				if seg := x.cur.Load(); seg.base.canProbe(radius) {
					w := toWords(&q)
					var got []Result
					got, _ = seg.base.probe(&w, radius, seg.dead, 0, got, new(scratch), math.MaxInt)
					got = seg.scanDelta(&w, radius, got)
					sameResults(t, fmt.Sprintf("op %d radius %d probe", pc, radius), got, oracleMap(model, q, radius))
				}
			}
			if x.Len() != len(model) {
				t.Fatalf("op %d: Len = %d, want %d", pc, x.Len(), len(model))
			}
		}
	})
}
