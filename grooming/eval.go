package grooming

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Operating is a detector's numbers at one threshold.
type Operating struct {
	Threshold float64 `json:"threshold"`
	TPR       float64 `json:"tpr"`
	FPR       float64 `json:"fpr"`
	// TPRLo and TPRHi are the Wilson 95% interval of TPR.
	TPRLo float64 `json:"tpr_lo"`
	TPRHi float64 `json:"tpr_hi"`
	// PPV1 and PPV01 are the precision at 1% and 0.1% prevalence:
	// TPR·π / (TPR·π + FPR·(1−π)).
	PPV1  float64 `json:"ppv_at_1pct_prevalence"`
	PPV01 float64 `json:"ppv_at_0_1pct_prevalence"`
}

// SystemReport holds one system's metrics on a labelled set.
type SystemReport struct {
	AUC float64 `json:"auc"`
	// AtFPR01, AtFPR1 and AtFPR5 are the best operating points with a
	// false-positive rate of at most 0.1%, 1% and 5%.
	AtFPR01 Operating `json:"at_fpr_0_1pct"`
	AtFPR1  Operating `json:"at_fpr_1pct"`
	AtFPR5  Operating `json:"at_fpr_5pct"`
	// AtDefault is the operating point at the configured flag threshold.
	AtDefault Operating `json:"at_default"`
}

// EvalReport is the result of Evaluate.
type EvalReport struct {
	// Scorer names the detector's scorer (hand or learned); CV is set when
	// every record was scored by a model trained without its fold.
	Scorer   string       `json:"scorer"`
	CV       bool         `json:"cross_validated,omitempty"`
	N        int          `json:"n"`
	Pos      int          `json:"positives"`
	Neg      int          `json:"negatives"`
	Detector SystemReport `json:"detector"`
	// Keyword is the single-keyword baseline: flag a conversation if any
	// lexicon keyword appears, with no context rules or scoring.
	Keyword SystemReport `json:"keyword_baseline"`
	// SuspectAccuracy is the share of flagged positives with a labelled
	// suspect whose suspect the detector named.
	SuspectAccuracy float64 `json:"suspect_accuracy"`
	SuspectN        int     `json:"suspect_n"`
	// KeywordSuspectAccuracy is the baseline's: the speaker of the first
	// keyword hit, over positives with a hit and a labelled suspect.
	KeywordSuspectAccuracy float64 `json:"keyword_suspect_accuracy"`
	KeywordSuspectN        int     `json:"keyword_suspect_n"`
	// Early detection over flagged positives: messages read before the
	// sticky flag was raised (1-based), and the share of the conversation.
	EarlyMedian       float64 `json:"early_median_messages"`
	EarlyP90          float64 `json:"early_p90_messages"`
	EarlyMeanFraction float64 `json:"early_mean_fraction"`
	// KeywordEarlyMedian is the baseline's: messages read before the first
	// keyword hit, over positives with a hit.
	KeywordEarlyMedian float64 `json:"keyword_early_median_messages"`
	// EarlyDelayMedian is the median of flag index − evidence_turn where
	// evidence turns are labelled.
	EarlyDelayMedian *float64 `json:"early_delay_median,omitempty"`
	// ByLang holds the detector's and the baseline's metrics per language:
	// the record's "lang" where labelled, else the identified language
	// (UnsupportedLanguage, or "und" when too short to tell).
	ByLang map[string]LangReport `json:"by_lang,omitempty"`
	// ByFamily holds, per labelled family of the positives ("grooming",
	// "sextortion" where records carry "family"), those positives against
	// all negatives.
	ByFamily map[string]LangReport `json:"by_family,omitempty"`
	// Reliability is the calibration table of the detector's scores.
	Reliability []ReliabilityBin `json:"reliability"`
	// Unsupported counts conversations marked as in an unsupported
	// language; their scores mean nothing and they need another review.
	Unsupported int `json:"unsupported"`
	// Errors lists up to 20 misclassified ids at the default threshold.
	FalseNegatives []string `json:"false_negatives,omitempty"`
	FalsePositives []string `json:"false_positives,omitempty"`
}

// ReliabilityBin is one score bin: how many conversations fell in it,
// their mean score and the share that were grooming.
type ReliabilityBin struct {
	Lo        float64 `json:"lo"`
	Hi        float64 `json:"hi"`
	N         int     `json:"n"`
	MeanScore float64 `json:"mean_score"`
	Observed  float64 `json:"observed"`
}

