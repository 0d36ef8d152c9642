package classify

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// GoogleURL is the Content Safety API's endpoint.
const GoogleURL = "https://contentsafety.googleapis.com/v1beta1/images:classify"

// GoogleLabel is the one label a Google Content Safety score carries.
const GoogleLabel = "review_priority"

// googlePriorities maps the API's review priorities, in order, to scores:
// the middle of five equal bands, so that a rule's min_score picks a
// priority (0.7 is HIGH and above).
var googlePriorities = map[string]float64{
	"VERY_LOW":  0.1,
	"LOW":       0.3,
	"MEDIUM":    0.5,
	"HIGH":      0.7,
	"VERY_HIGH": 0.9,
}

// Google is the adapter for Google's Content Safety API, as ROOST Coop's
// client calls it: POST {"images": [base64]} to images:classify, answered
// with {"reviewPriorities": ["VERY_LOW" … "VERY_HIGH"]} and a model
// version. The priority becomes label GoogleLabel with the score of its
// band. The API key goes in the X-Goog-Api-Key header rather than the
// URL, so that no error or log line that names the URL carries it.
type Google struct {
	URL    string // "" means GoogleURL
	Key    string
	Client *http.Client
}

// Classify makes one request for one image.
func (g *Google) Classify(ctx context.Context, c Content) (Result, error) {
	if !strings.HasPrefix(c.MediaType, "image/") {
		return Result{}, fmt.Errorf("the content safety api classifies images, not %s", c.MediaType)
	}
	u := g.URL
	if u == "" {
		u = GoogleURL
	}
	body, err := json.Marshal(struct {
		Images []string `json:"images"`
	}{[]string{base64.StdEncoding.EncodeToString(c.Data)}})
	if err != nil {
		return Result{}, fmt.Errorf("encode request: %w", err)
	}
	data, err := post(ctx, g.Client, u, body, func(r *http.Request) {
		if g.Key != "" {
			r.Header.Set("X-Goog-Api-Key", g.Key)
		}
	})
	if err != nil {
		return Result{}, err
	}
	return ParseGoogleReply(data)
}

// ParseGoogleReply reads a Content Safety reply for one image, of at most
// MaxReplyBytes: exactly one known priority.
func ParseGoogleReply(data []byte) (Result, error) {
	if len(data) > MaxReplyBytes {
		return Result{}, badReply("reply larger than %d bytes", MaxReplyBytes)
	}
	var r struct {
		ReviewPriorities []string `json:"reviewPriorities"`
		ModelVersion     string   `json:"model_version"`
		ModelVersionCC   string   `json:"modelVersion"`
	}
	if err := decodeStrict(data, &r); err != nil {
		return Result{}, err
	}
	if len(r.ReviewPriorities) != 1 {
		return Result{}, badReply("%d review priorities for one image", len(r.ReviewPriorities))
	}
	score, ok := googlePriorities[r.ReviewPriorities[0]]
	if !ok {
		return Result{}, badReply("unknown review priority %.32q", r.ReviewPriorities[0])
	}
	version := r.ModelVersion
	if version == "" {
		version = r.ModelVersionCC
	}
	return checkResult(Result{Labels: []Label{{Label: GoogleLabel, Score: score}}, ModelVersion: version})
}
