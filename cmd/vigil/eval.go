package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vigil-oss/vigil/grooming"
)

// EvalCommand evaluates detectors on labelled sets: `vigil eval grooming FILE`.
type EvalCommand struct{ *Main }

const evalUsage = `Usage: vigil eval grooming [flags] FILE.jsonl…

Evaluates the grooming detector on a labelled set; "vigil help eval grooming"
lists its flags.`

const evalGroomingUsage = `Usage: vigil eval grooming [flags] FILE.jsonl…

Reads labelled JSON lines {"id","label":"grooming"|"benign","messages":[…],"suspect"}
and prints recall at 0.1%, 1% and 5% FPR, ROC AUC, precision at 1% and 0.1%
prevalence, per language and per family, suspect accuracy, early detection and a
reliability (calibration) table, next to the single-keyword baseline. - reads
standard input.

--cv runs the leave-one-batch-out protocol over the files (each file is one
batch): every file is scored by the learned recipe trained, with its λ,
calibration and levels chosen, on the other files only. It reports per held-out
file and overall, beside the baseline recipe and the hand scorer on the same
records. --train chooses λ and calibration by leave-one-batch-out, trains on
all files and writes the model (--out), which reproduces grooming/model.json
exactly from the same files.`

// Run dispatches the eval subcommands.
func (c *EvalCommand) Run(ctx context.Context, args []string) error {
	_, args, err := c.group(args, evalUsage, "grooming")
	if err != nil {
		return err
	}
	fset := c.newFlagSet("vigil eval grooming", evalGroomingUsage)
	threshold := fset.Float64("threshold", 0, "flag threshold on the score (0: the scorer's default)")
	fset.limit("threshold", between(0, 1))
	scorer := fset.String("scorer", grooming.DefaultScorer, "scorer: hand or learned")
	modelPath := fset.String("model", "", "learned model JSON file (default: the built-in model)")
	cv := fset.Bool("cv", false, "cross-validate the learned scorer over the files, beside the hand scorer")
	train := fset.Bool("train", false, "cross-validate, then train on all files and write the model to --out")
	out := fset.String("out", "", "with --train: where to write the model JSON")
	baseline := fset.Bool("baseline", true, "with --cv: also run the baseline recipe under the same protocol")
	workers := fset.Int("workers", 1, "with --cv or --train: fits run at once (the result does not depend on it)")
	fset.limit("workers", between(1, 64))
	asJSON := fset.Bool("json", false, "print the report as JSON")
	if err := fset.parse(args); err != nil {
		return err
	}
	if err := fset.nargs(1, 64, "FILE… (- for standard input)"); err != nil {
		return err
	}
	if *train && *out == "" {
		return fset.usageErrorf("--train needs --out FILE")
	}
	var recs []grooming.Record
	var groups []string
	var data []grooming.DataFile
	for _, path := range fset.Args() {
		df, err := c.readLabelled(ctx, path, func(rec grooming.Record) {
			recs = append(recs, rec)
			groups = append(groups, filepath.Base(path))
		})
		if err != nil {
			return err
		}
		data = append(data, df)
	}
	opts, err := scorerOptions(fset, *threshold, *scorer, *modelPath)
	if err != nil {
		return err
	}
	if !*cv && !*train {
		rep := grooming.Evaluate(grooming.NewDetector(opts), recs)
		return c.writeReport(rep, *asJSON)
	}

	exs := grooming.Examples(recs, groups)
	if *train {
		res, err := grooming.TrainModel(exs, data, grooming.TrainOptions{Workers: *workers})
		if err != nil {
			return fmt.Errorf("eval grooming: %w", err)
		}
		b, err := json.MarshalIndent(res.Final.File, "", "  ")
		if err != nil {
			return fmt.Errorf("eval grooming: encode model: %w", err)
		}
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("eval grooming: %w", err)
		}
		return c.writeTraining(res, *asJSON)
	}
	return c.crossValidate(exs, recs, *threshold, *workers, *baseline, *asJSON)
}

// writeTraining prints what --train chose: λ, calibration, levels.
func (c *EvalCommand) writeTraining(res *grooming.CVResult, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"lambda_search": res.Search, "model": res.Final.File})
	}
	w := c.Stdout
	fmt.Fprintf(w, "trained on %d batches; lambda search (leave-one-batch-out): ", len(res.Batches))
	for _, l := range res.Search {
		fmt.Fprintf(w, "λ=%g AUC %.3f recall@1%% %.3f recall@0.1%% %.3f logloss %.3f; ", l.Lambda, l.AUC, l.Recall1, l.Recall01, l.LogLoss)
	}
	fmt.Fprintf(w, "chosen λ=%g\n", res.Lambda)
	mf := res.Final.File
	fmt.Fprintf(w, "calibration: Platt a=%.3f b=%.3f on out-of-batch logits; thresholds (calibrated score at out-of-batch FPR):\n", mf.PlattA, mf.PlattB)
	for _, t := range mf.Thresholds {
		fmt.Fprintf(w, "  FPR %5.1f%%  score >= %.3f  recall %5.1f%%\n", 100*t.FPR, t.Threshold, 100*t.Recall)
	}
	fmt.Fprintf(w, "levels: low %.3f, flag/medium %.3f, high %.3f\n", mf.Low, mf.Flag, mf.High)
	fmt.Fprintf(w, "largest weights:")
	for _, cw := range res.Final.TopWeights(12) {
		fmt.Fprintf(w, " %s %+.2f", cw.Feature, cw.Logit)
	}
	fmt.Fprintln(w)
	return nil
}