// LangReport is one language's (or family's) slice of an EvalReport.
type LangReport struct {
	N        int          `json:"n"`
	Pos      int          `json:"positives"`
	Neg      int          `json:"negatives"`
	Detector SystemReport `json:"detector"`
	Keyword  SystemReport `json:"keyword_baseline"`
}

// Evaluate scores every labelled record with d and with the keyword
// baseline. Records without a label are skipped.
func Evaluate(d *Detector, recs []Record) EvalReport {
	return evaluate(recs, func(int) *Detector { return d })
}

// EvaluateCV is Evaluate with record i scored by detectors[fold[i]]: a
// cross-validated report when each fold's model was trained without it.
func EvaluateCV(detectors []*Detector, fold []int, recs []Record) EvalReport {
	rep := evaluate(recs, func(i int) *Detector { return detectors[fold[i]] })
	rep.CV = true
	return rep
}

func evaluate(recs []Record, detFor func(i int) *Detector) EvalReport {
	var rep EvalReport
	var scores, kw []float64
	var labels []bool
	var langs, fams []string
	var early, frac, delays, kwEarly []float64
	var threshold float64
	for i, rec := range recs {
		if rec.Label == "" {
			continue
		}
		d := detFor(i)
		threshold = d.opts.Threshold
		rep.Scorer = d.Scorer()
		pos := rec.Label == "grooming"
		r := d.Score(rec.Conversation)
		scores = append(scores, r.Score)
		labels = append(labels, pos)
		lang := rec.Lang
		if lang == "" {
			lang = cmp.Or(r.Language, "und")
		}
		langs = append(langs, lang)
		fams = append(fams, rec.FamilyName())
		if r.Unsupported {
			rep.Unsupported++
		}
		hit := 0.0
		for k, m := range rec.Messages {
			if d.KeywordHit(m.Text) {
				hit = 1
				if pos {
					kwEarly = append(kwEarly, float64(k+1))
					if rec.Suspect != "" {
						rep.KeywordSuspectN++
						if m.From == rec.Suspect {
							rep.KeywordSuspectAccuracy++
						}
					}
				}
				break
			}
		}
		kw = append(kw, hit)
		if pos {
			rep.Pos++
		} else {
			rep.Neg++
		}
		switch {
		case pos && r.Flagged:
			if rec.Suspect != "" {
				rep.SuspectN++
				if r.Suspect == rec.Suspect {
					rep.SuspectAccuracy++
				}
			}
			k := float64(r.FlaggedAt + 1)
			early = append(early, k)
			frac = append(frac, k/float64(len(rec.Messages)))
			if rec.EvidenceTurn != nil {
				delays = append(delays, float64(r.FlaggedAt-*rec.EvidenceTurn))
			}
		case pos && len(rep.FalseNegatives) < 20:
			rep.FalseNegatives = append(rep.FalseNegatives, rec.ID)
		case !pos && r.Flagged && len(rep.FalsePositives) < 20:
			rep.FalsePositives = append(rep.FalsePositives, rec.ID)
		}
	}
	rep.N = len(scores)
	if rep.SuspectN > 0 {
		rep.SuspectAccuracy /= float64(rep.SuspectN)
	}
	if rep.KeywordSuspectN > 0 {
		rep.KeywordSuspectAccuracy /= float64(rep.KeywordSuspectN)
	}
	rep.Detector = systemReport(scores, labels, threshold)
	rep.Keyword = systemReport(kw, labels, 0.5)
	rep.EarlyMedian = quantile(early, 0.5)
	rep.EarlyP90 = quantile(early, 0.9)
	rep.EarlyMeanFraction = mean(frac)
	rep.KeywordEarlyMedian = quantile(kwEarly, 0.5)
	if len(delays) > 0 {
		m := quantile(delays, 0.5)
		rep.EarlyDelayMedian = &m
	}
	rep.Reliability = reliability(scores, labels, 10)
	slice := func(keep func(i int) bool) LangReport {
		var s, k []float64
		var lb []bool
		var lr LangReport
		for i := range scores {
			if !keep(i) {
				continue
			}
			lr.N++
			s = append(s, scores[i])
			k = append(k, kw[i])
			lb = append(lb, labels[i])
			if labels[i] {
				lr.Pos++
			} else {
				lr.Neg++
			}
		}
		lr.Detector = systemReport(s, lb, threshold)
		lr.Keyword = systemReport(k, lb, 0.5)
		return lr
	}
	byLang := map[string]bool{}
	for _, l := range langs {
		byLang[l] = true
	}
	if len(byLang) > 1 {
		rep.ByLang = map[string]LangReport{}
		for l := range byLang {
			rep.ByLang[l] = slice(func(i int) bool { return langs[i] == l })
		}
	}
	byFam := map[string]bool{}
	for i, f := range fams {
		if labels[i] && f != "" {
			byFam[f] = true
		}
	}
	if len(byFam) > 0 {
		rep.ByFamily = map[string]LangReport{}
		for f := range byFam {
			rep.ByFamily[f] = slice(func(i int) bool { return !labels[i] || fams[i] == f })
		}
	}
	return rep
}

