package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/vigil-oss/vigil/grooming"
)

// EvalCommand evaluates detectors on labelled sets: `vigil eval grooming FILE`.
type EvalCommand struct{ *Main }

const evalUsage = `Usage: vigil eval grooming [flags] FILE.jsonl

Evaluates the grooming detector on a labelled set; "vigil help eval grooming"
lists its flags.`

// Run dispatches the eval subcommands.
func (c *EvalCommand) Run(ctx context.Context, args []string) error {
	_, args, err := c.group(args, evalUsage, "grooming")
	if err != nil {
		return err
	}
	fset := c.newFlagSet("vigil eval grooming", "Usage: vigil eval grooming [flags] FILE.jsonl\n\nReads labelled JSON lines {\"id\",\"label\":\"grooming\"|\"benign\",\"messages\":[…],\"suspect\"}\nand prints recall at 1% and 5% FPR, ROC AUC, precision at 1% prevalence, suspect\naccuracy and early detection, next to the single-keyword baseline. - reads standard input.")
	threshold := fset.Float64("threshold", grooming.DefaultThreshold, "flag threshold on the score")
	fset.limit("threshold", between(0, 1))
	asJSON := fset.Bool("json", false, "print the report as JSON")
	if err := fset.parse(args); err != nil {
		return err
	}
	if err := fset.nargs(1, 1, "one FILE (- for standard input)"); err != nil {
		return err
	}
	r, closeFn, err := openInput(fset.Arg(0), c.Stdin)
	if err != nil {
		return err
	}
	defer closeFn()
	var recs []grooming.Record
	err = grooming.ReadRecords(r, func(line int, rec grooming.Record) error {
		if rec.Label == "" {
			return fmt.Errorf("line %d: missing label", line)
		}
		recs = append(recs, rec)
		return ctx.Err()
	})
	if err != nil {
		return fmt.Errorf("eval grooming %s: %w", fset.Arg(0), err)
	}
	rep := grooming.Evaluate(grooming.NewDetector(grooming.Options{Threshold: *threshold}), recs)
	if *asJSON {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteText(c.Stdout)
}
