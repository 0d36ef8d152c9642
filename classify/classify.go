// Package classify runs content through classifiers that rank it for human
// review: models a deployment plugs in (a gateway speaking the uniform
// label-and-score contract of ROOST's Pigeon, Google's Content Safety API,
// or a local command), never a decision of their own. Vigil ships no
// model. Each classifier is configured by name and wrapped in a Guard
// that applies the deployment's policy (which content may go to it),
// bounds its time, retries passing failures, opens a circuit breaker when
// it keeps failing, limits its concurrent calls, counts it in metrics and
// writes an access-log line for every call. Its scores are signals like
// hashes: the entry point hands them to respond.Service with the matches.
package classify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/vigil-oss/vigil"
)

// Limits on what a classifier may send back. A reply past them is refused
// whole: a classifier that says too much is as untrustworthy as one that
// says nonsense.
const (
	// MaxReplyBytes bounds a reply body or a command's output.
	MaxReplyBytes = 1 << 20
	// MaxLabels bounds the labels of one reply.
	MaxLabels = vigil.MaxCaseScores
)

// Content is what a classifier is asked about.
type Content struct {
	Data      []byte
	MediaType string // as sniffed (http.DetectContentType) or declared; "text/plain" for text
	// Source names the entry point the content came through ("match" for
	// POST /v1/match, "cli" for vigil classify), which the policy may
	// restrict.
	Source string
	SHA256 string // hex digest, for the access log
	// Frame, when set, says Data is this frame of the video whose digest
	// is SHA256, which the policy's Video option decides on.
	Frame *FrameRef
}

// Label is one label's score in a reply.
type Label struct {
	Label string  `json:"label"`
	Score float64 `json:"score"`
}

// Result is a classifier's answer for one piece of content.
type Result struct {
	Labels       []Label
	ModelVersion string
}

// Classifier scores content. Implementations make one attempt and return
// an error that says whether another may succeed (see Retryable); Guard
// adds time bounds, retries and the breaker.
type Classifier interface {
	Classify(ctx context.Context, c Content) (Result, error)
}

// passingError is a failure another attempt may not repeat: the network,
// a timeout of one attempt, a 5xx or 429 reply.
type passingError struct{ err error }

func (e *passingError) Error() string { return e.err.Error() }
func (e *passingError) Unwrap() error { return e.err }

// passing marks err as worth retrying.
func passing(err error) error { return &passingError{err} }

// Retryable reports whether another attempt after err may succeed.
func Retryable(err error) bool {
	var p *passingError
	return errors.As(err, &p)
}

// ErrBadReply is wrapped by every refusal of what a classifier sent: not
// JSON, the wrong shape, scores outside [0, 1], too large. A lying
// classifier is a failure like a dead one, and is not retried.
var ErrBadReply = errors.New("bad classifier reply")

func badReply(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadReply, fmt.Sprintf(format, args...))
}

// uniformReply is the uniform contract's reply: the shape of Pigeon's
// POST /v1/classify response, {"model": …, "results": [{"label", "score"}]},
// with an optional model version. The local process adapter's command
// writes the same.
type uniformReply struct {
	Model   string       `json:"model"`
	Version string       `json:"version"`
	Results *[]wireLabel `json:"results"`
}

// wireLabel is a label as sent: both fields must be there, so that a
// missing score is not read as 0.
type wireLabel struct {
	Label *string  `json:"label"`
	Score *float64 `json:"score"`
}

// ParseReply reads a uniform-contract reply of at most MaxReplyBytes.
// Unknown fields are ignored (a gateway may say more); a missing results
// list, a label twice, an empty or unprintable label and a score that is
// not a number in [0, 1] refuse the whole reply.
func ParseReply(data []byte) (Result, error) {
	if len(data) > MaxReplyBytes {
		return Result{}, badReply("reply larger than %d bytes", MaxReplyBytes)
	}
	var r uniformReply
	if err := decodeStrict(data, &r); err != nil {
		return Result{}, err
	}
	if r.Results == nil {
		return Result{}, badReply("no results")
	}
	version := r.Version
	if version == "" {
		version = r.Model
	}
	if len(*r.Results) > MaxLabels {
		return Result{}, badReply("%d labels, at most %d", len(*r.Results), MaxLabels)
	}
	labels := make([]Label, 0, len(*r.Results))
	for _, l := range *r.Results {
		if l.Label == nil || l.Score == nil {
			return Result{}, badReply("a result without label or score")
		}
		labels = append(labels, Label{Label: *l.Label, Score: *l.Score})
	}
	return checkResult(Result{Labels: labels, ModelVersion: version})
}

// decodeStrict decodes one JSON value into v: trailing data is an error.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return badReply("not the expected JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badReply("data after the JSON value")
	}
	return nil
}

// checkResult refuses a result that breaks the limits on labels and
// scores.
func checkResult(r Result) (Result, error) {
	if len(r.Labels) > MaxLabels {
		return Result{}, badReply("%d labels, at most %d", len(r.Labels), MaxLabels)
	}
	if len(r.ModelVersion) > vigil.MaxScoreLabelLen || !vigil.Printable(r.ModelVersion) {
		return Result{}, badReply("model version longer than %d bytes or unprintable", vigil.MaxScoreLabelLen)
	}
	seen := make(map[string]bool, len(r.Labels))
	for _, l := range r.Labels {
		if l.Label == "" || len(l.Label) > vigil.MaxScoreLabelLen || !vigil.Printable(l.Label) {
			return Result{}, badReply("label must be 1 to %d printable bytes", vigil.MaxScoreLabelLen)
		}
		if seen[l.Label] {
			return Result{}, badReply("label %q twice", l.Label)
		}
		seen[l.Label] = true
		if math.IsNaN(l.Score) || l.Score < 0 || l.Score > 1 {
			return Result{}, badReply("score of %q is %v, not in [0, 1]", l.Label, l.Score)
		}
	}
	return r, nil
}

// readReply reads at most MaxReplyBytes of r, refusing more.
func readReply(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxReplyBytes+1))
	if err != nil {
		return nil, passing(fmt.Errorf("read reply: %w", err))
	}
	if len(data) > MaxReplyBytes {
		return nil, badReply("reply larger than %d bytes", MaxReplyBytes)
	}
	return data, nil
}