// reliability bins scores in [0,1] into n equal-width bins.
func reliability(scores []float64, labels []bool, n int) []ReliabilityBin {
	bins := make([]ReliabilityBin, n)
	for i := range bins {
		bins[i].Lo, bins[i].Hi = float64(i)/float64(n), float64(i+1)/float64(n)
	}
	for i, s := range scores {
		b := min(max(int(s*float64(n)), 0), n-1)
		bins[b].N++
		bins[b].MeanScore += s
		if labels[i] {
			bins[b].Observed++
		}
	}
	for i := range bins {
		if bins[i].N > 0 {
			bins[i].MeanScore = round3(bins[i].MeanScore / float64(bins[i].N))
			bins[i].Observed = round3(bins[i].Observed / float64(bins[i].N))
		}
	}
	return bins
}

// KeywordHit reports whether any indicator pattern matches text before any
// context rule: the single-keyword baseline.
func (d *Detector) KeywordHit(text string) bool {
	s := d.scratch()
	defer d.release(s)
	t := d.tag(s, text)
	for _, v := range t.raw {
		if v > 0 {
			return true
		}
	}
	return false
}

func systemReport(scores []float64, labels []bool, threshold float64) SystemReport {
	auc := ROCAUC(scores, labels)
	if math.IsNaN(auc) {
		auc = 0 // one class only; JSON cannot carry NaN
	}
	return SystemReport{
		AUC:       auc,
		AtFPR01:   AtFPR(scores, labels, 0.001),
		AtFPR1:    AtFPR(scores, labels, 0.01),
		AtFPR5:    AtFPR(scores, labels, 0.05),
		AtDefault: operatingAt(scores, labels, threshold),
	}
}

// ROCAUC is the area under the ROC curve: the probability that a random
// positive scores above a random negative, ties counting one half.
func ROCAUC(scores []float64, labels []bool) float64 {
	type sl struct {
		s   float64
		pos bool
	}
	xs := make([]sl, len(scores))
	var np, nn float64
	for i := range scores {
		xs[i] = sl{scores[i], labels[i]}
		if labels[i] {
			np++
		} else {
			nn++
		}
	}
	if np == 0 || nn == 0 {
		return math.NaN()
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i].s < xs[j].s })
	// Mann–Whitney U with average ranks for ties.
	var rankSum float64
	for i := 0; i < len(xs); {
		j := i
		for j < len(xs) && xs[j].s == xs[i].s {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks are 1-based: (i+1 + j) / 2
		for k := i; k < j; k++ {
			if xs[k].pos {
				rankSum += avg
			}
		}
		i = j
	}
	return (rankSum - np*(np+1)/2) / (np * nn)
}

// AtFPR returns the operating point with the highest recall whose
// false-positive rate is at most fpr. Flags are score ≥ threshold.
func AtFPR(scores []float64, labels []bool, fpr float64) Operating {
	var negs []float64
	for i, s := range scores {
		if !labels[i] {
			negs = append(negs, s)
		}
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(negs)))
	k := int(math.Floor(fpr*float64(len(negs)) + 1e-9))
	// The threshold must sit above the (k+1)-th highest negative score.
	th := math.Inf(-1)
	if k < len(negs) {
		th = math.Nextafter(negs[k], math.Inf(1))
	}
	return operatingAt(scores, labels, th)
}

