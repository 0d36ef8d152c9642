package hamming

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"
)

// frontFilterNaive is frontFilterGo's definition, spelled out.
func frontFilterNaive(quads []quad, groups []uint32, q *words, radius int) []uint32 {
	var out []uint32
	for c, g := range groups {
		for k := range groupRows {
			f := quads[g].front[k]
			if bits.OnesCount64(f[0]^q[0])+bits.OnesCount64(f[1]^q[1]) <= radius {
				out = append(out, uint32(c))
				break
			}
		}
	}
	return out
}

// filterCase makes groups of random rows, some near q (a few bits flipped
// in one row's front, or in all four), and a candidate list over them with
// repeats, from a seed.
func filterCase(r *rand.Rand, nq, ng int) ([]quad, []uint32, words) {
	q := words{r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64()}
	quads := make([]quad, nq)
	for i := range quads {
		for k := range groupRows {
			quads[i].front[k] = [2]uint64{r.Uint64(), r.Uint64()}
			quads[i].back[k] = [2]uint64{r.Uint64(), r.Uint64()}
		}
		switch r.IntN(4) {
		case 0: // one row near q
			k := r.IntN(groupRows)
			quads[i].front[k] = [2]uint64{q[0] ^ sparse(r), q[1] ^ sparse(r)}
		case 1: // all rows near q
			for k := range groupRows {
				quads[i].front[k] = [2]uint64{q[0] ^ sparse(r), q[1] ^ sparse(r)}
			}
		}
	}
	groups := make([]uint32, ng)
	for c := range groups {
		groups[c] = uint32(r.IntN(nq))
	}
	return quads, groups, q
}

// sparse returns a word of a few random bits, up to 40.
func sparse(r *rand.Rand) uint64 {
	var x uint64
	for range r.IntN(41) {
		x |= 1 << r.IntN(64)
	}
	return x
}

// TestFrontFilter checks both filters against the definition on random
// groups and candidate lists (lengths around the prefetch distance and
// the vector loop's), at every radius 0 to 129 and -1.
func TestFrontFilter(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 12))
	for _, ng := range []int{0, 1, 2, 3, 47, 48, 49, 50, 97, 500} {
		quads, groups, q := filterCase(r, 64, ng)
		for radius := -1; radius <= 129; radius++ {
			want := frontFilterNaive(quads, groups, &q, radius)
			what := fmt.Sprintf("%d groups, radius %d", ng, radius)
			checkFilters(t, what, quads, groups, &q, radius, want)
		}
	}
}

func checkFilters(t *testing.T, what string, quads []quad, groups []uint32, q *words, radius int, want []uint32) {
	t.Helper()
	out := make([]uint32, len(groups))
	if got := out[:frontFilterGo(quads, groups, q, radius, out)]; !slices.Equal(got, want) {
		t.Fatalf("%s: Go filter kept %v, want %v", what, got, want)
	}
	if !hasAVX2() {
		return
	}
	clear(out)
	if got := out[:frontFilterAsm(quads, groups, q, radius, out)]; !slices.Equal(got, want) {
		t.Fatalf("%s: AVX2 filter kept %v, want %v", what, got, want)
	}
}

// TestFrontFilterRange: a group out of range panics in both filters
// rather than reading past the groups.
func TestFrontFilterRange(t *testing.T) {
	quads := make([]quad, 8)
	groups := []uint32{1, 2, 8}
	q := words{}
	for _, asm := range []bool{false, true} {
		if asm && !hasAVX2() {
			continue
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("asm=%v: no panic on group 8 of 8", asm)
				}
			}()
			out := make([]uint32, len(groups))
			if asm {
				frontFilterAsm(quads, groups, &q, 31, out)
			} else {
				frontFilterGo(quads, groups, &q, 31, out)
			}
		}()
	}
}

// FuzzFrontFilter: random groups, candidate lists, queries and radii; the
// AVX2 filter, the Go one and the definition agree.
func FuzzFrontFilter(f *testing.F) {
	f.Add(uint64(1), uint16(10), uint16(100), int8(31))
	f.Add(uint64(2), uint16(1), uint16(1), int8(0))
	f.Add(uint64(3), uint16(300), uint16(49), int8(64))
	f.Add(uint64(4), uint16(5), uint16(1000), int8(-1))
	f.Fuzz(func(t *testing.T, seed uint64, nq, ng uint16, radius int8) {
		if nq == 0 || ng > 4096 {
			return
		}
		r := rand.New(rand.NewPCG(seed, 13))
		quads, groups, q := filterCase(r, int(nq%1024)+1, int(ng))
		want := frontFilterNaive(quads, groups, &q, int(radius))
		checkFilters(t, fmt.Sprintf("seed %d", seed), quads, groups, &q, int(radius), want)
	})
}
