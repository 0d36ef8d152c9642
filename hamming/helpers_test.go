package hamming

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomHash returns a uniformly random hash; PDQ hashes are balanced (128
// ones by construction of the median threshold) and uniform bits are close.
func randomHash(r *rand.Rand) [32]byte {
	var h [32]byte
	for i := 0; i < 32; i += 8 {
		v := r.Uint64()
		for k := range 8 {
			h[i+k] = byte(v >> (8 * k))
		}
	}
	return h
}

// flip returns h with exactly n distinct random bits flipped.
func flip(r *rand.Rand, h [32]byte, n int) [32]byte {
	for _, b := range r.Perm(256)[:n] {
		h[b/8] ^= 1 << (b % 8)
	}
	return h
}

// uniformData returns n random hashes with ids 1..n.
func uniformData(seed uint64, n int) ([]uint64, [][32]byte) {
	r := rand.New(rand.NewPCG(seed, 1))
	ids := make([]uint64, n)
	hs := make([][32]byte, n)
	for i := range hs {
		ids[i] = uint64(i + 1)
		hs[i] = randomHash(r)
	}
	return ids, hs
}

// clusteredData returns n hashes around centres random centres, each member
// at a distance drawn from 0..maxFlip, as near-duplicate lists look. Members
// of one cluster get consecutive ids, shuffled if shuffle is set.
func clusteredData(seed uint64, n, centres, maxFlip int) (ids []uint64, hs [][32]byte, cs [][32]byte) {
	r := rand.New(rand.NewPCG(seed, 2))
	cs = make([][32]byte, centres)
	for i := range cs {
		cs[i] = randomHash(r)
	}
	ids = make([]uint64, n)
	hs = make([][32]byte, n)
	for i := range hs {
		ids[i] = uint64(i + 1)
		hs[i] = flip(r, cs[i*centres/n], r.IntN(maxFlip+1))
	}
	return ids, hs, cs
}

// oracle is the plain linear scan that every search is checked against.
func oracle(ids []uint64, hs [][32]byte, q [32]byte, radius int) []Result {
	var out []Result
	for i := range hs {
		if d := Distance(hs[i], q); d <= radius {
			out = append(out, Result{ID: ids[i], Distance: d})
		}
	}
	return out
}

func oracleMap(m map[uint64][32]byte, q [32]byte, radius int) []Result {
	var out []Result
	for id, h := range m {
		if d := Distance(h, q); d <= radius {
			out = append(out, Result{ID: id, Distance: d})
		}
	}
	return out
}

func sortResults(rs []Result) []Result {
	slices.SortFunc(rs, func(a, b Result) int {
		if c := cmp.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return cmp.Compare(a.Distance, b.Distance)
	})
	return rs
}

// sameResults fails tb unless got and want hold the same results, in any
// order, and got has no duplicate id.
func sameResults(tb testing.TB, what string, got, want []Result) {
	tb.Helper()
	got, want = sortResults(slices.Clone(got)), sortResults(slices.Clone(want))
	if slices.Equal(got, want) {
		return
	}
	tb.Fatalf("%s: got %d results, want %d; first difference: %s", what, len(got), len(want), firstDiff(got, want))
}

func firstDiff(got, want []Result) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("at %d got %+v want %+v", i, got[i], want[i])
		}
	}
	if len(got) > len(want) {
		return fmt.Sprintf("extra %+v", got[len(want)])
	}
	return fmt.Sprintf("missing %+v", want[len(got)])
}

// testRadii are the radii the issue asks to cover: exact, the PDQ threshold
// and both sides of the substring boundaries for 16 substrings.
var testRadii = []int{0, 1, 8, 15, 16, 17, 31, 32, 33, 48, 63, 64}