func operatingAt(scores []float64, labels []bool, th float64) Operating {
	var tp, fp, np, nn float64
	for i, s := range scores {
		if labels[i] {
			np++
			if s >= th {
				tp++
			}
		} else {
			nn++
			if s >= th {
				fp++
			}
		}
	}
	o := Operating{Threshold: th}
	if np > 0 {
		o.TPR = tp / np
		o.TPRLo, o.TPRHi = wilson(tp, np)
	}
	if nn > 0 {
		o.FPR = fp / nn
	}
	o.PPV1 = PPV(o.TPR, o.FPR, 0.01)
	o.PPV01 = PPV(o.TPR, o.FPR, 0.001)
	if math.IsInf(o.Threshold, -1) {
		o.Threshold = 0
	}
	return o
}

// PPV is the precision at prevalence pi given a true- and false-positive
// rate. With no false positives measured it is 1 (bounded by the set size).
func PPV(tpr, fpr, pi float64) float64 {
	den := tpr*pi + fpr*(1-pi)
	if den == 0 {
		return 0
	}
	return tpr * pi / den
}

func wilson(k, n float64) (lo, hi float64) {
	const z = 1.96
	p := k / n
	den := 1 + z*z/n
	c := (p + z*z/(2*n)) / den
	h := z * math.Sqrt(p*(1-p)/n+z*z/(4*n*n)) / den
	return math.Max(0, c-h), math.Min(1, c+h)
}

func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var t float64
	for _, x := range xs {
		t += x
	}
	return t / float64(len(xs))
}

