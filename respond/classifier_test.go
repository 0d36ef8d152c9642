package respond_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/vigil-oss/vigil"
)

func classifierRule(name string, min float64, prio int) *vigil.Rule {
	return &vigil.Rule{Name: name, When: vigil.RuleConditions{Kind: vigil.CaseKindClassifier, Classifier: "pigeon", Label: "csam", MinScore: min},
		Action: vigil.RuleAction{Type: vigil.ActionCase, Queue: "q", Priority: prio}}
}

func pigeonScore(v float64) vigil.ClassifierScore {
	return vigil.ClassifierScore{Classifier: "pigeon", Label: "csam", Score: v, ModelVersion: "m@1"}
}

// TestContentClassifierCase: a score alone opens a classifier case that
// shows the classifier, label, score and model version; below the rule's
// floor nothing opens.
func TestContentClassifierCase(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, classifierRule("model-review", 0.8, 70))
	if !f.svc.Classifies(ctx) {
		t.Fatal("Classifies = false with a classifier rule")
	}
	ref := vigil.ContentRef{SHA256: "cd", ContentID: "post-1"}
	if out := f.svc.Content(ctx, ref, nil, []vigil.ClassifierScore{pigeonScore(0.5)}, nil); len(out.Cases) != 0 {
		t.Fatalf("a score under the floor opened %v", out.Cases)
	}
	out := f.svc.Content(ctx, ref, nil, []vigil.ClassifierScore{pigeonScore(0.9)}, func() ([]byte, error) { return []byte("media"), nil })
	if len(out.Cases) != 1 || len(out.Errors) != 0 || len(out.Auto) != 0 {
		t.Fatalf("outcome = %+v", out)
	}
	c, err := f.cases.FindCase(ctx, out.Cases[0])
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != vigil.CaseKindClassifier || c.Priority != 70 || len(c.Scores) != 1 || c.Scores[0] != pigeonScore(0.9) || c.Content.MediaID == "" {
		t.Errorf("case = %+v", c)
	}
}

// TestContentMatchAndScoreOneCase: a match and a score of one item make
// one case in the queue, holding both, whichever rule wins; without a
// score (the classifier down) the match case opens as before.
func TestContentMatchAndScoreOneCase(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, caseRule(), classifierRule("model-review", 0.8, 90))
	ref := vigil.ContentRef{SHA256: "ef"}
	out := f.svc.Content(ctx, ref, f.results(), []vigil.ClassifierScore{pigeonScore(0.95)}, nil)
	if len(out.Cases) != 1 || len(out.Rules) != 2 {
		t.Fatalf("outcome = %+v", out)
	}
	c, err := f.cases.FindCase(ctx, out.Cases[0])
	if err != nil {
		t.Fatal(err)
	}
	if c.Rule != "model-review" || c.Kind != vigil.CaseKindClassifier || len(c.Scores) != 1 {
		t.Errorf("winning case = %+v", c)
	}
	down := f.svc.Content(ctx, vigil.ContentRef{SHA256: "01"}, f.results(), nil, nil)
	if len(down.Cases) != 1 {
		t.Fatalf("no classifier: outcome = %+v", down)
	}
	if c, err := f.cases.FindCase(ctx, down.Cases[0]); err != nil || c.Kind != vigil.CaseKindMatch || c.Rule != "review" || c.Scores != nil {
		t.Errorf("match case without scores = %+v, %v", c, err)
	}
}

// TestContentClassifierWebhook: a classifier rule's webhook event carries
// the scores it fired on, not the content.
func TestContentClassifierWebhook(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, &vigil.Rule{Name: "tell-model", When: vigil.RuleConditions{Kind: vigil.CaseKindClassifier, Classifier: "pigeon", MinScore: 0.5},
		Action: vigil.RuleAction{Type: vigil.ActionWebhook, Webhook: "platform"}})
	notes := &failingNotifier{}
	f.svc.Notifier = notes
	out := f.svc.Content(ctx, vigil.ContentRef{SHA256: "aa", UserID: "u"}, nil, []vigil.ClassifierScore{pigeonScore(0.7)}, nil)
	if len(out.Errors) != 0 || len(notes.events) != 1 {
		t.Fatalf("outcome %+v, %d events", out, len(notes.events))
	}
	var data struct {
		Rule   string
		Scores []vigil.ClassifierScore
	}
	if err := json.Unmarshal(notes.events[0].Data, &data); err != nil || data.Rule != "tell-model" || len(data.Scores) != 1 || data.Scores[0] != pigeonScore(0.7) {
		t.Errorf("event data %s (%v)", notes.events[0].Data, err)
	}
}
