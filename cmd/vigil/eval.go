package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/vigil-oss/vigil/grooming"
)

// EvalCommand evaluates detectors on labelled sets: `vigil eval grooming FILE`.
type EvalCommand struct{ *Main }

// Run dispatches the eval subcommands.
func (c *EvalCommand) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "grooming" {
		fmt.Fprintln(c.Stderr, "Usage: vigil eval grooming [flags] FILE.jsonl")
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			return flag.ErrHelp
		}
		return fmt.Errorf("unknown eval target %q", args[0])
	}
	fset := flag.NewFlagSet("vigil eval grooming", flag.ContinueOnError)
	fset.SetOutput(c.Stderr)
	threshold := fset.Float64("threshold", grooming.DefaultThreshold, "flag threshold on the score")
	asJSON := fset.Bool("json", false, "print the report as JSON")
	fset.Usage = func() {
		fmt.Fprintln(c.Stderr, "Usage: vigil eval grooming [flags] FILE.jsonl\n\nReads labelled JSON lines {\"id\",\"label\":\"grooming\"|\"benign\",\"messages\":[…],\"suspect\"}\nand prints recall at 1% and 5% FPR, ROC AUC, precision at 1% prevalence, suspect\naccuracy and early detection, next to the single-keyword baseline. - reads standard input.\n\nFlags:")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args[1:]); err != nil {
		return err
	}
	if fset.NArg() != 1 {
		fset.Usage()
		return flag.ErrHelp
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
