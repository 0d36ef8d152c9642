package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"slices"

	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/eval"
)

// PHMEvalCommand runs `vigil phm eval`: the measurements of private hash
// matching on benign pictures (docs e2ee.md §6) in one command.
type PHMEvalCommand struct{ *Main }

const phmEvalUsage = `Usage:
	vigil phm eval [--images DIR]... [--generated N] [--n N] [--accounts N] [--sends N] [--repeat-rate P] [--threshold T] [--attack-pictures N] [--queries N] [--min-psnr DB] [--seed S] [--json]

eval measures private hash matching on benign pictures only: those under
each --images directory (JPEG, PNG, WebP, GIF, BMP and TIFF, recursively;
any benign collection, e.g. Debian's wallpaper and clip-art packages, see
the README) and --generated pictures made in code.

1. False matches: a random half of the pictures (by content) is listed,
   padded with random balanced PDQ keys to --n entries, and built into a
   real blinded table; the other half's client keys (digests, PDQ in eight
   orientations, reliability probes) are opened against it. Reported: the
   per-picture false-match rate with its 95% Wilson interval.
2. Accounts: --accounts accounts each send --sends pictures drawn from the
   unlisted half, repeats at --repeat-rate; an account is flagged past
   --threshold positives. Reported with the analytic chance that an account
   of that size crosses the threshold at the rate's upper bound, and the
   per-picture rate that keeps it below 1e-9.
3. Attacks (--attack-pictures of PDQ quality >= 50, scaled to 256 pixels):
   white-box evasion of the exact channel, of exact+probes and of
   plaintext PDQ <= 31; black-box evasion; white-box and black-box
   collisions toward another picture's PDQ, each put to the service's
   second check on its derivative (PDQ <= 31 on the derivative and on the
   service's JPEG re-encode of it; the count without the re-encode is
   printed beside it). Budget: --queries hashes and PSNR >= --min-psnr dB.`

// Run parses the flags and prints the report.
func (c *PHMEvalCommand) Run(ctx context.Context, args []string) error {
	fs := c.newFlagSet("vigil phm eval", synopsis(phmEvalUsage, "vigil phm eval"))
	var dirs stringsFlag
	fs.Var(&dirs, "images", "directory of benign pictures (repeatable)")
	gen := fs.Int("generated", 400, "pictures generated in code")
	n := fs.Int("n", 100_000, "table entries after padding (the design's figure: 1000000)")
	accounts := fs.Int("accounts", 100, "simulated accounts")
	sends := fs.Int("sends", 10_000, "pictures each account sends")
	repeat := fs.Float64("repeat-rate", 0.3, "chance that a send repeats an earlier picture")
	threshold := fs.Int("threshold", phm.DefaultParams.T, "positives an account may have before it is revealed")
	attackPics := fs.Int("attack-pictures", 20, "pictures attacked")
	queries := fs.Int("queries", 1000, "hashes an attack may compute")
	psnr := fs.Float64("min-psnr", 35, "PSNR an attacked picture must keep, dB")
	seed := fs.Int("seed", 1, "seed of every random choice")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.limit("generated", between(0, 1_000_000))
	fs.limit("n", between(1, 5_000_000))
	fs.limit("accounts", between(0, 100_000))
	fs.limit("sends", between(1, 1_000_000))
	fs.limit("repeat-rate", between(0, 1))
	fs.limit("threshold", between(0, 1024))
	fs.limit("attack-pictures", between(0, 10_000))
	fs.limit("queries", between(1, 1_000_000))
	fs.limit("min-psnr", between(0, 100))
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.nargs(0, 0, "no arguments"); err != nil {
		return err
	}
	var pics []eval.Picture
	for _, dir := range dirs {
		p, err := eval.ReadPictures(dir)
		if err != nil {
			return err
		}
		if len(pics)+len(p) > eval.MaxCorpusFiles {
			return fs.usageErrorf("more than %d pictures under --images", eval.MaxCorpusFiles)
		}
		pics = append(pics, p...)
	}
	pics = append(pics, eval.GeneratePictures(*gen, uint64(*seed))...)
	if len(pics) < 4 {
		return fs.usageErrorf("phm eval needs at least 4 pictures (--images or --generated)")
	}
	rep, err := phmEval(ctx, pics, phmEvalConfig{
		N: *n, Seed: uint64(*seed),
		Accounts:       eval.AccountSim{Accounts: *accounts, Images: *sends, RepeatRate: *repeat, Threshold: *threshold},
		AttackPictures: *attackPics,
		Budget:         eval.Budget{Queries: *queries, MinPSNR: *psnr},
	})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printPHMEval(c.Stdout, rep)
	return nil
}

type phmEvalConfig struct {
	N              int
	Seed           uint64
	Accounts       eval.AccountSim
	AttackPictures int
	Budget         eval.Budget
}

