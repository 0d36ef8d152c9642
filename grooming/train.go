package grooming

import (
	"cmp"
	"math"
	"slices"
)

// Training is deterministic: features come from the tagger, folds from a
// sorted greedy assignment of groups, and the fit is Newton's method on a
// convex objective from zero weights. The same data gives the same model
// file byte for byte.

// Example is one labelled conversation as the trainer sees it: the
// feature vector of every candidate pair at the end of the conversation.
type Example struct {
	ID    string
	Label bool
	Group string
	// Pairs are the candidate pairs' features; Actors their actors' From
	// values; Meta the pairs' platform-metadata prior (not learned).
	Pairs  [][numFeatures]float64
	Actors []string
	Meta   []float64
	// Allowed marks the pairs a positive may be explained by: those whose
	// actor is the labelled suspect, when one is labelled and spoke.
	Allowed []bool
}

// Examples extracts training examples from labelled records. groups[i]
// names record i's batch for leave-one-batch-out (its source file, so
// that one writer's twins and variants stay together).
func Examples(recs []Record, groups []string) []Example {
	d := NewDetector(Options{Scorer: ScorerHand})
	var out []Example
	for i, rec := range recs {
		if rec.Label == "" {
			continue
		}
		st := NewState(rec.Participants)
		for _, m := range rec.Messages {
			d.Append(st, m)
		}
		ex := Example{ID: rec.ID, Label: rec.Label == "grooming", Group: groups[i]}
		st.candidates(func(a, b int) {
			var pv pairView
			d.evidence(st, a, b, &pv)
			var x [numFeatures]float64
			d.features(st, &pv, &x)
			ex.Pairs = append(ex.Pairs, x)
			ex.Actors = append(ex.Actors, st.Speakers[a].ID)
			ex.Meta = append(ex.Meta, metaShift(st, &pv, func(string, ...any) {}))
		})
		if len(ex.Pairs) == 0 {
			ex.Pairs = append(ex.Pairs, [numFeatures]float64{})
			ex.Actors = append(ex.Actors, "")
			ex.Meta = append(ex.Meta, 0)
		}
		ex.Allowed = make([]bool, len(ex.Pairs))
		any := false
		for k, a := range ex.Actors {
			if ex.Label && rec.Suspect != "" && a == clipID(rec.Suspect) {
				ex.Allowed[k], any = true, true
			}
		}
		if !any {
			for k := range ex.Allowed {
				ex.Allowed[k] = true
			}
		}
		out = append(out, ex)
	}
	return out
}

// weights is a fitted linear model: bias and feature weights.
type weights struct {
	b float64
	w [numFeatures]float64
}

func (w *weights) z(x *[numFeatures]float64) float64 {
	z := w.b
	for i := range x {
		z += w.w[i] * x[i]
	}
	return z
}

// best is the index and logit of the highest-scoring pair an example may
// be explained by (all pairs for a benign conversation: its riskiest pair
// is what a platform would see).
func (w *weights) best(ex *Example, restrict bool) (int, float64) {
	bi, bz := -1, math.Inf(-1)
	for k := range ex.Pairs {
		if restrict && !ex.Allowed[k] {
			continue
		}
		if z := w.z(&ex.Pairs[k]) + ex.Meta[k]; z > bz {
			bi, bz = k, z
		}
	}
	return bi, bz
}

// fit trains L2-regularised logistic regression on examples. Each
// conversation is represented by one pair, the riskiest by the current
// weights (a positive's among its suspect's pairs); pairs are re-chosen
// and the model refitted a few rounds, starting from the hand scorer's
// choice of pair.
func fit(exs []Example, lambda float64, off *[numFeatures]bool) weights {
	sel := make([]int, len(exs))
	for i := range exs {
		// First round: the pair with the most raised evidence.
		best, bv := 0, -1.0
		for k := range exs[i].Pairs {
			if !exs[i].Allowed[k] {
				continue
			}
			var v float64
			for f := range int(numFamilies) {
				v += exs[i].Pairs[k][featE+f]
			}
			if v > bv {
				best, bv = k, v
			}
		}
		sel[i] = best
	}
	var w weights
	frozen := *off
	for round := 0; round < 3; round++ {
		// Features the recipe switches off stay frozen at zero.
		// Evidence only adds: a family, a pair of families, persistence,
		// breadth or an order term with a negative weight is an artefact
		// of correlated features, so it is fixed at zero and the rest
		// refitted (an active-set fit of the sign constraints).
		for pass := 0; pass < 20; pass++ {
			w = newton(exs, sel, lambda, w, &frozen)
			changed := false
			for i := range numFeatures {
				if monotone(i) && !frozen[i] && w.w[i] < 0 {
					frozen[i], w.w[i], changed = true, 0, true
				}
			}
			if !changed {
				break
			}
		}
		for i := range exs {
			sel[i], _ = w.best(&exs[i], exs[i].Label)
		}
	}
	return w
}

// monotone reports whether feature i is evidence that may only raise risk.
func monotone(i int) bool {
	switch {
	case i < featScalar:
		return true
	case i == fBreadth2, i == fBreadth3, i == fBreadth4, i == fFastSextortion, i == fOversightMove, i == fCaregiverExcluded, i == fAdultToMinor:
		return true
	case i >= fAgeThenSecrecy && i <= fRiskThenMeeting:
		return true
	}
	return false
}

