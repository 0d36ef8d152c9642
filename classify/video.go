package classify

import (
	"context"
	"slices"
	"sync"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/vpdq"
)

// VideoPolicy says whether, and how much of, a video goes to a
// classifier: the scene frames vPDQ hashing already decodes (see
// vpdq.Keeper), one call per frame, as image/jpeg. A classifier of
// images thus sees videos without a second decode.
type VideoPolicy struct {
	// Frames is the most frames of one video sent (0: none, videos are
	// not classified), spread evenly over the video's scenes.
	Frames int `json:"frames,omitempty" yaml:"frames"`
	// MaxBytes bounds the JPEG bytes of one video's frames sent (default
	// DefaultVideoBytes); frames are dropped evenly to fit.
	MaxBytes int `json:"max_bytes,omitempty" yaml:"max_bytes"`
}

// Limits of VideoPolicy.
const (
	DefaultVideoBytes = 8 << 20
	MaxVideoBytes     = 64 << 20
	// MaxVideoFrames is the most frames of a video a policy may ask for.
	MaxVideoFrames = vpdq.MaxKeepFrames
)

// FrameRef names the video frame a Content is, for the policy and the
// access log.
type FrameRef struct {
	Number    int
	Timestamp float64
}

func (p VideoPolicy) maxBytes() int {
	if p.MaxBytes <= 0 {
		return DefaultVideoBytes
	}
	return p.MaxBytes
}

// VideoFrame is a frame of a video to classify, encoded as an image.
type VideoFrame struct {
	Number    int
	Timestamp float64
	Data      []byte // image/jpeg
}

// Frames returns the frames a Keeper kept, to classify.
func Frames(kept []vpdq.KeptFrame) []VideoFrame {
	out := make([]VideoFrame, len(kept))
	for i, k := range kept {
		out[i] = VideoFrame{Number: k.Number, Timestamp: k.Timestamp, Data: k.JPEG}
	}
	return out
}

// KeepOptions returns what a vpdq.Keeper must keep of a video from
// source for every classifier whose policy takes video frames from it:
// the most frames and bytes any asks for. ok is false when none does,
// and no frames need be kept.
func (s *Set) KeepOptions(source string) (o vpdq.KeepOptions, ok bool) {
	for _, g := range s.Guards() {
		if !g.takesFrames(source) {
			continue
		}
		ok = true
		o.MaxFrames = max(o.MaxFrames, g.policy.Video.Frames)
		o.MaxBytes = max(o.MaxBytes, g.policy.Video.maxBytes())
	}
	return o, ok
}

// takesFrames reports whether the guard's policy sends video frames from
// source to it, and it is not paused.
func (g *Guard) takesFrames(source string) bool {
	return g.policy.Video.Frames > 0 && g.policy.allowsSource(source) && !g.Paused()
}

// ClassifyFrames asks every classifier whose policy takes video frames
// from source about the frames of one video (in frame order): each gets
// at most its policy's Frames and MaxBytes, spread evenly, one call per
// frame, each call under the guard's bounds (timeout, retries, breaker,
// concurrency), all at once. A classifier's score of the video for a
// label is its highest frame score, with the frames that scored it; an
// outcome whose frames were not all scored says so (Video, Partial), and
// one with no frame scored has an Error and no scores. It takes as long
// as the slowest call, which the guards bound; it never fails.
func (s *Set) ClassifyFrames(ctx context.Context, frames []VideoFrame, source, sha256 string) []Outcome {
	var todo []*Guard
	for _, g := range s.Guards() {
		if g.takesFrames(source) {
			todo = append(todo, g)
		}
	}
	if len(frames) == 0 || len(todo) == 0 {
		return nil
	}
	out := make([]Outcome, len(todo))
	var wg sync.WaitGroup
	for i, g := range todo {
		wg.Go(func() {
			sent := spread(frames, g.policy.Video.Frames, g.policy.Video.maxBytes())
			if len(sent) == 0 {
				out[i] = Outcome{Classifier: g.Name, Error: "frames larger than max_bytes", Video: &VideoOutcome{}}
				return
			}
			out[i] = g.classifyFrames(ctx, sent, source, sha256)
		})
	}
	wg.Wait()
	return out
}

