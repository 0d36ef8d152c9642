package grooming

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"
)

// Scorer names.
const (
	// ScorerHand is the hand-set logistic score (the baseline).
	ScorerHand = "hand"
	// ScorerLearned is the L2-regularised logistic regression over the
	// tagger's evidence, trained by TrainModel and calibrated (Platt) on
	// out-of-fold scores.
	ScorerLearned = "learned"
	// DefaultScorer is what Options{} selects. The learned scorer is the
	// default because it beats the hand one in leave-one-batch-out at
	// 1% FPR with the suspect speaker still right (docs in README).
	DefaultScorer = ScorerLearned
)

// modelJSON is the trained model, written by `vigil eval grooming --train`
// (go generate in this package) and reproduced exactly from testdata.
//
//go:embed model.json
var modelJSON []byte

// ModelFile is the JSON form of a trained model.
type ModelFile struct {
	Version  int       `json:"version"`
	Features []string  `json:"features"`
	Weights  []float64 `json:"weights"`
	Bias     float64   `json:"bias"`
	// PlattA and PlattB map the model's logit z to the calibrated score
	// sigmoid(PlattA·z + PlattB), fitted on out-of-fold logits.
	PlattA float64 `json:"platt_a"`
	PlattB float64 `json:"platt_b"`
	Lambda float64 `json:"lambda"`
	// Low, Flag and High are calibrated-score thresholds chosen at an
	// out-of-fold benign false-positive rate of LowFPR, FlagFPR, HighFPR.
	Low     float64 `json:"low"`
	Flag    float64 `json:"flag"`
	High    float64 `json:"high"`
	LowFPR  float64 `json:"low_fpr"`
	FlagFPR float64 `json:"flag_fpr"`
	HighFPR float64 `json:"high_fpr"`
	// Thresholds maps out-of-fold false-positive rates to calibrated-score
	// thresholds and the out-of-fold recall there: what a threshold means.
	Thresholds []ThresholdPoint `json:"thresholds"`
	// Data names the training files and their sizes; Folds the grouped
	// cross-validation.
	Data  []DataFile `json:"data"`
	Folds int        `json:"folds"`
}

// ThresholdPoint is one row of a model's threshold table.
type ThresholdPoint struct {
	FPR       float64 `json:"fpr"`
	Threshold float64 `json:"threshold"`
	Recall    float64 `json:"recall"`
}

// DataFile is one training file and its label counts.
type DataFile struct {
	Name     string `json:"name"`
	Grooming int    `json:"grooming"`
	Benign   int    `json:"benign"`
}

// Model is a parsed learned scorer.
type Model struct {
	names  []string
	w      [numFeatures]float64
	bias   float64
	a, b   float64
	File   ModelFile
	thresh struct{ low, flag, high float64 }
}

// NewModel checks a model file against the features this build computes.
func NewModel(mf ModelFile) (*Model, error) {
	names := FeatureNames()
	if !slices.Equal(mf.Features, names) {
		return nil, fmt.Errorf("model features differ from this build's %d features: retrain", len(names))
	}
	if len(mf.Weights) != int(numFeatures) {
		return nil, fmt.Errorf("model has %d weights, want %d", len(mf.Weights), numFeatures)
	}
	m := &Model{names: names, bias: mf.Bias, a: mf.PlattA, b: mf.PlattB, File: mf}
	for i, w := range mf.Weights {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("model weight %d is %v", i, w)
		}
		m.w[i] = w
	}
	for _, v := range []float64{mf.Bias, mf.PlattA, mf.PlattB, mf.Low, mf.Flag, mf.High} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("model parameter is %v", v)
		}
	}
	if mf.PlattA <= 0 {
		// A calibration must keep the order of the scores.
		return nil, fmt.Errorf("model platt_a %v: want > 0", mf.PlattA)
	}
	if !(0 < mf.Low && mf.Low <= mf.Flag && mf.Flag <= mf.High && mf.High <= 1) {
		return nil, fmt.Errorf("model levels %v ≤ %v ≤ %v: want 0 < low ≤ flag ≤ high ≤ 1", mf.Low, mf.Flag, mf.High)
	}
	m.thresh.low, m.thresh.flag, m.thresh.high = mf.Low, mf.Flag, mf.High
	return m, nil
}

// MaxModelBytes bounds a model file: the built-in one is about 10 KiB.
const MaxModelBytes = 1 << 20

