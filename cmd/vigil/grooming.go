package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/vigil-oss/vigil/grooming"
)

// GroomingCommand scores conversations: `vigil grooming score FILE`.
type GroomingCommand struct{ *Main }

// scoreLine is one JSON line of `vigil grooming score` output.
type scoreLine struct {
	ID         string               `json:"id"`
	Score      float64              `json:"score"`
	Level      grooming.Level       `json:"level"`
	Flagged    bool                 `json:"flagged"`
	FlaggedAt  int                  `json:"flagged_at"`
	Suspect    string               `json:"suspect"`
	Target     string               `json:"target,omitempty"`
	Indicators []grooming.Indicator `json:"indicators"`
	Context    []string             `json:"context,omitempty"`
	Facts      []string             `json:"facts,omitempty"`
	// Contributions name, for the learned scorer, what raised the score.
	Contributions []grooming.Contribution `json:"contributions,omitempty"`
	Disclosure    *grooming.Disclosure    `json:"disclosure,omitempty"`
	Sextortion    bool                    `json:"sextortion,omitempty"`
	Language      string                  `json:"language,omitempty"`
	Unsupported   bool                    `json:"unsupported,omitempty"`
	Messages      int                     `json:"messages"`
	Scorer        string                  `json:"scorer"`
}

// scorerOptions checks the --scorer and --model flags shared by
// `grooming score` and `eval grooming` and returns the detector options.
func scorerOptions(fset *flagSet, threshold float64, scorer, modelPath string) (grooming.Options, error) {
	opts := grooming.Options{Threshold: threshold, Scorer: scorer}
	if scorer != grooming.ScorerHand && scorer != grooming.ScorerLearned {
		return opts, fset.usageErrorf("-scorer %q: want hand or learned", scorer)
	}
	if modelPath == "" {
		return opts, nil
	}
	b, err := os.ReadFile(modelPath)
	if err != nil {
		return opts, fmt.Errorf("read model: %w", err)
	}
	if opts.Model, err = grooming.ParseModel(b); err != nil {
		return opts, fmt.Errorf("model %s: %w", modelPath, err)
	}
	return opts, nil
}

// Run dispatches the grooming subcommands.
func (c *GroomingCommand) Run(ctx context.Context, args []string) error {
	_, args, err := c.group(args, "Usage: vigil grooming score [flags] FILE\n\nScores JSON-lines conversations for grooming risk; - reads standard input.", "score")
	if err != nil {
		return err
	}
	fset := c.newFlagSet("vigil grooming score", "Usage: vigil grooming score [flags] FILE\n\nReads JSON lines {\"id\",\"messages\":[{\"from\",\"text\",\"time\"}],\"participants\":[…]}\nand prints one JSON line per conversation. - reads standard input.")
	threshold := fset.Float64("threshold", 0, "flag threshold on the score (0: the scorer's default)")
	fset.limit("threshold", between(0, 1))
	scorer := fset.String("scorer", grooming.DefaultScorer, "scorer: hand or learned")
	modelPath := fset.String("model", "", "learned model JSON file (default: the built-in model)")
	if err := fset.parse(args); err != nil {
		return err
	}
	opts, err := scorerOptions(fset, *threshold, *scorer, *modelPath)
	if err != nil {
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
	d := grooming.NewDetector(opts)
	w := bufio.NewWriter(c.Stdout)
	enc := json.NewEncoder(w)
	err = grooming.ReadRecords(r, func(_ int, rec grooming.Record) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		risk := d.Score(rec.Conversation)
		return enc.Encode(scoreLine{
			ID: rec.ID, Score: risk.Score, Level: risk.Level, Flagged: risk.Flagged, FlaggedAt: risk.FlaggedAt,
			Suspect: risk.Suspect, Target: risk.Target, Indicators: risk.Indicators,
			Context: risk.Context, Facts: risk.Facts, Contributions: risk.Contributions,
			Disclosure: risk.Disclosure, Sextortion: risk.Sextortion, Language: risk.Language,
			Unsupported: risk.Unsupported, Messages: risk.Messages, Scorer: d.Scorer(),
		})
	})
	if ferr := w.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write: %w", ferr)
	}
	if err != nil {
		return fmt.Errorf("grooming score %s: %w", fset.Arg(0), err)
	}
	return nil
}
