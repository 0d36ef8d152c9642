package vigil_test

import (
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

func TestScoreBand(t *testing.T) {
	for score, want := range map[float64]int{0: 0, 0.05: 0, 0.1: 1, 0.55: 5, 0.9: 9, 0.999: 9, 1: 9} {
		if got := vigil.ScoreBand(score); got != want {
			t.Errorf("ScoreBand(%v) = %d, want %d", score, got, want)
		}
	}
}

func TestPrecisionFloor(t *testing.T) {
	band := func(b, conf, fp int) *vigil.ClassifierBandStats {
		return &vigil.ClassifierBandStats{Band: b, MinScore: float64(b) / vigil.ScoreBands, Confirmed: conf, FalsePositives: fp}
	}
	// Low bands do not count: content scored 0.1 that a hash match sent
	// to review says nothing of what the model ranks.
	stats := []*vigil.ClassifierBandStats{band(1, 0, 50), band(8, 3, 2), band(9, 1, 4)}
	f := vigil.PrecisionFloor{MinScore: 0.8, MinDecisions: 10, MinPrecision: 0.5}
	why, flagged := f.Check(stats)
	if !flagged || !strings.Contains(why, "precision 0.40 over 10 decisions") {
		t.Errorf("Check = %q, %v", why, flagged)
	}
	if _, flagged := (vigil.PrecisionFloor{MinScore: 0.8, MinDecisions: 11, MinPrecision: 0.5}).Check(stats); flagged {
		t.Error("flagged before min_decisions")
	}
	if _, flagged := (vigil.PrecisionFloor{MinScore: 0.9, MinPrecision: 0.1}).Check(stats); flagged {
		t.Error("flagged above the floor (0.2 >= 0.1)")
	}
	if _, flagged := (vigil.PrecisionFloor{}).Check(stats); flagged {
		t.Error("the zero floor flags")
	}
	for _, bad := range []vigil.PrecisionFloor{{MinScore: 2}, {MinPrecision: -1}, {MinDecisions: -1}, {Window: -1}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestClassifierScoreValidate(t *testing.T) {
	ok := vigil.ClassifierScore{Classifier: "pigeon", Label: "csam", Score: 0.5, ModelVersion: "v1"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	video := ok
	video.Video = &vigil.ScoreVideo{Frames: []vigil.ScoreFrame{{Number: 60, Timestamp: 2}}, Scored: 3, Sent: 4}
	if err := video.Validate(); err != nil || !video.Video.Partial() {
		t.Fatalf("video score: %v (partial %v)", err, video.Video.Partial())
	}
	for _, bad := range []vigil.ClassifierScore{
		{Classifier: "Bad Name", Label: "x", Score: 0.5},
		{Classifier: "c", Label: "", Score: 0.5},
		{Classifier: "c", Label: "x", Score: 1.01},
		{Classifier: "c", Label: "x", Score: -0.01},
		{Classifier: "c", Label: "x\x00", Score: 0.5},
		{Classifier: "c", Label: "x", Score: 0.5, ModelVersion: strings.Repeat("v", 129)},
		{Classifier: "c", Label: "x", Score: 0.5, Video: &vigil.ScoreVideo{Scored: 1, Sent: 1}},
		{Classifier: "c", Label: "x", Score: 0.5, Video: &vigil.ScoreVideo{Frames: []vigil.ScoreFrame{{}}, Scored: 2, Sent: 1}},
		{Classifier: "c", Label: "x", Score: 0.5, Video: &vigil.ScoreVideo{Frames: []vigil.ScoreFrame{{Timestamp: -1}}, Scored: 1, Sent: 1}},
		{Classifier: "c", Label: "x", Score: 0.5, Video: &vigil.ScoreVideo{Frames: make([]vigil.ScoreFrame, 9), Scored: 1, Sent: 1}},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
