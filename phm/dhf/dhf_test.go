package dhf

import (
	"crypto/rand"
	"math/big"
	mrand "math/rand/v2"
	"slices"
	"testing"

	"github.com/vigil-oss/vigil/internal/cputime"
)

func TestFieldArithmetic(t *testing.T) {
	p := big.NewInt(P)
	r := mrand.New(mrand.NewPCG(1, 2))
	for range 10000 {
		a, b := r.Uint64N(P), r.Uint64N(P)
		want := new(big.Int).Mod(new(big.Int).Mul(new(big.Int).SetUint64(a), new(big.Int).SetUint64(b)), p)
		if got := mul(a, b); got != want.Uint64() {
			t.Fatalf("%d·%d = %d, want %d", a, b, got, want)
		}
		if a != 0 && mul(a, Inv(a)) != 1 {
			t.Fatalf("inverse of %d wrong", a)
		}
		if add(sub(a, b), b) != a {
			t.Fatalf("sub/add of %d, %d", a, b)
		}
	}
	if mul(P-1, P-1) != 1 {
		t.Fatal("(−1)² ≠ 1")
	}
}

// mix returns real outputs of key at fresh random x's followed by fake
// random vectors, shuffled, and which indices are real.
func mix(t *testing.T, key *Key, nReal, nFake int) ([][]uint64, []int) {
	t.Helper()
	type pt struct {
		v    []uint64
		real bool
	}
	var pts []pt
	for range nReal {
		x, _ := Random(rand.Reader)
		pts = append(pts, pt{key.Hash(x), true})
	}
	for range nFake {
		v := make([]uint64, 1+key.S())
		for i := range v {
			v[i], _ = Random(rand.Reader)
		}
		pts = append(pts, pt{v, false})
	}
	mrand.Shuffle(len(pts), func(i, j int) { pts[i], pts[j] = pts[j], pts[i] })
	var out [][]uint64
	var real []int
	for i, p := range pts {
		out = append(out, p.v)
		if p.real {
			real = append(real, i)
		}
	}
	return out, real
}

// TestDetectThreshold is the DHF half of privacy test (1): t real outputs
// among s random ones are not found; t+1 are, exactly, with no fake one.
func TestDetectThreshold(t *testing.T) {
	const s, tt = 60, 30
	key, err := NewKey(rand.Reader, s, tt)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ real, fake int }{{tt, s}, {tt + 1, s}, {tt + 1, 0}, {45, 60}, {tt, 0}, {0, s}} {
		pts, real := mix(t, key, c.real, c.fake)
		got, err := Detect(pts, s, tt)
		if err != nil {
			t.Fatal(err)
		}
		if c.real <= tt {
			if len(got) != 0 {
				t.Errorf("%d real + %d fake: found %d, want none", c.real, c.fake, len(got))
			}
			continue
		}
		if !slices.Equal(got, real) {
			t.Errorf("%d real + %d fake: found %v, want %v", c.real, c.fake, got, real)
		}
	}
	if _, err := Detect([][]uint64{{1, 2}}, s, tt); err == nil {
		t.Error("a short point was accepted")
	}
}

func BenchmarkDetect(b *testing.B) {
	const s, tt = 60, 30
	key, _ := NewKey(rand.Reader, s, tt)
	var pts [][]uint64
	for range tt + 1 {
		x, _ := Random(rand.Reader)
		pts = append(pts, key.Hash(x))
	}
	for range s {
		v := make([]uint64, 1+s)
		for i := range v {
			v[i], _ = Random(rand.Reader)
		}
		pts = append(pts, v)
	}
	cputime.PerOp(b, func() {
		if got, _ := Detect(pts, s, tt); len(got) != tt+1 {
			b.Fatal(len(got))
		}
	})
}