// ParseModel decodes and checks a model file.
func ParseModel(b []byte) (*Model, error) {
	if len(b) > MaxModelBytes {
		return nil, fmt.Errorf("model file longer than %d bytes", MaxModelBytes)
	}
	var mf ModelFile
	if err := json.Unmarshal(b, &mf); err != nil {
		return nil, fmt.Errorf("decode model: %w", err)
	}
	return NewModel(mf)
}

// builtinModel is parsed once: it is immutable data shipped in the binary.
var builtinModel = sync.OnceValues(func() (*Model, error) { return ParseModel(modelJSON) })

// BuiltinModel returns the model embedded in this build.
func BuiltinModel() (*Model, error) { return builtinModel() }

// raw is the model's uncalibrated logit of a feature vector. Most
// families are absent from most pairs, so the pair block is summed only
// for families that are present.
func (m *Model) raw(x *[numFeatures]float64) float64 {
	// The sums run in vector order, as they always have, so that scores
	// stay bit-identical. Zero features are skipped: w·0 is ±0, and adding
	// ±0 leaves a sum unchanged (up to the sign of an exact zero, which
	// the sigmoid does not see). Most features of most pairs are zero.
	z := m.bias
	var present [numFamilies]Family
	np := 0
	we, wp := m.w[featE:featE+int(numFamilies)], m.w[featPersist:featPersist+int(numFamilies)]
	xe, xp := x[featE:featE+int(numFamilies)], x[featPersist:featPersist+int(numFamilies)]
	for f := range numFamilies {
		if v := xe[f]; v != 0 {
			z += we[f] * v
			present[np] = f
			np++
		}
		if v := xp[f]; v != 0 {
			z += wp[f] * v
		}
	}
	for a := 0; a < np; a++ {
		row := &pairIndex[present[a]]
		for b := a + 1; b < np; b++ {
			k := row[present[b]]
			z += m.w[k] * x[k]
		}
	}
	ws, xs := m.w[featScalar:], x[featScalar:]
	xs = xs[:len(ws)]
	for i, w := range ws {
		if v := xs[i]; v != 0 {
			z += w * v
		}
	}
	return z
}

// logit scores a pair: the calibrated logit, so that sigmoid of it is the
// calibrated score. Platform metadata adds its hand-set prior.
//
// x is the pair's feature vector: computed here unless have is set, when
// it already holds this pair's features from an earlier call on the same
// state and pv.z this function's result then (risk explains the best pair
// after scoring every candidate): the logit is the same function of the
// same inputs, so it is reused, and only the facts are gathered again.
func (m *Model) logit(d *Detector, st *State, pv *pairView, ex *pairExplain, fact func(string, ...any), x *[numFeatures]float64, have bool) float64 {
	var cz float64 // the calibrated logit
	if have {
		metaShift(st, pv, fact)
		cz = pv.z
	} else {
		*x = [numFeatures]float64{}
		d.features(st, pv, x)
		z := m.raw(x) + metaShift(st, pv, fact)
		cz = m.a*z + m.b
	}
	if ex != nil {
		if sigmoid(cz) >= d.opts.LowLevel {
			// Only a raised score needs its drivers named; this runs on
			// every message.
			ex.contrib = m.contributions(st, pv, x)
		}
		ageFactsExplain(st.ages(pv.actor, pv.target), fact)
		if x[fFastSextortion] > 0 {
			if gap, ok := d.fastSextortion(st, pv.actor, pv.target); ok {
				fact("threat and payment demand %d minutes apart", gap/60)
			}
		}
		if x[fEvasive] > 0 {
			fact("evasive about own age")
		}
		if x[fAdultLife] > 0 {
			fact("adult life markers")
		}
	}
	return cz
}

// metaShift is the platform-metadata prior, capped when no boundary-
// violating family is raised: metadata alone must not flag.
func metaShift(st *State, pv *pairView, fact func(string, ...any)) float64 {
	p := st.metaPrior(pv.actor, fact)
	if p > 1.0 {
		core := false
		for f := range numFamilies {
			if f != AgeProbing && f != MaturityFlattery && pv.e[f] >= breadthFloor {
				core = true
			}
		}
		if !core {
			p = 1.0
		}
	}
	return p
}

// Scorer names the detector's scorer.
func (d *Detector) Scorer() string {
	if d.model != nil {
		return ScorerLearned
	}
	return ScorerHand
}

// Threshold is the detector's flag threshold.
func (d *Detector) Threshold() float64 { return d.opts.Threshold }
