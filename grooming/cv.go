package grooming

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// Cross-validation is by batch: an example's Group names the file (the
// writer and session) it came from, and every fold holds out one whole
// batch. A new writer's conversations are what the detector meets in
// use, so a model is judged on a batch none of whose siblings it saw.
//
// Training (TrainModel) picks λ by leave-one-batch-out over its data,
// fits Platt scaling on those out-of-batch logits and the final weights
// on everything. The protocol (LeaveOneBatchOut) wraps that whole recipe
// in a second, outer leave-one-batch-out, so that the held-out batch
// touches neither the weights nor λ nor the calibration nor the levels:
// its figures are what a first look at a new batch would show.

// TrainOptions is a training recipe.
type TrainOptions struct {
	// Lambdas are the L2 strengths tried (default Lambdas).
	Lambdas []float64
	// Without names features fixed at zero: a baseline recipe that
	// predates them.
	Without []string
	// Workers bounds the fits run at once (default 1). The result does
	// not depend on it.
	Workers int
}

// Lambdas is the L2 strengths tried in cross-validation.
var Lambdas = []float64{0.1, 0.3, 1, 3}

func (o TrainOptions) off() (*[numFeatures]bool, error) {
	var off [numFeatures]bool
	names := FeatureNames()
	for _, n := range o.Without {
		i := slices.Index(names, n)
		if i < 0 {
			return nil, fmt.Errorf("train: no feature %q", n)
		}
		off[i] = true
	}
	return &off, nil
}

// CVResult is a trained model and the leave-one-batch-out behind it.
type CVResult struct {
	Lambda float64
	// Batches are the distinct groups, sorted; Fold is each example's
	// index into Batches and OOF its out-of-batch raw logit at Lambda.
	Batches []string
	Fold    []int
	OOF     []float64
	// Models are the per-batch models at Lambda (calibrated with the
	// pooled Platt fit and thresholds), for scoring each record with the
	// model that never saw its batch.
	Models []*Model
	// Final is the model trained on every example.
	Final *Model
	// Search is the out-of-batch figure of each λ tried.
	Search []LambdaResult
}

// LambdaResult is one λ's out-of-fold figures.
type LambdaResult struct {
	Lambda   float64 `json:"lambda"`
	LogLoss  float64 `json:"log_loss"`
	AUC      float64 `json:"auc"`
	Recall1  float64 `json:"recall_at_fpr_1pct"`
	Recall01 float64 `json:"recall_at_fpr_0_1pct"`
}

