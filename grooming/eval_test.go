package grooming

import (
	"bufio"
	"math"
	"os"
	"strings"
	"testing"
)

func readLines(tb testing.TB, path string) []string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, MaxLineBytes)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func readRecords(tb testing.TB, path string) []Record {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var recs []Record
	if err := ReadRecords(f, func(_ int, r Record) error { recs = append(recs, r); return nil }); err != nil {
		tb.Fatal(err)
	}
	return recs
}

func TestROCAUC(t *testing.T) {
	tests := []struct {
		scores []float64
		labels []bool
		want   float64
	}{
		{[]float64{0.9, 0.8, 0.2, 0.1}, []bool{true, true, false, false}, 1},
		{[]float64{0.1, 0.2, 0.8, 0.9}, []bool{true, true, false, false}, 0},
		{[]float64{0.5, 0.5, 0.5, 0.5}, []bool{true, false, true, false}, 0.5},
		{[]float64{0.9, 0.4, 0.6, 0.1}, []bool{true, true, false, false}, 0.75},
	}
	for _, tt := range tests {
		if got := ROCAUC(tt.scores, tt.labels); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("ROCAUC(%v, %v) = %v, want %v", tt.scores, tt.labels, got, tt.want)
		}
	}
}

func TestAtFPR(t *testing.T) {
	// 100 negatives at 0.00..0.99, positives at 0.995, 0.985, 0.5.
	var s []float64
	var l []bool
	for i := 0; i < 100; i++ {
		s = append(s, float64(i)/100)
		l = append(l, false)
	}
	s = append(s, 0.995, 0.985, 0.5)
	l = append(l, true, true, true)
	o := AtFPR(s, l, 0.01)
	if o.FPR > 0.01 || math.Abs(o.TPR-2.0/3) > 1e-9 {
		t.Errorf("AtFPR 1%% = %+v", o)
	}
	o = AtFPR(s, l, 0.5)
	if o.FPR > 0.5 || o.TPR != 1 {
		t.Errorf("AtFPR 50%% = %+v", o)
	}
	if got := PPV(0.5, 0.01, 0.01); math.Abs(got-0.5*0.01/(0.5*0.01+0.01*0.99)) > 1e-12 {
		t.Errorf("PPV = %v", got)
	}
}

// The labelled sets must keep their shape: size, class balance, languages,
// no repeated conversation, and no sexual vocabulary.
func TestDatasets(t *testing.T) {
	for _, tt := range []struct {
		path   string
		minN   int
		minPos float64
		maxPos float64
		langs  []string
	}{
		{"testdata/dev.jsonl", 300, 0.35, 0.45, []string{"en", "es", "de", "fr"}},
		{"testdata/heldout.jsonl", 75, 0.3, 0.5, []string{"en", "es", "de", "fr"}},
		{"testdata/dev_lang.jsonl", 85, 0.25, 0.4, []string{"it", "pt", "nl", "pl", "et"}},
		{"testdata/dev_hard.jsonl", 48, 0.3, 0.45, []string{"pt", "pl", "nl", "fr", "de", "et"}},
	} {
		recs := readRecords(t, tt.path)
		seen := map[string]bool{}
		langs := map[string]int{}
		pos := 0
		for _, r := range recs {
			if r.Label == "grooming" {
				pos++
				if r.Suspect == "" {
					t.Errorf("%s %s: no suspect", tt.path, r.ID)
				}
			}
			langs[r.Lang]++
			var b strings.Builder
			for _, m := range r.Messages {
				b.WriteString(m.Text)
				b.WriteByte('\n')
				for _, w := range []string{"sex", "nude", "naked", "porn", "wearing", "pajama", "underwear", "undress", "bikini", "kiss"} {
					if strings.Contains(strings.ToLower(m.Text), w) {
						t.Errorf("%s %s: explicit word %q", tt.path, r.ID, w)
					}
				}
			}
			if seen[b.String()] {
				t.Errorf("%s %s: repeated conversation", tt.path, r.ID)
			}
			seen[b.String()] = true
		}
		share := float64(pos) / float64(len(recs))
		if len(recs) < tt.minN || share < tt.minPos || share > tt.maxPos {
			t.Errorf("%s: %d conversations, %.0f%% grooming", tt.path, len(recs), 100*share)
		}
		for _, l := range tt.langs {
			if langs[l] == 0 {
				t.Errorf("%s: no %s conversations", tt.path, l)
			}
		}
	}
}

