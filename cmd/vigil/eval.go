package main

import (
	"cmp"
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

--cv runs grouped k-fold cross-validation of the learned scorer over the files
(groups: file and language, or the record's "group") and reports its out-of-fold figures beside the hand
scorer's on the same records. --train does the same and writes the final model
(--out), which reproduces grooming/model.json exactly from the same files.`

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
	folds := fset.Int("folds", 5, "with --cv or --train: number of grouped folds")
	fset.limit("folds", between(2, 20))
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
			groups = append(groups, filepath.Base(path)+":"+cmp.Or(rec.Group, rec.Lang))
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
	res, err := grooming.TrainModel(exs, *folds, data)
	if err != nil {
		return fmt.Errorf("eval grooming: %w", err)
	}
	dets := make([]*grooming.Detector, len(res.Models))
	for i, m := range res.Models {
		dets[i] = grooming.NewDetector(grooming.Options{Threshold: *threshold, Model: m})
	}
	learned := grooming.EvaluateCV(dets, res.Fold, recs)
	hand := grooming.Evaluate(grooming.NewDetector(grooming.Options{Threshold: *threshold, Scorer: grooming.ScorerHand}), recs)
	if *train {
		b, err := json.MarshalIndent(res.Final.File, "", "  ")
		if err != nil {
			return fmt.Errorf("eval grooming: encode model: %w", err)
		}
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("eval grooming: %w", err)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"learned_cv": learned, "hand": hand, "lambda_search": res.Search, "model": res.Final.File})
	}
	w := c.Stdout
	fmt.Fprintf(w, "grouped %d-fold cross-validation over %d conversations in %d groups (file:language, or file:group)\n", *folds, len(exs), countDistinct(groups))
	fmt.Fprintf(w, "lambda search (out-of-fold): ")
	for _, l := range res.Search {
		fmt.Fprintf(w, "λ=%g AUC %.3f recall@1%% %.3f recall@0.1%% %.3f logloss %.3f; ", l.Lambda, l.AUC, l.Recall1, l.Recall01, l.LogLoss)
	}
	fmt.Fprintf(w, "chosen λ=%g\n", res.Lambda)
	mf := res.Final.File
	fmt.Fprintf(w, "calibration: Platt a=%.3f b=%.3f on out-of-fold logits; thresholds (calibrated score at out-of-fold FPR):\n", mf.PlattA, mf.PlattB)
	for _, t := range mf.Thresholds {
		fmt.Fprintf(w, "  FPR %5.1f%%  score >= %.3f  recall %5.1f%%\n", 100*t.FPR, t.Threshold, 100*t.Recall)
	}
	fmt.Fprintf(w, "levels: low %.3f, flag/medium %.3f, high %.3f\n", mf.Low, mf.Flag, mf.High)
	fmt.Fprintf(w, "largest weights:")
	for _, cw := range res.Final.TopWeights(12) {
		fmt.Fprintf(w, " %s %+.2f", cw.Feature, cw.Logit)
	}
	fmt.Fprintf(w, "\n\nby source file (learned out of fold / hand): AUC, recall at FPR<=0.1%%, 1%%, 5%%\n")
	for _, df := range data {
		var sub []grooming.Record
		var subFold []int
		for i, rec := range recs {
			if strings.HasPrefix(groups[i], df.Name+":") {
				sub = append(sub, rec)
				subFold = append(subFold, res.Fold[i])
			}
		}
		l := grooming.EvaluateCV(dets, subFold, sub).Detector
		h := grooming.Evaluate(grooming.NewDetector(grooming.Options{Threshold: *threshold, Scorer: grooming.ScorerHand}), sub).Detector
		fmt.Fprintf(w, "  %-40s %4d  AUC %.3f/%.3f  %5.1f/%5.1f%%  %5.1f/%5.1f%%  %5.1f/%5.1f%%\n", df.Name, len(sub), l.AUC, h.AUC,
			100*l.AtFPR01.TPR, 100*h.AtFPR01.TPR, 100*l.AtFPR1.TPR, 100*h.AtFPR1.TPR, 100*l.AtFPR5.TPR, 100*h.AtFPR5.TPR)
	}
	fmt.Fprintf(w, "\n== learned scorer, out of fold ==\n")
	if err := learned.WriteText(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n== hand scorer, same records ==\n")
	return hand.WriteText(w)
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
