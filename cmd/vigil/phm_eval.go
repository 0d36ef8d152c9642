package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"

	"github.com/vigil-oss/vigil/internal/secret"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/eval"
	"github.com/vigil-oss/vigil/phm/second"
)

// PHMEvalCommand runs `vigil phm eval`: the measurements of private hash
// matching on benign pictures (docs e2ee.md §6) in one command.
type PHMEvalCommand struct{ *Main }

const phmEvalUsage = `Usage:
	vigil phm eval [--images DIR]... [--generated N] [--rich N] [--listed N] [--table-sample N] [--n N] [--accounts N] [--sends N] [--repeat-rate P] [--threshold T] [--attack-pictures N] [--queries N] [--min-psnr DB] [--seed S] [--second-key FILE] [--keyed-pictures N] [--recall-pictures N] [--collisions] [--json]

eval measures private hash matching on benign pictures only: those under
each --images directory (JPEG, PNG, WebP, GIF, BMP and TIFF, recursively;
any benign collection, e.g. Debian's wallpaper and clip-art packages, see
the README), --generated pictures made in code (flat gradients and
rectangles, held in memory) and --rich pictures from a richer generator
(noise, gradients, shapes, strokes; streamed: only their keys are kept,
about 10 KB of memory a picture).

1. False matches: a random half of the pictures (by content) is listed,
   padded with random balanced PDQ keys to --n entries, and built into a
   real blinded table; the other half's client keys (digests, PDQ in eight
   orientations, reliability probes) are opened against it. Reported: the
   per-picture false-match rate with its 95% Wilson interval, overall and
   per key class (digests, PDQ exact, probes: a picture below PDQ quality
   50 has digests only and counts in that class alone). --listed N lists
   N contents instead of half, leaving the rest as queries. With
   --table-sample N the opens are decided by membership in the list (the
   same except for hash-to-group collisions) and N pictures of each half
   are also opened through the real table and compared; without it (-1)
   every key goes through the real table.
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
   printed beside it), and to the keyed second hash (phm/second) under
   --second-key (a file of vigil phm second-key; without it a key drawn
   from --seed). Besides those: the re-encode attacked with the re-encode
   in the loop, an attacker with a keyed hash of its own key (transfer),
   and one who copies the target picture's band. Counts are given for
   the collisions within the budget and for all that reached their aim,
   below the PSNR budget too, and for the copies of the target among
   them: collisions whose PSNR against the target (in its nearest
   orientation) is at least that against their carrier. --collisions
   lists each. Budget: --queries hashes and PSNR >= --min-psnr dB.
4. The keyed hash on benign pictures (--keyed-pictures of PDQ quality >=
   50, one per content): true matches through JPEG 90/50/30, half scale
   and a slight blur, confirmed by PDQ alone, with the re-encode, with
   the keyed hash, with all three; and the unrelated pairs within the
   keyed hash's threshold (its natural false matches), with a 95% Wilson
   interval.
5. Recall (--recall-pictures bases of PDQ quality >= 50, one per content,
   drawn with --seed from the --images pictures, or the generated ones
   without --images; larger than 1024 pixels scaled to it): each edited
   by the design's suite (JPEG 90/70/50/30, scale 1/2, 1/4 + JPEG 70,
   brightness, contrast, gamma, noise, blur, crops of 2/5/10 %, logo,
   border, rotate 2 degrees, mirror; Meta's bridge edits when
   pdq/testdata's bridge original is among them). Per edit and in total:
   pairs, plaintext PDQ <= 31 (nearest of 8 orientations, as vigil match
   --dihedral), the exact dihedral keys, exact + probes (the client's
   keys; their ratio to exact), 95% Wilson intervals, and the vouchers
   that open more than one element of a list of all the bases (the
   one-open rule); per --images directory too.`

