package vigil

import (
	"context"
	"fmt"
	"math"
	"time"
)

// CaseKindClassifier is a case a classifier's score opened: content no bank
// knows that a model ranked for review. A reviewer decides; the score never
// does.
const CaseKindClassifier = "classifier"

// Limits on classifier scores, which come from outside the process.
const (
	// MaxCaseScores bounds the scores a case holds (and one classification
	// returns), which are stored and shown whole.
	MaxCaseScores = 100
	// MaxScoreLabelLen bounds a label and a model version.
	MaxScoreLabelLen = 128
	// ScoreBands is how many equal bands of [0, 1] review precision is
	// counted in: band i holds scores in [i/ScoreBands, (i+1)/ScoreBands),
	// the last band also 1.
	ScoreBands = 10
)

// ClassifierScore is one label's score from a classifier for a piece of
// content: a signal like a hash, which rules may act on and reviewers see.
type ClassifierScore struct {
	Classifier   string  `json:"classifier"` // the configured name
	Label        string  `json:"label"`
	Score        float64 `json:"score"` // in [0, 1]; higher ranks higher for review
	ModelVersion string  `json:"model_version,omitempty"`
	// Video, for a score of a video, says which frames were classified
	// and which of them gave the score: a video's score for a label is the
	// highest of its frames' scores.
	Video *ScoreVideo `json:"video,omitempty"`
}

// Limits on a video score's frames.
const (
	// MaxScoreFrames bounds the frames named as behind a video's score
	// (frames tied at the highest score past it are left out).
	MaxScoreFrames = 8
	// MaxVideoFramesClassified bounds the frames of one video sent to one
	// classifier.
	MaxVideoFramesClassified = 256
)

// ScoreVideo is how a classifier's score of a video came about: frames
// of the video went to the classifier one by one, and the video's score
// is the highest frame score.
type ScoreVideo struct {
	// Frames are the frames that scored the video's score, earliest
	// first, for a reviewer to look at first.
	Frames []ScoreFrame `json:"frames"`
	// Scored is how many frames the classifier scored, and Sent how many
	// were sent to it: fewer scored than sent (timed out, failed, breaker
	// open) is a partial result, whose score says nothing of the rest.
	Scored int `json:"scored"`
	Sent   int `json:"sent"`
}

// ScoreFrame is a frame of a video behind a classifier score.
type ScoreFrame struct {
	Number    int     `json:"number"`    // 0-based among the decoded frames
	Timestamp float64 `json:"timestamp"` // seconds from the start
}

// Partial reports whether some frames sent were not scored.
func (v *ScoreVideo) Partial() bool { return v != nil && v.Scored < v.Sent }

// validate returns why v cannot be stored, or "".
func (v *ScoreVideo) validate() string {
	switch {
	case v.Sent < 1 || v.Sent > MaxVideoFramesClassified || v.Scored < 1 || v.Scored > v.Sent:
		return fmt.Sprintf("video frames: %d scored of %d sent (1 to %d)", v.Scored, v.Sent, MaxVideoFramesClassified)
	case len(v.Frames) < 1 || len(v.Frames) > MaxScoreFrames:
		return fmt.Sprintf("video score needs 1 to %d frames", MaxScoreFrames)
	}
	for _, f := range v.Frames {
		if f.Number < 0 || math.IsNaN(f.Timestamp) || math.IsInf(f.Timestamp, 0) || f.Timestamp < 0 {
			return "video frame number and timestamp must not be negative"
		}
	}
	return ""
}

// Validate returns an EINVALID error if s cannot be stored or acted on.
func (s *ClassifierScore) Validate() error {
	if err := validateToken("classifier name", s.Classifier); err != nil {
		return err
	}
	if s.Label == "" || len(s.Label) > MaxScoreLabelLen || !Printable(s.Label) {
		return Errorf(EINVALID, "classifier %s: label must be 1 to %d printable bytes", s.Classifier, MaxScoreLabelLen)
	}
	if len(s.ModelVersion) > MaxScoreLabelLen || !Printable(s.ModelVersion) {
		return Errorf(EINVALID, "classifier %s: model version must be at most %d printable bytes", s.Classifier, MaxScoreLabelLen)
	}
	if math.IsNaN(s.Score) || s.Score < 0 || s.Score > 1 {
		return Errorf(EINVALID, "classifier %s: score of %q must be 0 to 1", s.Classifier, s.Label)
	}
	if s.Video != nil {
		if why := s.Video.validate(); why != "" {
			return Errorf(EINVALID, "classifier %s: %s", s.Classifier, why)
		}
	}
	return nil
}

// ScoreBand returns the precision band of a score in [0, 1].
func ScoreBand(score float64) int {
	b := int(score * ScoreBands)
	return min(max(b, 0), ScoreBands-1)
}

// ClassifierBandStats is what review has said about the cases holding one
// classifier label's scores in one band: the feedback per-entry precision
// gives bank entries, for a model.
type ClassifierBandStats struct {
	Classifier     string  `json:"classifier"`
	Label          string  `json:"label"`
	Band           int     `json:"band"`      // 0 to ScoreBands-1
	MinScore       float64 `json:"min_score"` // the band's lower bound
	Cases          int     `json:"cases"`     // cases opened holding such a score
	Confirmed      int     `json:"confirmed"`
	FalsePositives int     `json:"false_positives"`
}