// batchesOf returns the sorted distinct groups of exs[idx] and each
// one's position.
func batchesOf(exs []Example, idx []int) ([]string, []int) {
	var names []string
	for _, i := range idx {
		names = append(names, exs[i].Group)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	fold := make([]int, len(idx))
	for k, i := range idx {
		fold[k], _ = slices.BinarySearch(names, exs[i].Group)
	}
	return names, fold
}

// parallel runs fn(0..n-1) on at most workers goroutines.
func parallel(n, workers int, fn func(int)) {
	if workers < 2 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				fn(i)
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

// recipeFit is the recipe applied to exs[idx]: λ chosen and Platt fitted
// on leave-one-batch-out logits within idx, weights fitted on all of idx.
type recipeFit struct {
	lambda  float64
	a, b    float64
	batches []string
	fold    []int     // per idx position
	oof     []float64 // per idx position, raw, at lambda
	inner   []weights // per batch, at lambda
	final   weights   // on all of idx
	search  []LambdaResult
	cal     []float64 // per idx position, sigmoid(a·oof+b)
	labels  []bool    // per idx position
}

func runRecipe(exs []Example, idx []int, o TrainOptions, off *[numFeatures]bool) (*recipeFit, error) {
	lambdas := o.Lambdas
	if len(lambdas) == 0 {
		lambdas = Lambdas
	}
	rf := &recipeFit{}
	rf.batches, rf.fold = batchesOf(exs, idx)
	nb := len(rf.batches)
	if nb < 2 {
		return nil, fmt.Errorf("train: %d batches: leave-one-batch-out needs at least 2", nb)
	}
	rf.labels = make([]bool, len(idx))
	for k, i := range idx {
		rf.labels[k] = exs[i].Label
	}
	// One fit per (λ, held-out batch), then one per λ on everything is
	// not needed: only the chosen λ's final fit is.
	ws := make([]weights, len(lambdas)*nb)
	parallel(len(ws), o.Workers, func(j int) {
		l, b := j/nb, j%nb
		var tr []Example
		for k, i := range idx {
			if rf.fold[k] != b {
				tr = append(tr, exs[i])
			}
		}
		ws[j] = fit(tr, lambdas[l], off)
	})
	best := -1
	for l, lambda := range lambdas {
		oof := make([]float64, len(idx))
		for k, i := range idx {
			_, oof[k] = ws[l*nb+rf.fold[k]].best(&exs[i], false)
		}
		lr := LambdaResult{Lambda: lambda, AUC: ROCAUC(oof, rf.labels), Recall1: AtFPR(oof, rf.labels, 0.01).TPR, Recall01: AtFPR(oof, rf.labels, 0.001).TPR}
		for k, z := range oof {
			lr.LogLoss += logLoss(sigmoid(z), rf.labels[k])
		}
		lr.LogLoss /= float64(len(idx))
		rf.search = append(rf.search, lr)
		if best < 0 || lr.Recall1 > rf.search[best].Recall1 || (lr.Recall1 == rf.search[best].Recall1 && lr.LogLoss < rf.search[best].LogLoss) {
			best, rf.oof, rf.lambda = l, oof, lambda
		}
	}
	rf.inner = ws[best*nb : (best+1)*nb]
	rf.a, rf.b = platt(rf.oof, rf.labels)
	rf.cal = make([]float64, len(idx))
	for k, z := range rf.oof {
		rf.cal[k] = round3(sigmoid(rf.a*z + rf.b))
	}
	var tr []Example
	for _, i := range idx {
		tr = append(tr, exs[i])
	}
	rf.final = fit(tr, rf.lambda, off)
	return rf, nil
}

// modelFile is the recipe's model file for weights w: calibration, levels
// and the threshold table all come from the out-of-batch scores.
func (rf *recipeFit) modelFile(w weights, data []DataFile) ModelFile {
	mf := ModelFile{Version: 1, Features: FeatureNames(), PlattA: rf.a, PlattB: rf.b, Lambda: rf.lambda, Data: data, Folds: len(rf.batches),
		LowFPR: 0.05, FlagFPR: 0.01, HighFPR: 0.002}
	thr := func(fpr float64) (float64, float64) {
		o := AtFPR(rf.cal, rf.labels, fpr)
		return math.Min(1, round3(math.Max(o.Threshold, 0.001))), o.TPR
	}
	mf.Low, _ = thr(mf.LowFPR)
	mf.Flag, _ = thr(mf.FlagFPR)
	mf.High, _ = thr(mf.HighFPR)
	mf.Low = math.Min(mf.Low, mf.Flag)
	mf.High = math.Max(mf.High, mf.Flag)
	for _, fpr := range []float64{0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1} {
		t, r := thr(fpr)
		mf.Thresholds = append(mf.Thresholds, ThresholdPoint{FPR: fpr, Threshold: t, Recall: r})
	}
	mf.Bias = math.Round(w.b*1e6) / 1e6
	mf.Weights = make([]float64, numFeatures)
	for i := range w.w {
		// Rounded so that the file is short and stable across
		// platforms' last-bit differences.
		mf.Weights[i] = math.Round(w.w[i]*1e6) / 1e6
	}
	return mf
}

// TrainModel chooses λ from o.Lambdas by leave-one-batch-out over the
// examples' groups (best out-of-batch recall at 1% FPR, ties: lower log
// loss), fits Platt scaling and the threshold table on the out-of-batch
// logits, and trains the final model on all examples.
func TrainModel(exs []Example, data []DataFile, o TrainOptions) (*CVResult, error) {
	off, err := o.off()
	if err != nil {
		return nil, err
	}
	idx := make([]int, len(exs))
	for i := range idx {
		idx[i] = i
	}
	rf, err := runRecipe(exs, idx, o, off)
	if err != nil {
		return nil, err
	}
	res := &CVResult{Lambda: rf.lambda, Batches: rf.batches, Fold: rf.fold, OOF: rf.oof, Search: rf.search}
	for _, w := range rf.inner {
		m, err := NewModel(rf.modelFile(w, data))
		if err != nil {
			return nil, err
		}
		res.Models = append(res.Models, m)
	}
	if res.Final, err = NewModel(rf.modelFile(rf.final, data)); err != nil {
		return nil, err
	}
	return res, nil
}

// LOBOResult is the leave-one-batch-out protocol's outcome.
type LOBOResult struct {
	// Batches are the distinct groups, sorted; Fold is each example's
	// index into Batches.
	Batches []string
	Fold    []int
	// Models[b] is the recipe trained on every batch but b, with its λ,
	// calibration and levels chosen on those batches alone.
	Models []*Model
	// Score is each example's calibrated score by the model that never
	// saw its batch.
	Score []float64
}

// LeaveOneBatchOut runs the training recipe once per batch, on all other
// batches, and scores the held-out batch with the result: the
// generalisation protocol. It needs at least three batches (training on
// the rest must itself be able to hold one out).
func LeaveOneBatchOut(exs []Example, o TrainOptions) (*LOBOResult, error) {
	off, err := o.off()
	if err != nil {
		return nil, err
	}
	all := make([]int, len(exs))
	for i := range all {
		all[i] = i
	}
	res := &LOBOResult{Score: make([]float64, len(exs))}
	res.Batches, res.Fold = batchesOf(exs, all)
	if len(res.Batches) < 3 {
		return nil, fmt.Errorf("leave-one-batch-out: %d batches, want at least 3", len(res.Batches))
	}
	res.Models = make([]*Model, len(res.Batches))
	errs := make([]error, len(res.Batches))
	// The outer loop runs in parallel and each recipe serially, so that
	// the work splits into few, large pieces.
	parallel(len(res.Batches), o.Workers, func(b int) {
		var idx []int
		for i := range exs {
			if res.Fold[i] != b {
				idx = append(idx, i)
			}
		}
		inner := o
		inner.Workers = 1
		rf, err := runRecipe(exs, idx, inner, off)
		if err != nil {
			errs[b] = fmt.Errorf("hold out %s: %w", res.Batches[b], err)
			return
		}
		m, err := NewModel(rf.modelFile(rf.final, nil))
		if err != nil {
			errs[b] = fmt.Errorf("hold out %s: %w", res.Batches[b], err)
			return
		}
		res.Models[b] = m
		for i := range exs {
			if res.Fold[i] == b {
				// The riskiest pair by the model as stored (rounded
				// weights), which is what Models[b] scores in use.
				z := math.Inf(-1)
				for k := range exs[i].Pairs {
					z = math.Max(z, m.raw(&exs[i].Pairs[k])+exs[i].Meta[k])
				}
				res.Score[i] = round3(sigmoid(m.a*z + m.b))
			}
		}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// BaselineRecipe is the recipe before the leave-one-batch-out work (the
// model of 2026-12-03): the same data and lexicon, without the features
// added since, over the same λ grid. `vigil eval grooming --cv` runs it
// beside the current recipe so that the improvement is measured in one
// run.
var BaselineRecipe = TrainOptions{Lambdas: []float64{0.1, 0.3, 1, 3}, Without: newFeatures}