// phmEvalReport is what `vigil phm eval` prints.
type phmEvalReport struct {
	Pictures   int                    `json:"pictures"`
	FalseMatch *eval.FalseMatchReport `json:"false_match"`
	Accounts   eval.AccountResult     `json:"accounts"`
	Attacks    *eval.AttackReport     `json:"attacks,omitempty"`
}

func phmEval(ctx context.Context, pics []eval.Picture, cfg phmEvalConfig) (*phmEvalReport, error) {
	imgs := eval.KeysOfAll(pics)
	if len(imgs) < 4 {
		return nil, fmt.Errorf("only %d of %d pictures decode", len(imgs), len(pics))
	}
	fm, err := eval.FalseMatchExperiment(imgs, cfg.N, cfg.Seed)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep := &phmEvalReport{Pictures: len(imgs), FalseMatch: fm}
	rep.Accounts = eval.SimulateAccounts(cfg.Accounts, fm.QueryKeys, fm.ListedSet, eval.Seed(cfg.Seed+1))
	if cfg.AttackPictures > 0 {
		var lumas []*eval.Luma
		var chosen []pdq.Hash
		h := pdq.NewHasher(pdq.Full)
		for _, p := range pics {
			if len(lumas) == cfg.AttackPictures {
				break
			}
			img, _, err := image.Decode(bytes.NewReader(p.Data))
			if err != nil {
				continue
			}
			l := eval.LumaOf(eval.Fit(img))
			d, ok := h.HashDetail(l.Gray())
			if !ok || d.Quality < pdq.MinQuality {
				continue
			}
			// One picture per content: the corpus holds edits of one
			// picture, and attacking five copies says nothing new.
			orig := d.Dihedral[pdq.Original]
			if slices.ContainsFunc(chosen, func(c pdq.Hash) bool { return pdq.Distance(c, orig) <= pdq.MatchThreshold }) {
				continue
			}
			chosen = append(chosen, orig)
			lumas = append(lumas, l)
		}
		if len(lumas) >= 2 {
			probes := func(d *pdq.Detail) []pdq.Hash { return client.Probes(d, client.ProbeBits, client.MaxProbes) }
			rep.Attacks, err = eval.RunAttacks(lumas, probes, client.Derivative, cfg.Budget, cfg.Seed)
			if err != nil {
				return nil, err
			}
		}
	}
	return rep, nil
}

func printPHMEval(w io.Writer, r *phmEvalReport) {
	fm := r.FalseMatch
	fmt.Fprintf(w, "pictures: %d decoded, %d contents\n", r.Pictures, fm.Contents)
	fmt.Fprintf(w, "table: %d entries in %d slots; listed pictures %d (%d near-duplicate PDQ clustered out by the one-open rule): %d open, %d open more than one element\n",
		fm.TableEntries, fm.Slots, fm.Listed.Images, fm.Clustered, fm.Listed.Matched, fm.Listed.MultiOpen)
	q := fm.Queries
	fmt.Fprintf(w, "false matches: %d of %d unlisted pictures (rate %.3g, 95%% Wilson [%.3g, %.3g]); multi-open %d\n",
		q.Matched, q.Images, q.Rate, q.Low, q.High, q.MultiOpen)
	a := r.Accounts
	fmt.Fprintf(w, "accounts: %d of %d flagged (threshold %d; %d sends each, %d distinct in all, repeat rate %.2f; most positives in one account %d)\n",
		a.Flagged, a.AccountSim.Accounts, a.Threshold, a.Images, a.Distinct, a.RepeatRate, a.MaxPositives)
	fmt.Fprintf(w, "  at the per-picture upper bound %.3g an account of %d distinct pictures crosses the threshold with chance %.3g;\n  the threshold protects such accounts (chance ≤ 1e-9) only if the per-picture rate is ≤ %.3g\n",
		a.High, a.Images, a.BoundAtHigh, a.SafeRate)
	if r.Attacks == nil {
		fmt.Fprintln(w, "attacks: not run (fewer than 2 pictures of PDQ quality ≥ 50)")
		return
	}
	at := r.Attacks
	fmt.Fprintf(w, "attacks on %d pictures (budget %d hashes, PSNR ≥ %.0f dB); the second check confirms %d of their unmodified derivatives (%d without its re-encode)\n",
		at.Pictures, at.Budget.Queries, at.Budget.MinPSNR, at.SecondCheckSelf, at.SecondCheckSelfPlain)
	for _, s := range at.Attacks {
		fmt.Fprintf(w, "  %-36s %3d/%d succeed (%.0f%%, 95%% [%.0f%%, %.0f%%]); median %d hashes, PSNR %.1f dB; %d reach the aim at any PSNR; final distance median %.0f",
			s.Attack, s.Success, s.Pictures, 100*s.Rate, 100*s.Low, 100*s.High, s.Queries, s.PSNR, s.Reached, s.Distance)
		if s.Second != nil {
			fmt.Fprintf(w, "; second check passes %d", *s.Second)
			if s.SecondPlain != nil {
				fmt.Fprintf(w, " (%d without its re-encode)", *s.SecondPlain)
			}
		}
		fmt.Fprintln(w)
	}
}