// Precision is Confirmed / (Confirmed + FalsePositives), or -1 with no
// decisions yet.
func (s *ClassifierBandStats) Precision() float64 { return precision(s.Confirmed, s.FalsePositives) }

// ClassifierStatsService reads the review statistics of classifier scores.
// The case store implements it: OpenCase counts a case against every score
// it holds and DecideCase counts the verdict, in the same transactions as
// per-entry statistics.
type ClassifierStatsService interface {
	// ClassifierStats returns the statistics of every classifier, label
	// and band that has any, ordered by classifier, label and band. With
	// since zero they count every case and decision; otherwise only the
	// decisions made since then, and Cases is 0.
	ClassifierStats(ctx context.Context, since time.Time) ([]*ClassifierBandStats, error)
}

// PrecisionFloor is when a classifier's review precision is low enough to
// flag it to curators. The zero floor flags nothing.
type PrecisionFloor struct {
	// MinScore is the lowest score band counted: scores below it rank
	// nothing for review, so their precision says nothing of the model's.
	MinScore float64 `json:"min_score" yaml:"min_score"`
	// MinDecisions is how many decided cases the counted bands need
	// before precision means anything.
	MinDecisions int `json:"min_decisions" yaml:"min_decisions"`
	// MinPrecision is the precision below which the classifier is flagged.
	MinPrecision float64 `json:"min_precision" yaml:"min_precision"`
	// Window, if set, counts only the decisions of the last Window, so
	// that a model whose precision drops is flagged even after a long
	// good record; zero counts them all.
	Window time.Duration `json:"window,omitempty" yaml:"window"`
}

// Validate returns an EINVALID error for a floor that cannot be applied.
func (f PrecisionFloor) Validate() error {
	switch {
	case math.IsNaN(f.MinScore) || f.MinScore < 0 || f.MinScore > 1:
		return Errorf(EINVALID, "precision floor: min_score must be 0 to 1")
	case math.IsNaN(f.MinPrecision) || f.MinPrecision < 0 || f.MinPrecision > 1:
		return Errorf(EINVALID, "precision floor: min_precision must be 0 to 1")
	case f.MinDecisions < 0:
		return Errorf(EINVALID, "precision floor: min_decisions must not be negative")
	case f.Window < 0:
		return Errorf(EINVALID, "precision floor: window must not be negative")
	}
	return nil
}

// Check sums the bands of stats (one classifier's) at or above MinScore
// and reports whether their precision is below the floor, and if so why.
func (f PrecisionFloor) Check(stats []*ClassifierBandStats) (string, bool) {
	if f.MinPrecision <= 0 {
		return "", false
	}
	var confirmed, fp int
	for _, s := range stats {
		if s.MinScore+1e-9 < f.MinScore {
			continue
		}
		confirmed += s.Confirmed
		fp += s.FalsePositives
	}
	n := confirmed + fp
	if n == 0 || n < f.MinDecisions {
		return "", false
	}
	p := precision(confirmed, fp)
	if p >= f.MinPrecision {
		return "", false
	}
	over := ""
	if f.Window > 0 {
		over = " in the last " + f.Window.String()
	}
	return fmt.Sprintf("precision %.2f over %d decisions%s at scores from %.2f (floor: %.2f after at least %d)",
		p, n, over, f.MinScore, f.MinPrecision, max(f.MinDecisions, 1)), true
}

// MaxClassifierReasonLen bounds the reason a curator gives for pausing or
// resuming a classifier.
const MaxClassifierReasonLen = 1024

// ClassifierState is what a curator decided of a configured classifier
// at run time: whether it is paused (not called at all) and why. A
// classifier whose review precision dropped is flagged, never paused by
// itself: whether a model that ranks poorly still helps more than it
// costs (the review queue it fills, the cases it alone finds) is a human
// judgement.
type ClassifierState struct {
	Name      string    `json:"name"`
	Paused    bool      `json:"paused"`
	Reason    string    `json:"reason,omitempty"`
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Validate returns an EINVALID error for a state that cannot be stored.
func (s *ClassifierState) Validate() error {
	if err := validateToken("classifier name", s.Name); err != nil {
		return err
	}
	if len(s.Reason) > MaxClassifierReasonLen || !Printable(s.Reason) {
		return Errorf(EINVALID, "classifier %s: reason must be at most %d printable bytes", s.Name, MaxClassifierReasonLen)
	}
	if s.UpdatedBy == "" || len(s.UpdatedBy) > MaxAuditFieldLen || !Printable(s.UpdatedBy) {
		return Errorf(EINVALID, "classifier %s: updated_by must be 1 to %d printable bytes", s.Name, MaxAuditFieldLen)
	}
	return nil
}

// ClassifierStateService keeps curators' run-time decisions on
// classifiers, so that a pause outlives a restart and reaches every
// replica. The case store implements it.
type ClassifierStateService interface {
	// ClassifierStates returns every stored state, by name.
	ClassifierStates(ctx context.Context) ([]*ClassifierState, error)
	// SetClassifierState stores st (replacing the classifier's earlier
	// state) and sets st.UpdatedAt, with the context's audit record in
	// the same transaction (WithAudit). EINVALID for an invalid st.
	SetClassifierState(ctx context.Context, st *ClassifierState) error
}
