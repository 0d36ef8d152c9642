package classify

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/vigil-oss/vigil"
)

// Outcome is what one classifier said of one piece of content, as an
// entry point reports it.
type Outcome struct {
	Classifier   string                  `json:"classifier"`
	ModelVersion string                  `json:"model_version,omitempty"`
	Scores       []vigil.ClassifierScore `json:"scores,omitempty"`
	// Error says why there are no scores: the classifier failed, its
	// breaker is open, it was busy. Content its policy keeps from it is
	// left out of the outcomes altogether.
	Error string `json:"error,omitempty"`
	// Video, for a video, says how many of its frames went to the
	// classifier and how many it scored; Partial is set when it scored
	// some but not all, so the scores speak for part of the video only.
	Video   *VideoOutcome `json:"video,omitempty"`
	Partial bool          `json:"partial,omitempty"`
}

// Set is the configured classifiers. The zero Set has none.
type Set struct {
	guards []*Guard
}

// NewSet returns a set of guards, which must have distinct names.
func NewSet(guards ...*Guard) *Set { return &Set{guards: guards} }

// Guards returns the classifiers, in configuration order.
func (s *Set) Guards() []*Guard {
	if s == nil {
		return nil
	}
	return s.guards
}

// Guard returns the classifier of that name, or nil.
func (s *Set) Guard(name string) *Guard {
	for _, g := range s.Guards() {
		if g.Name == name {
			return g
		}
	}
	return nil
}

// Len returns the number of classifiers.
func (s *Set) Len() int { return len(s.Guards()) }

// Allows reports whether the policy sends c to any classifier, so that a
// caller can skip work (sniffing, copying) for content none may see.
func (s *Set) Allows(c Content) bool {
	for _, g := range s.Guards() {
		if g.policy.Allows(c) && !g.Paused() {
			return true
		}
	}
	return false
}

// Classify asks every classifier whose policy allows c, at once, and
// returns their outcomes in configuration order; a paused classifier is
// not asked, and has no outcome. It takes as long as the
// slowest of them, which its Guard bounds; a failing classifier gives an
// outcome with an error and no scores, never a failure of the call.
func (s *Set) Classify(ctx context.Context, c Content) []Outcome {
	var todo []*Guard
	for _, g := range s.Guards() {
		if g.policy.Allows(c) && !g.Paused() {
			todo = append(todo, g)
		}
	}
	out := make([]Outcome, len(todo))
	var wg sync.WaitGroup
	for i, g := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scores, version, err := g.Classify(ctx, c)
			out[i] = Outcome{Classifier: g.Name, ModelVersion: version, Scores: scores}
			if err != nil {
				out[i].Error = callerError(err)
			}
		}()
	}
	wg.Wait()
	return out
}

// ClassifyData is Classify for content an entry point holds whole: its
// media type is sniffed (http.DetectContentType), or text/plain when the
// caller knows it is text. It returns nil when the policy sends the
// content to no classifier.
func (s *Set) ClassifyData(ctx context.Context, data []byte, text bool, source, sha256 string) []Outcome {
	if s.Len() == 0 || len(data) == 0 {
		return nil
	}
	c := Content{Data: data, MediaType: http.DetectContentType(data), Source: source, SHA256: sha256}
	if text {
		c.MediaType = "text/plain; charset=utf-8"
	}
	if !s.Allows(c) {
		return nil
	}
	return s.Classify(ctx, c)
}

// callerError is what a caller is told of a failure: its kind, not the
// classifier's words (which the access log keeps).
func callerError(err error) string {
	switch {
	case errors.Is(err, ErrOpen):
		return "circuit breaker open"
	case errors.Is(err, ErrBusy):
		return "busy"
	case errors.Is(err, ErrBadReply):
		return "bad reply"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	return "failed"
}

// Scores returns the scores of all outcomes, for respond.Service.
func Scores(outs []Outcome) []vigil.ClassifierScore {
	var all []vigil.ClassifierScore
	for _, o := range outs {
		all = append(all, o.Scores...)
	}
	return all
}