// batchRow is one held-out batch's figures under each system.
type batchRow struct {
	Batch    string                `json:"batch"`
	N        int                   `json:"n"`
	Learned  grooming.SystemReport `json:"learned"`
	Baseline grooming.SystemReport `json:"baseline"`
	Hand     grooming.SystemReport `json:"hand"`
}

// crossValidate runs the leave-one-batch-out protocol for the learned
// recipe and the baseline recipe, beside the hand scorer on the same
// records.
func (c *EvalCommand) crossValidate(exs []grooming.Example, recs []grooming.Record, threshold float64, workers int, withBaseline, asJSON bool) error {
	run := func(o grooming.TrainOptions) ([]*grooming.Detector, *grooming.LOBOResult, error) {
		o.Workers = workers
		res, err := grooming.LeaveOneBatchOut(exs, o)
		if err != nil {
			return nil, nil, fmt.Errorf("eval grooming: %w", err)
		}
		dets := make([]*grooming.Detector, len(res.Models))
		for i, m := range res.Models {
			dets[i] = grooming.NewDetector(grooming.Options{Threshold: threshold, Model: m})
		}
		return dets, res, nil
	}
	dets, res, err := run(grooming.TrainOptions{})
	if err != nil {
		return err
	}
	baseDets := dets
	if withBaseline {
		if baseDets, _, err = run(grooming.BaselineRecipe); err != nil {
			return err
		}
	}
	hand := grooming.NewDetector(grooming.Options{Threshold: threshold, Scorer: grooming.ScorerHand})
	learnedRep := grooming.EvaluateCV(dets, res.Fold, recs)
	baseRep := grooming.EvaluateCV(baseDets, res.Fold, recs)
	handRep := grooming.Evaluate(hand, recs)
	var rows []batchRow
	for b, name := range res.Batches {
		var sub []grooming.Record
		var fold []int
		for i, rec := range recs {
			if res.Fold[i] == b {
				sub = append(sub, rec)
				fold = append(fold, b)
			}
		}
		rows = append(rows, batchRow{Batch: name, N: len(sub),
			Learned:  grooming.EvaluateCV(dets, fold, sub).Detector,
			Baseline: grooming.EvaluateCV(baseDets, fold, sub).Detector,
			Hand:     grooming.Evaluate(hand, sub).Detector})
	}
	if asJSON {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"protocol": "leave-one-batch-out", "learned_cv": learnedRep, "baseline_cv": baseRep, "hand": handRep, "by_batch": rows})
	}
	w := c.Stdout
	fmt.Fprintf(w, "leave-one-batch-out over %d conversations in %d batches (source files): each batch scored by the recipe trained, tuned and calibrated on the others\n", len(exs), len(res.Batches))
	fmt.Fprintf(w, "\nheld-out batch (learned / baseline recipe / hand): AUC; recall at FPR<=0.1%%, 1%%, 5%% within the batch\n")
	for _, r := range rows {
		fmt.Fprintf(w, "  %-40s %4d  AUC %.3f/%.3f/%.3f  %5.1f/%5.1f/%5.1f%%  %5.1f/%5.1f/%5.1f%%  %5.1f/%5.1f/%5.1f%%\n", r.Batch, r.N,
			r.Learned.AUC, r.Baseline.AUC, r.Hand.AUC,
			100*r.Learned.AtFPR01.TPR, 100*r.Baseline.AtFPR01.TPR, 100*r.Hand.AtFPR01.TPR,
			100*r.Learned.AtFPR1.TPR, 100*r.Baseline.AtFPR1.TPR, 100*r.Hand.AtFPR1.TPR,
			100*r.Learned.AtFPR5.TPR, 100*r.Baseline.AtFPR5.TPR, 100*r.Hand.AtFPR5.TPR)
	}
	fmt.Fprintf(w, "\n== learned scorer, leave-one-batch-out ==\n")
	if err := learnedRep.WriteText(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n== baseline recipe (features and λ grid before this protocol), leave-one-batch-out ==\n")
	if err := baseRep.WriteText(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n== hand scorer, same records ==\n")
	return handRep.WriteText(w)
}

func (c *EvalCommand) readLabelled(ctx context.Context, path string, fn func(grooming.Record)) (grooming.DataFile, error) {
	df := grooming.DataFile{Name: filepath.Base(path)}
	r, closeFn, err := openInput(path, c.Stdin)
	if err != nil {
		return df, err
	}
	defer closeFn()
	err = grooming.ReadRecords(r, func(line int, rec grooming.Record) error {
		if rec.Label == "" {
			return fmt.Errorf("line %d: missing label", line)
		}
		if rec.Label == "grooming" {
			df.Grooming++
		} else {
			df.Benign++
		}
		fn(rec)
		return ctx.Err()
	})
	if err != nil {
		return df, fmt.Errorf("eval grooming %s: %w", path, err)
	}
	return df, nil
}

func (c *EvalCommand) writeReport(rep grooming.EvalReport, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteText(c.Stdout)
}

func countDistinct(xs []string) int {
	seen := map[string]bool{}
	for _, x := range xs {
		seen[strings.TrimSpace(x)] = true
	}
	return len(seen)
}
