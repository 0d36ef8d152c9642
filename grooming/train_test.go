package grooming

import (
	"math"
	"slices"
	"testing"
)

func TestPlatt(t *testing.T) {
	// Scores whose true calibration is sigmoid(2z − 1).
	var z []float64
	var y []bool
	for i := 0; i < 4000; i++ {
		zi := float64(i%200)/20 - 5
		p := sigmoid(2*zi - 1)
		z = append(z, zi)
		// Deterministic labels at the right rate within each z.
		y = append(y, float64((i/200)%20)+0.5 < 20*p)
	}
	a, b := platt(z, y)
	if math.Abs(a-2) > 0.3 || math.Abs(b+1) > 0.3 {
		t.Errorf("platt a=%.3f b=%.3f, want about 2, −1", a, b)
	}
}

func TestReliability(t *testing.T) {
	bins := reliability([]float64{0.05, 0.07, 0.95, 0.99, 1}, []bool{false, true, true, true, true}, 10)
	if bins[0].N != 2 || bins[0].Observed != 0.5 || bins[9].N != 3 || bins[9].Observed != 1 {
		t.Errorf("bins %+v", bins)
	}
}

// TestTrainDeterministic: the same data gives the same model, and the
// fit learns the data: out-of-fold AUC well above chance.
func TestTrainDeterministic(t *testing.T) {
	var recs []Record
	var groups []string
	for _, f := range []string{"dev_hand.jsonl", "dev_sextortion.jsonl", "dev_lang.jsonl"} {
		for _, r := range readRecords(t, "testdata/"+f) {
			recs = append(recs, r)
			groups = append(groups, f)
		}
	}
	exs := Examples(recs, groups)
	a, err := TrainModel(exs, nil, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := TrainModel(exs, nil, TrainOptions{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Final.File.Weights, b.Final.File.Weights) || a.Final.File.Bias != b.Final.File.Bias {
		t.Error("two trainings on the same data differ")
	}
	labels := make([]bool, len(exs))
	for i := range exs {
		labels[i] = exs[i].Label
	}
	if auc := ROCAUC(a.OOF, labels); auc < 0.85 {
		t.Errorf("out-of-fold AUC %.3f", auc)
	}
	for i, w := range a.Final.File.Weights {
		if monotone(i) && w < 0 {
			t.Errorf("%s: weight %.3f < 0 on evidence that may only add", a.Final.File.Features[i], w)
		}
	}
}

// TestBuiltinModelReproduces retrains on the pool and compares with the
// committed model.json: `go generate ./grooming` was run after the last
// lexicon, feature or data change.
func TestBuiltinModelReproduces(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the whole pool")
	}
	m, err := BuiltinModel()
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	var groups []string
	var data []DataFile
	for _, df := range m.File.Data {
		df2 := DataFile{Name: df.Name}
		for _, r := range readRecords(t, "testdata/"+df.Name) {
			recs = append(recs, r)
			groups = append(groups, df.Name)
			if r.Label == "grooming" {
				df2.Grooming++
			} else {
				df2.Benign++
			}
		}
		data = append(data, df2)
	}
	if len(recs) < 1500 {
		t.Errorf("pool of %d conversations, want at least 1,500", len(recs))
	}
	res, err := TrainModel(Examples(recs, groups), data, TrainOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Final.File.Weights, m.File.Weights) || res.Final.File.Bias != m.File.Bias ||
		res.Final.File.PlattA != m.File.PlattA || res.Final.File.Flag != m.File.Flag || !slices.Equal(res.Final.File.Data, m.File.Data) {
		t.Error("model.json is stale: run go generate ./grooming")
	}
}

func TestBuiltinModelChecks(t *testing.T) {
	m, err := BuiltinModel()
	if err != nil {
		t.Fatal(err)
	}
	if m.File.Low > m.File.Flag || m.File.Flag > m.File.High || m.File.Flag <= 0 || m.File.High >= 1 {
		t.Errorf("levels %.3f %.3f %.3f", m.File.Low, m.File.Flag, m.File.High)
	}
	mf := m.File
	mf.Features = mf.Features[1:]
	if _, err := NewModel(mf); err == nil {
		t.Error("a model with other features was accepted")
	}
	mf = m.File
	mf.Weights = slices.Clone(mf.Weights)
	mf.Weights[3] = math.NaN()
	if _, err := NewModel(mf); err == nil {
		t.Error("a NaN weight was accepted")
	}
	if _, err := ParseModel([]byte(`{"version":1`)); err == nil {
		t.Error("truncated JSON was accepted")
	}
}

// TestLearnedExplains: every flagged conversation names the features that
// raised it and the messages behind them, and those messages carry the
// indicators' evidence.
func TestLearnedExplains(t *testing.T) {
	d := NewDetector(Options{Scorer: ScorerLearned})
	n := 0
	for _, rec := range readRecords(t, "testdata/dev_hand.jsonl") {
		r := d.Score(rec.Conversation)
		if !r.Flagged || r.Score < d.Threshold() {
			continue
		}
		n++
		if len(r.Contributions) == 0 {
			t.Errorf("%s: score %.3f with no contributions", rec.ID, r.Score)
			continue
		}
		ev := map[int]bool{}
		for _, ind := range r.Indicators {
			for _, m := range ind.Messages {
				ev[m] = true
			}
		}
		withMsgs := 0
		for _, c := range r.Contributions {
			if c.Logit <= 0 {
				t.Errorf("%s: contribution %+v does not raise the score", rec.ID, c)
			}
			for _, m := range c.Messages {
				if !ev[m] {
					t.Errorf("%s: contribution %s names message %d without evidence", rec.ID, c.Feature, m)
				}
			}
			if len(c.Messages) > 0 {
				withMsgs++
			}
		}
		if withMsgs == 0 {
			t.Errorf("%s: no contribution names a message: %+v", rec.ID, r.Contributions)
		}
	}
	if n < 10 {
		t.Errorf("only %d flagged conversations", n)
	}
	if h := NewDetector(Options{Scorer: ScorerHand}).Score(readRecords(t, "testdata/dev_hand.jsonl")[0].Conversation); h.Contributions != nil {
		t.Errorf("hand scorer reports contributions %+v", h.Contributions)
	}
}

func TestRecordFamilyLenient(t *testing.T) {
	for in, want := range map[string]string{
		`{"id":"a","messages":[],"family":"sextortion"}`: "sextortion",
		`{"id":"a","messages":[],"family":["x"]}`:        "",
		`{"id":"a","messages":[],"family":null}`:         "",
		`{"id":"a","messages":[]}`:                       "",
	} {
		rec, err := ParseRecord([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := rec.FamilyName(); got != want {
			t.Errorf("%s: family %q, want %q", in, got, want)
		}
	}
}

// TestRawIsDot: the sparse logit equals the plain dot product of the
// weights and the feature vector on every pair of the dev set.
func TestRawIsDot(t *testing.T) {
	m, err := BuiltinModel()
	if err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, "testdata/dev_hard.jsonl")
	exs := Examples(recs, make([]string, len(recs)))
	n := 0
	for _, ex := range exs {
		for k := range ex.Pairs {
			x := &ex.Pairs[k]
			dot := m.bias
			for i := range x {
				dot += m.w[i] * x[i]
			}
			if got := m.raw(x); math.Abs(got-dot) > 1e-9 {
				t.Errorf("%s pair %d: raw %.9f, dot %.9f", ex.ID, k, got, dot)
			}
			n++
		}
	}
	if n < 48 {
		t.Errorf("only %d pairs", n)
	}
}
