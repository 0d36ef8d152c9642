package classify

import (
	"bytes"
	"testing"

	"github.com/vigil-oss/vigil"
)

// checkFuzzResult fails if a reply that parsed would give a score the
// flow refuses.
func checkFuzzResult(t *testing.T, r Result) {
	if len(r.Labels) > MaxLabels {
		t.Fatalf("%d labels", len(r.Labels))
	}
	for _, l := range r.Labels {
		s := vigil.ClassifierScore{Classifier: "fuzz", Label: l.Label, Score: l.Score, ModelVersion: r.ModelVersion}
		if err := s.Validate(); err != nil {
			t.Fatalf("parsed a score the flow refuses: %v", err)
		}
	}
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","results":[{"label":"a","score":0.5}]}`,
		`{"results":[]}`, `{"results":[{"label":"a","score":1e309}]}`, `{"version":"v","results":[{"label":"\u00e9","score":1}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseReply(data)
		if err == nil {
			checkFuzzResult(t, r)
		}
	})
}

func FuzzParseGoogleReply(f *testing.F) {
	for _, s := range []string{`{"reviewPriorities":["HIGH"],"model_version":"x"}`, `{"reviewPriorities":["VERY_LOW"],"modelVersion":"y"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseGoogleReply(data)
		if err == nil {
			checkFuzzResult(t, r)
			if len(r.Labels) != 1 {
				t.Fatalf("%d labels for one image", len(r.Labels))
			}
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("classifiers:\n  - name: a\n    kind: http\n    url: http://a/v1/classify\n    policy: {media_types: [image/*]}\n"))
	f.Add([]byte("classifiers:\n  - name: p\n    kind: process\n    command: [/bin/true, -x]\n    timeout: 1s\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cs, err := ParseConfig(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, c := range cs {
			if err := c.Validate(); err != nil {
				t.Fatalf("parsed an invalid config: %v", err)
			}
		}
	})
}
