package eval

import (
	"math"
	"testing"

	"github.com/vigil-oss/vigil/phm"
)

func TestBinomialTail(t *testing.T) {
	// Exact sums for small n.
	for _, c := range []struct {
		n, k int
		p    float64
	}{{10, 3, 0.2}, {20, 0, 0.5}, {20, 20, 0.5}, {50, 10, 0.01}, {7, 8, 0.3}} {
		var want float64
		for i := c.k; i <= c.n; i++ {
			want += float64(binom(c.n, i)) * math.Pow(c.p, float64(i)) * math.Pow(1-c.p, float64(c.n-i))
		}
		if c.k <= 0 {
			want = 1
		}
		if got := BinomialTail(c.n, c.p, c.k); math.Abs(got-want) > 1e-12*math.Max(1, want) && math.Abs(got-want)/want > 1e-9 {
			t.Errorf("BinomialTail(%d, %g, %d) = %g, want %g", c.n, c.p, c.k, got, want)
		}
	}
	// Far tail: mean 1, 31 successes.
	if got := BinomialTail(100000, 1e-5, 31); got <= 0 || got > 1e-30 {
		t.Errorf("far tail = %g", got)
	}
	p := SafeRate(100000, 31, 1e-9)
	if BinomialTail(100000, p, 31) > 1e-9 || BinomialTail(100000, p*1.05, 31) <= 1e-9 {
		t.Errorf("SafeRate = %g is not the boundary", p)
	}
}

func binom(n, k int) int64 {
	r := int64(1)
	for i := 1; i <= k; i++ {
		r = r * int64(n-k+i) / int64(i)
	}
	return r
}

func TestSimulateAccounts(t *testing.T) {
	key := func(i int) phm.Key {
		k, _ := phm.NewKey(phm.FamilySHA256, []byte{byte(i), byte(i >> 8), 31: 1})
		return k
	}
	pool := make([][]phm.Key, 1000)
	listed := map[string]bool{}
	for i := range pool {
		pool[i] = []phm.Key{key(i)}
		if i%100 == 0 { // 10 of 1000 listed
			listed[string(key(i))] = true
		}
	}
	// Distinct positives per account are at most 10: threshold 10 is never crossed.
	r := SimulateAccounts(AccountSim{Accounts: 20, Images: 5000, RepeatRate: 0.3, Threshold: 10}, pool, listed, Seed(1))
	if r.Flagged != 0 || r.MaxPositives > 10 || r.MaxPositives == 0 {
		t.Errorf("threshold 10: flagged %d, max positives %d", r.Flagged, r.MaxPositives)
	}
	if r.Distinct >= r.Sends {
		t.Errorf("no repeats: %d distinct of %d", r.Distinct, r.Sends)
	}
	// With threshold 2, accounts that see most of the pool cross it.
	r = SimulateAccounts(AccountSim{Accounts: 20, Images: 5000, RepeatRate: 0.3, Threshold: 2}, pool, listed, Seed(1))
	if r.Flagged != 20 {
		t.Errorf("threshold 2: flagged %d of 20", r.Flagged)
	}
	if r.PerImage != 0.01 {
		t.Errorf("per-image rate %g, want 0.01", r.PerImage)
	}
	// One listed picture sent a thousand times is one positive.
	r = SimulateAccounts(AccountSim{Accounts: 1, Images: 1000, RepeatRate: 0.9, Threshold: 0}, pool[:1], listed, Seed(2))
	if r.MaxPositives != 1 || r.Distinct != 1 {
		t.Errorf("repeats counted: %d positives, %d distinct", r.MaxPositives, r.Distinct)
	}
}
