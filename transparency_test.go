package vigil_test

import (
	"math"
	"testing"

	"github.com/vigil-oss/vigil"
)

// Reference intervals computed with the Wilson score formula at z =
// 1.959964 (R: binom::binom.wilson; statsmodels proportion_confint
// method="wilson"), four decimals.
func TestWilson(t *testing.T) {
	for _, tc := range []struct {
		k, n      int64
		low, high float64
	}{
		{0, 10, 0, 0.2775},
		{10, 10, 0.7225, 1},
		{2, 3, 0.2077, 0.9385},
		{95, 100, 0.8882, 0.9785},
		{1, 1000, 0.0002, 0.0056},
	} {
		low, high := vigil.Wilson(tc.k, tc.n, 1.959964)
		if math.Abs(low-tc.low) > 5e-5 || math.Abs(high-tc.high) > 5e-5 {
			t.Errorf("Wilson(%d, %d) = %.4f, %.4f; want %.4f, %.4f", tc.k, tc.n, low, high, tc.low, tc.high)
		}
	}
	r := vigil.NewRate("b", 0, 0)
	if r.Rate != -1 || r.Low != -1 || r.High != -1 {
		t.Errorf("rate of nothing decided: %+v", r)
	}
	r = vigil.NewRate("b", 3, 1)
	if r.Rate != 0.75 || r.FalsePositiveRate != 0.25 || r.Low >= 0.75 || r.High <= 0.75 {
		t.Errorf("rate 3 of 4: %+v", r)
	}
}

func TestNearestRank(t *testing.T) {
	for _, tc := range []struct {
		q    float64
		n    int64
		want int64
	}{{0.5, 1, 0}, {0.5, 4, 1}, {0.9, 4, 3}, {0.5, 5, 2}, {0.9, 10, 8}, {0.9, 11, 9}, {0.5, 0, 0}} {
		if got := vigil.NearestRank(tc.q, tc.n); got != tc.want {
			t.Errorf("NearestRank(%v, %d) = %d, want %d", tc.q, tc.n, got, tc.want)
		}
	}
}
