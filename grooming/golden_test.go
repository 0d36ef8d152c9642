package grooming

import (
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The golden test pins the learned scorer's output over every training
// file: each message's unrounded score (the best pair's calibrated
// sigmoid, before round3) and a digest of each Risk's JSON (indicators,
// evidence, contributions, facts, context, language). The golden file was
// written by the code before the speed work (main at 7de74fb), so any
// optimisation that moves a score by more than 1e-12 or changes an
// explanation fails here. Regenerate only for an intended change:
//
//	go test ./grooming/ -run TestGoldenScores -update-golden
var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden_scores.txt.gz from the current code")

const goldenPath = "testdata/golden_scores.txt.gz"

// goldenTolerance is the largest score change the golden test accepts.
const goldenTolerance = 1e-12

// trainingFiles reads the files listed in generate.go's go:generate line,
// so that the golden test covers exactly what the model is trained on.
func trainingFiles(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("generate.go")
	if err != nil {
		t.Fatal(err)
	}
	files := regexp.MustCompile(`testdata/[A-Za-z0-9_.-]+\.jsonl`).FindAllString(string(b), -1)
	if len(files) < 10 {
		t.Fatalf("generate.go lists %d training files, want the whole pool", len(files))
	}
	return files
}

// bestRawScore is the unrounded score of the riskiest pair, selected as
// risk selects it.
func bestRawScore(d *Detector, st *State) (float64, bool) {
	var best, pv pairView
	found := false
	var x [numFeatures]float64
	st.candidates(func(a, b int) {
		d.view(st, a, b, &pv, &x, nil, false)
		if !found || pv.z > best.z || (pv.z == best.z && st.Speakers[a].Questions > st.Speakers[best.actor].Questions) {
			best, found = pv, true
		}
	})
	return sigmoid(best.z), found
}

// goldenLines scores every training conversation message by message: one
// line per conversation, "file id digest score…", with "-" for a message
// after which no pair exists yet.
func goldenLines(t *testing.T, d *Detector) []string {
	t.Helper()
	var out []string
	for _, file := range trainingFiles(t) {
		for _, rec := range readRecords(t, file) {
			st := NewState(rec.Participants)
			h := sha256.New()
			var scores []string
			for _, m := range rec.Messages {
				r := d.Append(st, m)
				js, err := json.Marshal(r)
				if err != nil {
					t.Fatal(err)
				}
				h.Write(js)
				h.Write([]byte{'\n'})
				if s, ok := bestRawScore(d, st); ok {
					scores = append(scores, strconv.FormatFloat(s, 'g', -1, 64))
				} else {
					scores = append(scores, "-")
				}
			}
			out = append(out, fmt.Sprintf("%s %s %s %s", file, rec.ID,
				hex.EncodeToString(h.Sum(nil)[:12]), strings.Join(scores, " ")))
		}
	}
	return out
}

func TestGoldenScores(t *testing.T) {
	d := NewDetector(Options{Scorer: ScorerLearned})
	got := goldenLines(t, d)
	if *updateGolden {
		f, err := os.Create(goldenPath)
		if err != nil {
			t.Fatal(err)
		}
		zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
		for _, l := range got {
			fmt.Fprintln(zw, l)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s: %d conversations", goldenPath, len(got))
		return
	}
	f, err := os.Open(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		want = append(want, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d conversations scored, golden has %d", len(got), len(want))
	}
	msgs, bad := 0, 0
	for i := range got {
		g, w := strings.Fields(got[i]), strings.Fields(want[i])
		if len(g) != len(w) || g[0] != w[0] || g[1] != w[1] {
			t.Fatalf("conversation %d: got %.80q, golden %.80q", i, got[i], want[i])
		}
		if g[2] != w[2] {
			bad++
			if bad <= 10 {
				t.Errorf("%s %s: explanation digest %s, golden %s", g[0], g[1], g[2], w[2])
			}
		}
		for j := 3; j < len(g); j++ {
			msgs++
			if g[j] == w[j] {
				continue
			}
			gs, err1 := strconv.ParseFloat(g[j], 64)
			ws, err2 := strconv.ParseFloat(w[j], 64)
			if err1 != nil || err2 != nil || math.Abs(gs-ws) > goldenTolerance {
				bad++
				if bad <= 10 {
					t.Errorf("%s %s message %d: score %s, golden %s", g[0], g[1], j-3, g[j], w[j])
				}
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d differences over %d conversations, %d messages", bad, len(got), msgs)
	}
	if msgs < 10000 {
		t.Errorf("only %d messages compared", msgs)
	}
}