// WriteText prints the report for people.
func (rep EvalReport) WriteText(w io.Writer) error {
	pct := func(x float64) string { return fmt.Sprintf("%5.1f%%", 100*x) }
	var err error
	p := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, a...)
		}
	}
	p("conversations: %d (%d grooming, %d benign), scorer %s", rep.N, rep.Pos, rep.Neg, rep.Scorer)
	if rep.CV {
		p(", cross-validated (each record scored by a model trained without its fold: development figures)")
	}
	p("\n\n")
	p("%-28s %10s %10s\n", "metric", "detector", "keyword")
	if rep.Pos == 0 || rep.Neg == 0 {
		// AUC and rates at a false-positive rate need both classes.
		p("%-28s %10s %10s\n", "ROC AUC", "n/a", "n/a")
	} else {
		p("%-28s %10.3f %10.3f\n", "ROC AUC", rep.Detector.AUC, rep.Keyword.AUC)
	}
	p("%-28s %10s %10s\n", "recall @ FPR<=0.1%", pct(rep.Detector.AtFPR01.TPR), pct(rep.Keyword.AtFPR01.TPR))
	p("%-28s %10s %10s\n", "recall @ FPR<=1%", pct(rep.Detector.AtFPR1.TPR), pct(rep.Keyword.AtFPR1.TPR))
	p("%-28s %10s %10s\n", "recall @ FPR<=5%", pct(rep.Detector.AtFPR5.TPR), pct(rep.Keyword.AtFPR5.TPR))
	p("%-28s %10s %10s\n", "precision @1% prev (FPR<=1%)", pct(rep.Detector.AtFPR1.PPV1), pct(rep.Keyword.AtFPR1.PPV1))
	p("%-28s %10s %10s\n", "precision @0.1% prev (<=1%)", pct(rep.Detector.AtFPR1.PPV01), pct(rep.Keyword.AtFPR1.PPV01))
	p("%-28s %10s %10s\n", "precision @0.1% prev (<=.1%)", pct(rep.Detector.AtFPR01.PPV01), pct(rep.Keyword.AtFPR01.PPV01))
	p("%-28s %10s %10s\n", "recall @ default threshold", pct(rep.Detector.AtDefault.TPR), pct(rep.Keyword.AtDefault.TPR))
	p("%-28s %10s %10s\n", "  95% CI", fmt.Sprintf("%.0f-%.0f%%", 100*rep.Detector.AtDefault.TPRLo, 100*rep.Detector.AtDefault.TPRHi), fmt.Sprintf("%.0f-%.0f%%", 100*rep.Keyword.AtDefault.TPRLo, 100*rep.Keyword.AtDefault.TPRHi))
	p("%-28s %10s %10s\n", "FPR @ default threshold", pct(rep.Detector.AtDefault.FPR), pct(rep.Keyword.AtDefault.FPR))
	p("%-28s %10s %10s\n", "precision @1% prev (default)", pct(rep.Detector.AtDefault.PPV1), pct(rep.Keyword.AtDefault.PPV1))
	p("\nthresholds: default %.3f, FPR<=1%% %.3f, FPR<=5%% %.3f\n", rep.Detector.AtDefault.Threshold, rep.Detector.AtFPR1.Threshold, rep.Detector.AtFPR5.Threshold)
	p("suspect-speaker accuracy: %s (%d flagged positives with a labelled suspect); keyword baseline %s (%d)\n", pct(rep.SuspectAccuracy), rep.SuspectN, pct(rep.KeywordSuspectAccuracy), rep.KeywordSuspectN)
	p("early detection: median %.0f messages read before the flag, p90 %.0f, mean share of conversation %s; keyword baseline median %.0f\n", rep.EarlyMedian, rep.EarlyP90, pct(rep.EarlyMeanFraction), rep.KeywordEarlyMedian)
	if rep.EarlyDelayMedian != nil {
		p("delay vs labelled evidence turn: median %+.0f messages\n", *rep.EarlyDelayMedian)
	}
	if rep.Unsupported > 0 {
		p("unsupported language: %d conversations (their scores mean nothing)\n", rep.Unsupported)
	}
	if len(rep.ByLang) > 0 {
		var ls []string
		for l := range rep.ByLang {
			ls = append(ls, l)
		}
		sort.Strings(ls)
		p("\nby language (detector / keyword baseline):\n")
		p("  %-11s %4s %4s %4s %13s %15s %15s %11s\n", "lang", "n", "pos", "neg", "AUC", "recall@FPR<=1%", "recall@FPR<=5%", "FPR@default")
		for _, l := range ls {
			o := rep.ByLang[l]
			auc := "n/a"
			if o.Pos > 0 && o.Neg > 0 {
				auc = fmt.Sprintf("%.3f/%.3f", o.Detector.AUC, o.Keyword.AUC)
			}
			p("  %-11s %4d %4d %4d %13s %7s/%-7s %7s/%-7s %11s\n", l, o.N, o.Pos, o.Neg, auc,
				pct(o.Detector.AtFPR1.TPR), strings.TrimSpace(pct(o.Keyword.AtFPR1.TPR)),
				pct(o.Detector.AtFPR5.TPR), strings.TrimSpace(pct(o.Keyword.AtFPR5.TPR)), pct(o.Detector.AtDefault.FPR))
		}
	}
	if len(rep.ByFamily) > 0 {
		var fs []string
		for f := range rep.ByFamily {
			fs = append(fs, f)
		}
		sort.Strings(fs)
		p("\nby family of the positives, against all negatives (detector / keyword baseline):\n")
		p("  %-11s %4s %13s %15s %15s %15s\n", "family", "pos", "AUC", "recall@FPR<=.1%", "recall@FPR<=1%", "recall@FPR<=5%")
		for _, f := range fs {
			o := rep.ByFamily[f]
			p("  %-11s %4d %13s %7s/%-7s %7s/%-7s %7s/%-7s\n", f, o.Pos, fmt.Sprintf("%.3f/%.3f", o.Detector.AUC, o.Keyword.AUC),
				pct(o.Detector.AtFPR01.TPR), strings.TrimSpace(pct(o.Keyword.AtFPR01.TPR)),
				pct(o.Detector.AtFPR1.TPR), strings.TrimSpace(pct(o.Keyword.AtFPR1.TPR)),
				pct(o.Detector.AtFPR5.TPR), strings.TrimSpace(pct(o.Keyword.AtFPR5.TPR)))
		}
	}
	if len(rep.Reliability) > 0 {
		p("\nreliability (calibration): score bin, conversations, mean score, observed grooming share\n")
		for _, b := range rep.Reliability {
			if b.N == 0 {
				continue
			}
			p("  [%.1f,%.1f) %5d %7.3f %7.3f\n", b.Lo, b.Hi, b.N, b.MeanScore, b.Observed)
		}
	}
	if len(rep.FalseNegatives) > 0 {
		p("\nmissed: %v\n", rep.FalseNegatives)
	}
	if len(rep.FalsePositives) > 0 {
		p("false alarms: %v\n", rep.FalsePositives)
	}
	return err
}
