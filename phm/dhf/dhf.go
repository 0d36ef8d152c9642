// Package dhf is the detectable hash function of private hash matching: an
// (s, t)-DHF over GF(2^61−1) after Apple's PSI paper and S. J. Lewis'
// write-up (docs e2ee.md §1.1, §5.4).
//
// A key is s secret polynomials of degree t−1. Hash(x) is the vector
// (x, p₁(x), …, p_s(x)). Any t outputs of one key are uniformly random and
// independent, so up to t of them cannot be told from random vectors; once
// t+1 or more are mixed with at most s random vectors, Detect finds exactly
// the real ones by linear algebra. The service learns which opened
// vouchers are real only once an account has more than t of them.
package dhf

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// P is the field's prime, 2^61 − 1.
const P = 1<<61 - 1

// Key is an (s, t)-DHF key: S() polynomials of T() coefficients each.
type Key struct {
	t    int
	coef [][]uint64 // coef[i][j]: coefficient of x^j in p_i
}

// NewKey draws an (s, t)-DHF key from rng.
func NewKey(rng io.Reader, s, t int) (*Key, error) {
	if s < 1 || t < 1 || s > 1<<12 || t > 1<<12 {
		return nil, fmt.Errorf("dhf: s = %d, t = %d out of range", s, t)
	}
	k := &Key{t: t, coef: make([][]uint64, s)}
	for i := range k.coef {
		k.coef[i] = make([]uint64, t)
		for j := range k.coef[i] {
			v, err := Random(rng)
			if err != nil {
				return nil, err
			}
			k.coef[i][j] = v
		}
	}
	return k, nil
}

// S is the number of polynomials: the most random vectors Detect copes with.
func (k *Key) S() int { return len(k.coef) }

// T is the threshold: Detect needs more than T real outputs.
func (k *Key) T() int { return k.t }

// Hash returns (x, p₁(x), …, p_s(x)) for x reduced into the field.
func (k *Key) Hash(x uint64) []uint64 {
	x = reduce(x)
	out := make([]uint64, 1+len(k.coef))
	out[0] = x
	for i, c := range k.coef {
		var y uint64
		for j := len(c) - 1; j >= 0; j-- { // Horner
			y = add(mul(y, x), c[j])
		}
		out[1+i] = y
	}
	return out
}

// Random draws a uniform field element from rng (rejection sampling on
// 61-bit draws, so no value is more likely than another).
func Random(rng io.Reader) (uint64, error) {
	var b [8]byte
	for {
		if _, err := io.ReadFull(rng, b[:]); err != nil {
			return 0, fmt.Errorf("dhf: read randomness: %w", err)
		}
		v := (uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56) & P
		if v < P {
			return v, nil
		}
	}
}

// ErrShape reports points of the wrong length for the detection asked.
var ErrShape = errors.New("dhf: point has the wrong length")

// Detect returns the indices, ascending, of the points that are outputs of
// one (s, t)-DHF key, given that at most s of the points are not. It finds
// none while t or fewer real points are present. Each point is a Hash
// output: 1 + s field elements.
//
// Why it works: stack the rows x^0..x^(t−1) and the s value rows into a
// (t+s)×n matrix. A kernel vector λ supported on real points only needs
// Σλ_j·x_j^k = 0 for k < t, which t+1 distinct real x's allow; the value
// rows then vanish too, being polynomials of degree t−1 in x. Random points
// add s fresh random equations to their part of λ, which with at most s of
// them forces that part to zero. The real points are the union of the
// kernel's supports.
func Detect(points [][]uint64, s, t int) ([]int, error) {
	n := len(points)
	if s < 1 || t < 1 {
		return nil, fmt.Errorf("dhf: s = %d, t = %d out of range", s, t)
	}
	for _, p := range points {
		if len(p) != 1+s {
			return nil, ErrShape
		}
	}
	if n <= t {
		return nil, nil
	}
	rows := t + s
	m := make([][]uint64, rows)
	for r := range m {
		m[r] = make([]uint64, n)
	}
	for j, p := range points {
		x := reduce(p[0])
		pow := uint64(1)
		for k := range t {
			m[k][j] = pow
			pow = mul(pow, x)
		}
		for i := range s {
			m[t+i][j] = reduce(p[1+i])
		}
	}
	pivots := echelon(m)
	// Kernel basis: one vector λ per free column f, with λ_f = 1, the other
	// free entries 0, and the pivot entries solved by back substitution
	// (rows are normalised so that m[r][pivots[r]] = 1). The real points
	// are the union of the supports.
	isPivot := make([]bool, n)
	for _, c := range pivots {
		isPivot[c] = true
	}
	genuine := make([]bool, n)
	lambda := make([]uint64, n)
	for f := range n {
		if isPivot[f] {
			continue
		}
		clear(lambda)
		lambda[f] = 1
		genuine[f] = true
		for r := len(pivots) - 1; r >= 0; r-- {
			row := m[r]
			var acc uint64
			for j := pivots[r] + 1; j < n; j++ {
				if lambda[j] != 0 && row[j] != 0 {
					acc = add(acc, mul(row[j], lambda[j]))
				}
			}
			lambda[pivots[r]] = sub(0, acc)
			if acc != 0 {
				genuine[pivots[r]] = true
			}
		}
	}
	var out []int
	for j, ok := range genuine {
		if ok {
			out = append(out, j)
		}
	}
	return out, nil
}

// echelon brings m to row echelon form in place, each leading entry 1,
// and returns the pivot column of each leading row. Only the rows below a
// pivot are eliminated: the kernel comes from back substitution, which
// touches the few free columns only, so the full reduced form would be
// wasted work.
func echelon(m [][]uint64) []int {
	var pivots []int
	r := 0
	cols := len(m[0])
	for c := 0; c < cols && r < len(m); c++ {
		p := -1
		for i := r; i < len(m); i++ {
			if m[i][c] != 0 {
				p = i
				break
			}
		}
		if p < 0 {
			continue
		}
		m[r], m[p] = m[p], m[r]
		inv := Inv(m[r][c])
		row := m[r]
		for j := c; j < cols; j++ {
			row[j] = mul(row[j], inv)
		}
		for i := r + 1; i < len(m); i++ {
			if m[i][c] == 0 {
				continue
			}
			f := m[i][c]
			mi := m[i]
			for j := c; j < cols; j++ {
				mi[j] = sub(mi[j], mul(f, row[j]))
			}
		}
		pivots = append(pivots, c)
		r++
	}
	return pivots
}

func reduce(x uint64) uint64 {
	x = (x & P) + (x >> 61)
	if x >= P {
		x -= P
	}
	return x
}

func add(a, b uint64) uint64 {
	s := a + b // < 2^62, no overflow
	if s >= P {
		s -= P
	}
	return s
}

func sub(a, b uint64) uint64 {
	if a >= b {
		return a - b
	}
	return a + P - b
}

func mul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	// a·b = hi·2^64 + lo, and 2^61 ≡ 1, so fold the high 67 bits down.
	r := (lo & P) + (lo>>61 | hi<<3)
	if r >= P {
		r -= P
	}
	return r
}

// Inv returns the multiplicative inverse of a non-zero element
// (a^(P−2)); 0 for 0.
func Inv(a uint64) uint64 {
	result, base, e := uint64(1), reduce(a), uint64(P-2)
	for e > 0 {
		if e&1 == 1 {
			result = mul(result, base)
		}
		base = mul(base, base)
		e >>= 1
	}
	return result
}