// newton minimises Σ logloss + λ/2·|w|² (bias unpenalised) for the
// selected pairs by Newton's method.
func newton(exs []Example, sel []int, lambda float64, w weights, frozen *[numFeatures]bool) weights {
	const p = int(numFeatures) + 1 // bias last
	h := make([]float64, p*p)
	g := make([]float64, p)
	x := make([]float64, p)
	for it := 0; it < 30; it++ {
		clear(h)
		clear(g)
		for i := range exs {
			xf := &exs[i].Pairs[sel[i]]
			copy(x, xf[:])
			x[p-1] = 1
			mu := sigmoid(w.z(xf) + exs[i].Meta[sel[i]])
			y := b2f(exs[i].Label)
			r := mu - y
			s := math.Max(mu*(1-mu), 1e-9)
			for a := 0; a < p; a++ {
				if x[a] == 0 {
					continue
				}
				g[a] += r * x[a]
				row := h[a*p:]
				for b := a; b < p; b++ {
					row[b] += s * x[a] * x[b]
				}
			}
		}
		for a := 0; a < p-1; a++ {
			g[a] += lambda * w.w[a]
			h[a*p+a] += lambda
			if frozen[a] {
				// A frozen weight stays zero: no gradient, no coupling.
				g[a] = 0
				for b := 0; b < p; b++ {
					h[a*p+b], h[b*p+a] = 0, 0
				}
				h[a*p+a] = 1
			}
		}
		h[(p-1)*p+p-1] += 1e-6
		for a := 0; a < p; a++ {
			for b := 0; b < a; b++ {
				h[a*p+b] = h[b*p+a]
			}
		}
		step, ok := cholSolve(h, g, p)
		if !ok {
			break
		}
		// Damped step: halve until the objective does not rise, so that a
		// nearly separable fold cannot make Newton diverge.
		f0 := objective(exs, sel, lambda, &w)
		t := 1.0
		var nw weights
		for try := 0; try < 20; try++ {
			nw = w
			for a := 0; a < p-1; a++ {
				if !frozen[a] {
					nw.w[a] -= t * step[a]
				}
			}
			nw.b -= t * step[p-1]
			if objective(exs, sel, lambda, &nw) <= f0+1e-12 {
				break
			}
			t /= 2
		}
		var norm float64
		for a := 0; a < p-1; a++ {
			norm += (nw.w[a] - w.w[a]) * (nw.w[a] - w.w[a])
		}
		w = nw
		if norm < 1e-14 {
			break
		}
	}
	return w
}

// objective is the penalised log loss of the selected pairs.
func objective(exs []Example, sel []int, lambda float64, w *weights) float64 {
	var f float64
	for i := range exs {
		z := w.z(&exs[i].Pairs[sel[i]]) + exs[i].Meta[sel[i]]
		// log(1+e^z) − y·z, computed stably.
		f += math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z)))
		if exs[i].Label {
			f -= z
		}
	}
	for _, x := range w.w {
		f += lambda / 2 * x * x
	}
	return f
}

// cholSolve solves A·x = b for a symmetric positive definite A (n×n,
// row-major), overwriting A with its Cholesky factor.
func cholSolve(a, b []float64, n int) ([]float64, bool) {
	for j := 0; j < n; j++ {
		s := a[j*n+j]
		for k := 0; k < j; k++ {
			s -= a[j*n+k] * a[j*n+k]
		}
		if s <= 0 {
			return nil, false
		}
		a[j*n+j] = math.Sqrt(s)
		for i := j + 1; i < n; i++ {
			s := a[i*n+j]
			for k := 0; k < j; k++ {
				s -= a[i*n+k] * a[j*n+k]
			}
			a[i*n+j] = s / a[j*n+j]
		}
	}
	y := make([]float64, n)
	for i := 0; i < n; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
			s -= a[i*n+k] * y[k]
		}
		y[i] = s / a[i*n+i]
	}
	for i := n - 1; i >= 0; i-- {
		s := y[i]
		for k := i + 1; k < n; k++ {
			s -= a[k*n+i] * y[k]
		}
		y[i] = s / a[i*n+i]
	}
	return y, true
}

func logLoss(p float64, y bool) float64 {
	p = math.Min(math.Max(p, 1e-12), 1-1e-12)
	if y {
		return -math.Log(p)
	}
	return -math.Log(1 - p)
}

// platt fits sigmoid(a·z + b) to labels by Newton's method (Platt's
// smoothed targets guard against separable data).
func platt(z []float64, labels []bool) (float64, float64) {
	var np, nn float64
	for _, l := range labels {
		if l {
			np++
		} else {
			nn++
		}
	}
	hi, lo := (np+1)/(np+2), 1/(nn+2)
	a, b := 1.0, 0.0
	for it := 0; it < 50; it++ {
		var gA, gB, hAA, hAB, hBB float64
		for i, zi := range z {
			t := lo
			if labels[i] {
				t = hi
			}
			p := sigmoid(a*zi + b)
			r := p - t
			s := math.Max(p*(1-p), 1e-12)
			gA += r * zi
			gB += r
			hAA += s * zi * zi
			hAB += s * zi
			hBB += s
		}
		hAA += 1e-9
		hBB += 1e-9
		det := hAA*hBB - hAB*hAB
		if det <= 0 {
			break
		}
		da := (hBB*gA - hAB*gB) / det
		db := (hAA*gB - hAB*gA) / det
		a, b = a-da, b-db
		if da*da+db*db < 1e-16 {
			break
		}
	}
	return math.Round(a*1e6) / 1e6, math.Round(b*1e6) / 1e6
}

// TopWeights lists a model's largest weights by magnitude, for reports.
func (m *Model) TopWeights(n int) []Contribution {
	var cs []Contribution
	for i, w := range m.w {
		if w != 0 {
			cs = append(cs, Contribution{Feature: m.names[i], Logit: w})
		}
	}
	slices.SortStableFunc(cs, func(a, b Contribution) int { return cmp.Compare(math.Abs(b.Logit), math.Abs(a.Logit)) })
	return cs[:min(n, len(cs))]
}
