package grooming

import (
	"slices"
	"testing"
)

// TestLeaveOneBatchOutNoLeak: a held-out batch's labels reach nothing
// that scores it. Flipping every fifth label of one batch (all of them
// would turn the other batches' calibration upside down) leaves its model
// (weights, λ, calibration, levels) and its scores exactly as they were,
// while the other batches' models change, so the check can fail.
func TestLeaveOneBatchOutNoLeak(t *testing.T) {
	files := []string{"dev_hand.jsonl", "dev_sextortion.jsonl", "dev_lang.jsonl", "dev_hard.jsonl"}
	var recs []Record
	var groups []string
	for _, f := range files {
		for _, r := range readRecords(t, "testdata/"+f) {
			recs = append(recs, r)
			groups = append(groups, f)
		}
	}
	exs := Examples(recs, groups)
	flipped := slices.Clone(exs)
	for i := range flipped {
		if flipped[i].Group == "dev_hard.jsonl" && i%5 == 0 {
			flipped[i].Label = !flipped[i].Label
			// A flipped positive may be explained by any pair.
			flipped[i].Allowed = slices.Repeat([]bool{true}, len(flipped[i].Pairs))
		}
	}
	a, err := LeaveOneBatchOut(exs, TrainOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, err := LeaveOneBatchOut(flipped, TrainOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Batches) != len(files) {
		t.Fatalf("batches %v", a.Batches)
	}
	hard := slices.Index(a.Batches, "dev_hard.jsonl")
	same := func(x, y *Model) bool {
		fx, fy := x.File, y.File
		return slices.Equal(fx.Weights, fy.Weights) && fx.Bias == fy.Bias && fx.PlattA == fy.PlattA && fx.PlattB == fy.PlattB &&
			fx.Lambda == fy.Lambda && fx.Flag == fy.Flag && fx.Low == fy.Low && fx.High == fy.High
	}
	if !same(a.Models[hard], b.Models[hard]) {
		t.Error("the held-out batch's labels changed the model that scores it")
	}
	for i := range exs {
		if a.Fold[i] == hard && a.Score[i] != b.Score[i] {
			t.Errorf("%s: score %.3f with true labels, %.3f with flipped ones", exs[i].ID, a.Score[i], b.Score[i])
		}
	}
	for k := range a.Batches {
		if k != hard && same(a.Models[k], b.Models[k]) {
			t.Errorf("batch %s's model ignores the other batches' labels", a.Batches[k])
		}
	}
	labels := make([]bool, len(exs))
	for i := range exs {
		labels[i] = exs[i].Label
	}
	if auc := ROCAUC(a.Score, labels); auc < 0.8 {
		t.Errorf("leave-one-batch-out AUC %.3f", auc)
	}
}