// frameResult is one frame call's answer.
type frameResult struct {
	scores  []vigil.ClassifierScore
	version string
	err     error
}

func (g *Guard) classifyFrames(ctx context.Context, frames []VideoFrame, source, sha256 string) Outcome {
	res := make([]frameResult, len(frames))
	var wg sync.WaitGroup
	for i, f := range frames {
		wg.Go(func() {
			c := Content{Data: f.Data, MediaType: "image/jpeg", Source: source, SHA256: sha256,
				Frame: &FrameRef{Number: f.Number, Timestamp: f.Timestamp}}
			res[i].scores, res[i].version, res[i].err = g.Classify(ctx, c)
		})
	}
	wg.Wait()
	return combine(g.Name, frames, res)
}

// combine makes a video's outcome of its frames' results: per label the
// highest score, with the frames that scored it (earliest first, at most
// vigil.MaxScoreFrames), labels in the order the frames first gave them.
func combine(name string, frames []VideoFrame, res []frameResult) Outcome {
	o := Outcome{Classifier: name, Video: &VideoOutcome{Frames: len(frames)}}
	var labels []string
	best := map[string]*vigil.ClassifierScore{}
	for i, r := range res {
		if r.err != nil {
			if o.Video.Failed == nil {
				o.Video.Failed = map[string]int{}
			}
			o.Video.Failed[callerError(r.err)]++
			continue
		}
		o.Video.Scored++
		if o.ModelVersion == "" {
			o.ModelVersion = r.version
		}
		at := vigil.ScoreFrame{Number: frames[i].Number, Timestamp: frames[i].Timestamp}
		for _, sc := range r.scores {
			b := best[sc.Label]
			switch {
			case b == nil:
				labels = append(labels, sc.Label)
				sc.Video = &vigil.ScoreVideo{Frames: []vigil.ScoreFrame{at}}
				best[sc.Label] = &sc
			case sc.Score > b.Score:
				b.Score, b.ModelVersion = sc.Score, sc.ModelVersion
				b.Video.Frames = []vigil.ScoreFrame{at}
			case sc.Score == b.Score && len(b.Video.Frames) < vigil.MaxScoreFrames:
				b.Video.Frames = append(b.Video.Frames, at)
			}
		}
	}
	if o.Video.Scored == 0 {
		o.Error = mostFailed(o.Video.Failed)
		return o
	}
	o.Partial = o.Video.Scored < o.Video.Frames
	for _, l := range labels {
		sc := best[l]
		sc.Video.Scored, sc.Video.Sent = o.Video.Scored, o.Video.Frames
		o.Scores = append(o.Scores, *sc)
	}
	return o
}

// mostFailed returns the commonest reason of failed frames (the first
// by name of those tied, so that the outcome does not depend on map
// order).
func mostFailed(failed map[string]int) string {
	why, n := "", 0
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range failed {
			if !yield(k) {
				return
			}
		}
	}) {
		if failed[k] > n {
			why, n = k, failed[k]
		}
	}
	return why
}

// spread returns at most n of frames, evenly spaced from the first to the
// last, then drops every other one until their bytes are at most
// maxBytes.
func spread(frames []VideoFrame, n, maxBytes int) []VideoFrame {
	out := frames
	if len(frames) > n {
		out = make([]VideoFrame, 0, n)
		for i := range n {
			j := 0
			if n > 1 {
				j = i * (len(frames) - 1) / (n - 1)
			}
			out = append(out, frames[j])
		}
	}
	for {
		total := 0
		for _, f := range out {
			total += len(f.Data)
		}
		if total <= maxBytes || len(out) == 0 {
			return out
		}
		if len(out) == 1 {
			return nil
		}
		var thinned []VideoFrame
		for i, f := range out {
			if i%2 == 0 {
				thinned = append(thinned, f)
			}
		}
		out = thinned
	}
}

// VideoOutcome says how a video's frames fared with one classifier.
type VideoOutcome struct {
	Frames int `json:"frames"` // sent
	Scored int `json:"scored"`
	// Failed counts the frames not scored, by why (as Outcome.Error:
	// "timed out", "circuit breaker open", "busy", "bad reply", "failed").
	Failed map[string]int `json:"failed,omitempty"`
}