// Run parses the flags and prints the report.
func (c *PHMEvalCommand) Run(ctx context.Context, args []string) error {
	fs := c.newFlagSet("vigil phm eval", synopsis(phmEvalUsage, "vigil phm eval"))
	var dirs stringsFlag
	fs.Var(&dirs, "images", "directory of benign pictures (repeatable)")
	gen := fs.Int("generated", 400, "pictures generated in code (simple generator, held in memory)")
	rich := fs.Int("rich", 0, "pictures from the rich generator, streamed (keys only)")
	listed := fs.Int("listed", 0, "contents listed (0: half of them)")
	tableSample := fs.Int("table-sample", -1, "decide opens by list membership and check this many pictures of each half through the real table (-1: every key through the table)")
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
	listCollisions := fs.Bool("collisions", false, "list every collision: carrier, target, PSNR against each, distances")
	keyFile := fs.String("second-key", "", "key file of the keyed second hash (default: a key drawn from --seed)")
	keyedPics := fs.Int("keyed-pictures", 200, "pictures of the keyed hash's benign measurement (0: none)")
	recallPics := fs.Int("recall-pictures", 8, "base pictures of the recall measurement (0: none)")
	fs.limit("recall-pictures", between(0, 100_000))
	fs.limit("keyed-pictures", between(0, 100_000))
	fs.limit("generated", between(0, 1_000_000))
	fs.limit("rich", between(0, eval.MaxRichPictures))
	fs.limit("listed", between(0, 10_000_000))
	fs.limit("table-sample", between(-1, 10_000_000))
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
	var sources []string
	for _, dir := range dirs {
		p, err := eval.ReadPictures(dir)
		if err != nil {
			return err
		}
		if len(pics)+len(p) > eval.MaxCorpusFiles {
			return fs.usageErrorf("more than %d pictures under --images", eval.MaxCorpusFiles)
		}
		pics = append(pics, p...)
		for range p {
			sources = append(sources, dir)
		}
	}
	pics = append(pics, eval.GeneratePictures(*gen, uint64(*seed))...)
	for len(sources) < len(pics) {
		sources = append(sources, "generated")
	}
	if len(pics)+*rich < 4 {
		return fs.usageErrorf("phm eval needs at least 4 pictures (--images or --generated)")
	}
	key, err := phmSecondKey(*keyFile, uint64(*seed))
	if err != nil {
		return err
	}
	rep, err := phmEval(ctx, pics, phmEvalConfig{
		N: *n, Seed: uint64(*seed), Key: key, KeyedPictures: *keyedPics,
		Rich: *rich, Listed: *listed, TableSample: *tableSample,
		Accounts:       eval.AccountSim{Accounts: *accounts, Images: *sends, RepeatRate: *repeat, Threshold: *threshold},
		AttackPictures: *attackPics,
		Budget:         eval.Budget{Queries: *queries, MinPSNR: *psnr},
		RecallPictures: *recallPics, Sources: sources,
	})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(c.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printPHMEval(c.Stdout, rep, *listCollisions)
	return nil
}

type phmEvalConfig struct {
	N           int
	Rich        int // rich generated pictures, streamed
	Listed      int // contents listed; 0: half
	TableSample int // < 0: every open through the table

	Seed           uint64
	Accounts       eval.AccountSim
	AttackPictures int
	Budget         eval.Budget
	Key            *second.Key
	KeyedPictures  int
	// RecallPictures bases of the recall measurement, drawn from the
	// pictures whose Sources entry is not "generated" (all of them if
	// none); Sources[i] names pics[i]'s --images directory.
	RecallPictures int
	Sources        []string
}

// phmSecondKey reads the keyed second hash's key file, or without one
// draws a key from seed (an eval's key: never a service's).
func phmSecondKey(path string, seed uint64) (*second.Key, error) {
	if path != "" {
		b, err := secret.ReadFile(path, second.MaxKeyFile)
		if err != nil {
			return nil, err
		}
		return second.ParseKey(b)
	}
	var s [second.KeySize]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	copy(s[8:], "vigil phm eval key")
	return second.NewKey(s[:])
}

// phmEvalReport is what `vigil phm eval` prints.
type phmEvalReport struct {
	Pictures   int                    `json:"pictures"`
	FalseMatch *eval.FalseMatchReport `json:"false_match"`
	Accounts   eval.AccountResult     `json:"accounts"`
	Attacks    *eval.AttackReport     `json:"attacks,omitempty"`
	Keyed      *eval.KeyedReport      `json:"keyed,omitempty"`
	Recall     *eval.RecallReport     `json:"recall,omitempty"`
}

func phmEval(ctx context.Context, pics []eval.Picture, cfg phmEvalConfig) (*phmEvalReport, error) {
	imgs := eval.KeysOfAll(pics)
	rich, err := eval.RichKeys(cfg.Rich, cfg.Seed)
	if err != nil {
		return nil, err
	}
	imgs = append(imgs, rich...)
	if len(imgs) < 4 {
		return nil, fmt.Errorf("only %d of %d pictures decode", len(imgs), len(pics)+cfg.Rich)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fm, err := eval.FalseMatchExperimentWith(imgs, eval.FalseMatchOptions{N: cfg.N, Seed: cfg.Seed, TableSample: cfg.TableSample, Listed: cfg.Listed})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rep := &phmEvalReport{Pictures: len(imgs), FalseMatch: fm}
	rep.Accounts = eval.SimulateAccounts(cfg.Accounts, fm.QueryKeys, fm.ListedSet, eval.Seed(cfg.Seed+1))
	if cfg.AttackPictures > 0 {
		lumas := eval.DistinctLumas(pics, cfg.AttackPictures)
		if len(lumas) >= 2 {
			probes := func(d *pdq.Detail) []pdq.Hash { return client.Probes(d, client.ProbeBits, client.MaxProbes) }
			rep.Attacks, err = eval.RunAttacks(lumas, probes, client.Derivative, cfg.Budget, cfg.Seed, cfg.Key)
			if err != nil {
				return nil, err
			}
		}
	}
	if cfg.KeyedPictures > 0 && cfg.Key != nil {
		if lumas := eval.DistinctLumas(pics, cfg.KeyedPictures); len(lumas) >= 2 {
			if rep.Keyed, err = eval.KeyedBenign(lumas, cfg.Key, client.Derivative); err != nil {
				return nil, err
			}
		}
	}
	if cfg.RecallPictures > 0 {
		if rep.Recall, err = phmRecall(ctx, pics, cfg); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// phmRecall is section 5: the recall of the edit suite on bases drawn
// from the --images pictures (the generated ones when there are none).
func phmRecall(ctx context.Context, pics []eval.Picture, cfg phmEvalConfig) (*eval.RecallReport, error) {
	var from []eval.Picture
	var sources []string
	for i, p := range pics {
		if i < len(cfg.Sources) && cfg.Sources[i] != "generated" {
			from = append(from, p)
			sources = append(sources, cfg.Sources[i])
		}
	}
	if len(from) == 0 {
		from, sources = pics, nil
	}
	bases := eval.SelectRecallBases(from, sources, cfg.RecallPictures, cfg.Seed)
	if len(bases) == 0 {
		return nil, nil
	}
	return eval.Recall(ctx, bases, eval.RecallEdits(), eval.BridgePairs(from, bases))
}

func printPHMEval(w io.Writer, r *phmEvalReport, collisions bool) {
	fm := r.FalseMatch
	fmt.Fprintf(w, "pictures: %d decoded, %d contents\n", r.Pictures, fm.Contents)
	fmt.Fprintf(w, "table: %d entries in %d slots; listed pictures %d (%d near-duplicate PDQ clustered out by the one-open rule): %d open, %d open more than one element\n",
		fm.TableEntries, fm.Slots, fm.Listed.Images, fm.Clustered, fm.Listed.Matched, fm.Listed.MultiOpen)
	q := fm.Queries
	fmt.Fprintf(w, "false matches: %d of %d unlisted pictures, %d contents (rate %.3g, 95%% Wilson [%.3g, %.3g]); multi-open %d\n",
		q.Matched, q.Images, q.Contents, q.Rate, q.Low, q.High, q.MultiOpen)
	for _, c := range []eval.KeyClass{eval.ClassDigest, eval.ClassPDQ, eval.ClassProbe} {
		f := q.Families[c]
		fmt.Fprintf(w, "  %-6s keys: %d of %d pictures carrying them (%d contents), 95%% Wilson [%.3g, %.3g]\n", c, f.Matched, f.Images, f.Contents, f.Low, f.High)
	}
	if fm.Path == "plaintext" {
		tc := fm.TableCheck
		fmt.Fprintf(w, "  opens decided by list membership; checked through the real table on %d pictures (%d keys, %d open): %d disagree\n", tc.Images, tc.Keys, tc.Opened, tc.Disagree)
	} else {
		fmt.Fprintln(w, "  every key opened through the real blinded table")
	}
	a := r.Accounts
	fmt.Fprintf(w, "accounts: %d of %d flagged (threshold %d; %d sends each, %d distinct in all, repeat rate %.2f; most positives in one account %d)\n",
		a.Flagged, a.AccountSim.Accounts, a.Threshold, a.Images, a.Distinct, a.RepeatRate, a.MaxPositives)
	fmt.Fprintf(w, "  at the per-picture upper bound %.3g an account of %d distinct pictures crosses the threshold with chance %.3g;\n  the threshold protects such accounts (chance ≤ 1e-9) only if the per-picture rate is ≤ %.3g\n",
		a.High, a.Images, a.BoundAtHigh, a.SafeRate)
	defer printPHMRecall(w, r.Recall)
	defer printPHMKeyed(w, r.Keyed)
	if r.Attacks == nil {
		fmt.Fprintln(w, "attacks: not run (none asked, or fewer than 2 pictures of PDQ quality ≥ 50)")
		return
	}
	at := r.Attacks
	fmt.Fprintf(w, "attacks on %d pictures (budget %d hashes, PSNR ≥ %.0f dB); the second check confirms %d of their unmodified derivatives (%d without its re-encode, %d by PDQ and the keyed hash, %d by all three)\n",
		at.Pictures, at.Budget.Queries, at.Budget.MinPSNR, at.SecondCheckSelf, at.SecondCheckSelfPlain, at.SecondCheckSelfKeyed, at.SecondCheckSelfAll)
	for _, s := range at.Attacks {
		fmt.Fprintf(w, "  %-36s %3d/%d succeed (%.0f%%, 95%% [%.0f%%, %.0f%%]); median %d hashes, PSNR %.1f dB; %d reach the aim at any PSNR; final distance median %.0f",
			s.Attack, s.Success, s.Pictures, 100*s.Rate, 100*s.Low, 100*s.High, s.Queries, s.PSNR, s.Reached, s.Distance)
		if s.Second != nil {
			fmt.Fprintf(w, "; second check passes %d", *s.Second)
			if s.SecondPlain != nil {
				fmt.Fprintf(w, " (%d without its re-encode)", *s.SecondPlain)
			}
			if s.Keyed != nil {
				fmt.Fprintf(w, ", PDQ+keyed %d, all three %d", *s.Keyed, *s.KeyedAll)
			}
			if s.ReachedSecond != nil {
				fmt.Fprintf(w, "; of all %d reached: PDQ %d, +re-encode %d", s.Reached, *s.ReachedPlain, *s.ReachedSecond)
				if s.ReachedKeyed != nil {
					fmt.Fprintf(w, ", PDQ+keyed %d, all three %d", *s.ReachedKeyed, *s.ReachedKeyedAll)
				}
			}
			fmt.Fprintf(w, "; copies of the target among them %d", s.Copies)
			if s.CopiesKeyed != nil {
				fmt.Fprintf(w, " (PDQ+keyed %d, all three %d)", *s.CopiesKeyed, *s.CopiesKeyedAll)
			}
		}
		fmt.Fprintln(w)
		if collisions {
			for _, c := range s.Collisions {
				fmt.Fprintf(w, "    %d→%d reached %-5v %4d hashes, PSNR %.1f dB to the carrier, %.1f to the target, copy %-5v PDQ %d, re-encoded %d, keyed %d, all three %v\n",
					c.Carrier, c.Target, c.Reached, c.Queries, c.PSNR, c.PSNRTarget, c.TargetCopy, c.PDQ, c.Recoded, c.Keyed, c.All)
			}
		}
	}
}

func printPHMKeyed(w io.Writer, k *eval.KeyedReport) {
	if k == nil {
		return
	}
	fmt.Fprintf(w, "keyed second hash (threshold %d of %d bits), true matches confirmed by PDQ / +re-encode / PDQ+keyed / all three:\n", k.Threshold, second.Bits)
	for _, e := range k.Edits {
		fmt.Fprintf(w, "  %-20s %d/%d  %d/%d  %d/%d  %d/%d  (keyed distance median %d, max %d)\n",
			e.Edit, e.Plain, e.Pictures, e.Recoded, e.Pictures, e.Keyed, e.Pictures, e.All, e.Pictures, e.KeyedMedian, e.KeyedMax)
	}
	fmt.Fprintf(w, "  unrelated pairs within the keyed threshold: %d of %d (95%% Wilson [%.3g, %.3g])\n", k.Within, k.Unrelated, k.Low, k.High)
	if len(k.Thresholds) > 0 {
		fmt.Fprintf(w, "  at other thresholds %v: true matches over, per edit; unrelated pairs within\n", k.Thresholds)
		for _, e := range k.Edits {
			fmt.Fprintf(w, "  %-20s %v  (keyed distance p90 %d, p99 %d)\n", e.Edit, e.Over, e.KeyedP90, e.KeyedP99)
		}
		fmt.Fprintf(w, "  %-20s %v\n", "unrelated", k.WithinAt)
	}
}

func printPHMRecall(w io.Writer, r *eval.RecallReport) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "recall on %d bases (PDQ quality ≥ 50, one per content; %d scaled to %d px, %d listed as the PNG of their pixels), vouchers opened against a list of the %d bases:\n",
		r.Bases, r.Scaled, eval.MaxRecallSide, r.Converted, r.Listed)
	fmt.Fprintf(w, "  %-16s %5s  %-22s %-22s %-22s %6s  %s\n", "edit", "pairs", "plaintext ≤ 31", "exact", "exact + probes", "×exact", "multi-open")
	row := func(e eval.RecallRow) {
		ratio := "—"
		if e.Exact > 0 {
			ratio = fmt.Sprintf("%.2f", e.Ratio)
		}
		cell := func(k int, lo, hi float64) string { return fmt.Sprintf("%d [%.2f, %.2f]", k, lo, hi) }
		fmt.Fprintf(w, "  %-16s %5d  %-22s %-22s %-22s %6s  %d", e.Edit, e.Pairs, cell(e.Plain, e.PlainLow, e.PlainHigh),
			cell(e.Exact, e.ExactLow, e.ExactHigh), cell(e.Probes, e.ProbeLow, e.ProbeHigh), ratio, e.MultiOpen)
		if e.Other > 0 {
			fmt.Fprintf(w, " (%d open another base)", e.Other)
		}
		if e.LowQuality > 0 {
			fmt.Fprintf(w, "; %d under quality 50", e.LowQuality)
		}
		if e.Failed > 0 {
			fmt.Fprintf(w, "; %d do not hash", e.Failed)
		}
		if e.ExactNotProbes > 0 {
			fmt.Fprintf(w, "; %d found exactly and lost by the client's keys", e.ExactNotProbes)
		}
		fmt.Fprintln(w)
	}
	for _, e := range r.Edits {
		row(e)
	}
	row(r.Total)
	for _, s := range r.Sources {
		fmt.Fprintf(w, "  %s (%d bases):\n", s.Source, s.Bases)
		t := s.Total
		t.Edit = "  total"
		row(t)
	}
	fmt.Fprintln(w, "  (plaintext ≤ 31 in the nearest of 8 orientations, as vigil match --dihedral; without --dihedral, the original orientation:", r.Total.PlainOriginal, "pairs)")
	tc := r.TableCheck
	fmt.Fprintf(w, "  opens decided by list membership; checked through a real blinded table of the bases on %d vouchers (%d keys, %d open): %d disagree\n", tc.Images, tc.Keys, tc.Opened, tc.Disagree)
}