// Regression floors on the labelled sets, well below current numbers, so
// that a lexicon or weight change that breaks the detector fails loudly.
func TestEvaluateFloors(t *testing.T) {
	for _, sc := range []string{ScorerHand, ScorerLearned} {
		t.Run(sc, func(t *testing.T) { testEvaluateFloors(t, NewDetector(Options{Scorer: sc})) })
	}
}

func testEvaluateFloors(t *testing.T, d *Detector) {
	for _, tt := range []struct {
		path         string
		auc, recall5 float64
	}{
		{"testdata/dev.jsonl", 0.95, 0.85},
		{"testdata/heldout.jsonl", 0.85, 0.6},
		{"testdata/dev_lang.jsonl", 0.9, 0.8},
	} {
		rep := Evaluate(d, readRecords(t, tt.path))
		if rep.Detector.AUC < tt.auc || rep.Detector.AtFPR5.TPR < tt.recall5 {
			t.Errorf("%s: AUC %.3f recall@5%% %.3f", tt.path, rep.Detector.AUC, rep.Detector.AtFPR5.TPR)
		}
		if rep.Detector.AUC <= rep.Keyword.AUC {
			t.Errorf("%s: detector AUC %.3f not above keyword baseline %.3f", tt.path, rep.Detector.AUC, rep.Keyword.AUC)
		}
		t.Logf("%s: AUC %.3f, recall@1%% %.3f, recall@5%% %.3f, keyword AUC %.3f",
			tt.path, rep.Detector.AUC, rep.Detector.AtFPR1.TPR, rep.Detector.AtFPR5.TPR, rep.Keyword.AUC)
	}
}

func TestReadRecordsLimits(t *testing.T) {
	long := `{"id":"x","messages":[{"from":"a","text":"` + strings.Repeat("a", MaxLineBytes) + `"}]}`
	err := ReadRecords(strings.NewReader(long+"\n"), func(int, Record) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("long line: err = %v", err)
	}
	err = ReadRecords(strings.NewReader(`{"id":"x","label":"maybe"}`), func(int, Record) error { return nil })
	if err == nil {
		t.Error("bad label accepted")
	}
	n := 0
	err = ReadRecords(strings.NewReader("\n{\"id\":\"a\",\"messages\":[{\"from\":\"x\",\"text\":\"hi\",\"time\":\"2026-01-02T03:04:05Z\"}]}\n\n"), func(int, Record) error { n++; return nil })
	if err != nil || n != 1 {
		t.Errorf("n=%d err=%v", n, err)
	}
}

// TestEvaluateByLanguage: the report slices by language with the same
// metrics as overall (AUC, recall at 1% and 5% FPR) and the baseline beside
// them; records without a "lang" fall back to the identified language.
func TestEvaluateByLanguage(t *testing.T) {
	d := newTestDetector(t)
	recs := readRecords(t, "testdata/dev_lang.jsonl")
	for i := range recs {
		if recs[i].Lang == "pl" {
			recs[i].Lang = "" // identified instead
		}
	}
	recs = append(recs, Record{Label: "benign", Conversation: Conversation{ID: "sv", Messages: []Message{
		{From: "a", Text: "hej hur mår du idag, vi ses på lördag efter skolan"},
		{From: "b", Text: "bra tack, jag måste plugga matte hela kvällen tyvärr"},
	}}})
	rep := Evaluate(d, recs)
	for _, l := range []string{"it", "pt", "nl", "pl", "et"} {
		lr, ok := rep.ByLang[l]
		if !ok || lr.N != 17 || lr.Pos != 5 || lr.Neg != 12 {
			t.Fatalf("%s: %+v", l, lr)
		}
		if lr.Detector.AUC < 0.9 || lr.Detector.AtFPR5.TPR < 0.75 || lr.Detector.AUC <= lr.Keyword.AUC {
			t.Errorf("%s: AUC %.3f recall@1%% %.3f recall@5%% %.3f keyword AUC %.3f", l,
				lr.Detector.AUC, lr.Detector.AtFPR1.TPR, lr.Detector.AtFPR5.TPR, lr.Keyword.AUC)
		}
	}
	if rep.Unsupported != 1 || rep.ByLang[UnsupportedLanguage].N != 1 {
		t.Errorf("unsupported %d, by_lang %+v", rep.Unsupported, rep.ByLang[UnsupportedLanguage])
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"recall@FPR<=1%", "unsupported language: 1", "\n  pl "} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
