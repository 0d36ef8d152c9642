package eval

import (
	"math"
	"math/rand/v2"

	"github.com/vigil-oss/vigil/phm"
)

// AccountSim configures the account false-flag simulation of e2ee.md §6:
// accounts that send only benign pictures, with repeats, and how many of
// them cross the threshold.
type AccountSim struct {
	// Accounts is how many accounts are simulated.
	Accounts int
	// Images is how many pictures each account sends (10³–10⁵ in the
	// design).
	Images int
	// RepeatRate is the chance that a send is a picture the account sent
	// before: the client sends a repeat-content voucher for it, which
	// never opens, so it cannot count however often it is sent.
	RepeatRate float64
	// Threshold is t: an account is revealed at t+1 positives.
	Threshold int
}

// AccountResult is the outcome of SimulateAccounts.
type AccountResult struct {
	AccountSim
	// Sends counts all pictures sent, Distinct the first sends (the only
	// ones with real vouchers).
	Sends, Distinct int
	// Positives counts distinct pictures with a listed key, over all
	// accounts; MaxPositives is the most any one account had.
	Positives, MaxPositives int
	// Flagged counts accounts past the threshold.
	Flagged int
	// PerImage is the per-picture false-match rate the simulation saw,
	// with its 95 % Wilson interval.
	PerImage, Low, High float64
	// BoundAtHigh is the analytic chance that one account of Images
	// distinct pictures crosses Threshold if each matched independently at
	// High (the interval's upper end): Binomial(Images, High) > t.
	BoundAtHigh float64
	// SafeRate is the largest per-picture rate at which that chance stays
	// below 10⁻⁹ per account: what the per-image measurement must show
	// for the threshold to protect accounts of this size.
	SafeRate float64
}

// SimulateAccounts draws each account's pictures from pool (the keys of
// benign pictures not in the list, as a client would send them) with
// repeats, decides each picture's keys against listed (the plaintext list
// behind the table: a key opens an element exactly when it is listed, which
// the crypto tests check apart), and counts accounts past the threshold.
// Every first send of a picture counts as a distinct real voucher; a
// pool smaller than Images makes an account resend pictures, which is the
// repeat case.
func SimulateAccounts(cfg AccountSim, pool [][]phm.Key, listed map[string]bool, rng *rand.Rand) AccountResult {
	r := AccountResult{AccountSim: cfg}
	if len(pool) == 0 || cfg.Accounts <= 0 || cfg.Images <= 0 {
		return r
	}
	matches := make([]bool, len(pool))
	for i, keys := range pool {
		for _, k := range keys {
			if listed[string(k)] {
				matches[i] = true
				break
			}
		}
	}
	seen := make([]bool, len(pool))
	var sent []int
	for range cfg.Accounts {
		clear(seen)
		sent = sent[:0]
		positives := 0
		for range cfg.Images {
			r.Sends++
			var i int
			if len(sent) > 0 && rng.Float64() < cfg.RepeatRate {
				i = sent[rng.IntN(len(sent))]
			} else {
				i = rng.IntN(len(pool))
			}
			if seen[i] {
				continue // a repeat-content voucher: never opens
			}
			seen[i] = true
			sent = append(sent, i)
			r.Distinct++
			if matches[i] {
				positives++
			}
		}
		r.Positives += positives
		r.MaxPositives = max(r.MaxPositives, positives)
		if positives > cfg.Threshold {
			r.Flagged++
		}
	}
	// The per-image rate over distinct pictures of the pool: each pool
	// picture is one trial, however often accounts drew it.
	hits := 0
	for _, m := range matches {
		if m {
			hits++
		}
	}
	r.Low, r.High = Wilson(hits, len(pool))
	r.PerImage = float64(hits) / float64(len(pool))
	r.BoundAtHigh = BinomialTail(cfg.Images, r.High, cfg.Threshold+1)
	r.SafeRate = SafeRate(cfg.Images, cfg.Threshold+1, 1e-9)
	return r
}

// BinomialTail returns P(X ≥ k) for X ~ Binomial(n, p), summed in log
// space so that it stays accurate far into the tail.
func BinomialTail(n int, p float64, k int) float64 {
	if k <= 0 {
		return 1
	}
	if k > n || p <= 0 {
		return 0
	}
	if p >= 1 {
		return 1
	}
	lp, lq := math.Log(p), math.Log1p(-p)
	lgn, _ := math.Lgamma(float64(n) + 1)
	var sum float64
	for i := k; i <= n; i++ {
		li, _ := math.Lgamma(float64(i) + 1)
		lni, _ := math.Lgamma(float64(n-i) + 1)
		t := math.Exp(lgn - li - lni + float64(i)*lp + float64(n-i)*lq)
		sum += t
		if t < sum*1e-17 && float64(i) > float64(n)*p {
			break // terms only shrink past the mean
		}
	}
	return min(1, sum)
}

// SafeRate returns the largest p (to 1 %) with P(Binomial(n, p) ≥ k) ≤
// target, by bisection on a log scale.
func SafeRate(n, k int, target float64) float64 {
	lo, hi := 1e-15, 1.0
	for range 200 {
		mid := math.Sqrt(lo * hi)
		if BinomialTail(n, mid, k) <= target {
			lo = mid
		} else {
			hi = mid
		}
		if hi/lo < 1.01 {
			break
		}
	}
	return lo
}
