package rules_test

import (
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/rules"
)

func score(classifier, label string, s float64) vigil.ClassifierScore {
	return vigil.ClassifierScore{Classifier: classifier, Label: label, Score: s, ModelVersion: "v1"}
}

func TestEngineClassifier(t *testing.T) {
	kind := vigil.CaseKindClassifier
	e := rules.New([]*vigil.Rule{
		caseRule("csam-high", vigil.RuleConditions{Kind: kind, Classifier: "pigeon", Label: "csam", MinScore: 0.9}, "urgent", 90),
		caseRule("csam-some", vigil.RuleConditions{Kind: kind, Classifier: "pigeon", Label: "csam", MinScore: 0.5}, "default", 40),
		caseRule("google-any", vigil.RuleConditions{Kind: kind, Classifier: "google", MinScore: 0.7}, "default", 60),
		caseRule("any-match", vigil.RuleConditions{Kind: vigil.CaseKindMatch}, "default", 50),
	})
	if !e.Classifies() {
		t.Fatal("Classifies = false with classifier rules")
	}
	if rules.New(nil).Classifies() {
		t.Error("Classifies = true without rules")
	}
	tests := []struct {
		name    string
		matches []vigil.Match
		scores  []vigil.ClassifierScore
		want    []string
		cases   []string // winning rule per queue
	}{
		{"nothing", nil, nil, nil, nil},
		{"low score", nil, []vigil.ClassifierScore{score("pigeon", "csam", 0.4)}, nil, nil},
		{"other label", nil, []vigil.ClassifierScore{score("pigeon", "adult", 0.99)}, nil, nil},
		{"other classifier", nil, []vigil.ClassifierScore{score("other", "csam", 0.99)}, nil, nil},
		{"mid score", nil, []vigil.ClassifierScore{score("pigeon", "csam", 0.6)}, []string{"csam-some"}, []string{"csam-some"}},
		{"high score", nil, []vigil.ClassifierScore{score("pigeon", "csam", 0.95)}, []string{"csam-high", "csam-some"}, []string{"csam-high", "csam-some"}},
		{"exactly the floor", nil, []vigil.ClassifierScore{score("google", "review_priority", 0.7)}, []string{"google-any"}, []string{"google-any"}},
		// A match and a score for one item: one case in the default queue,
		// the higher priority rule's.
		{"match and score", []vigil.Match{match(1, "b", "", "", vigil.SignalPDQ, 3)}, []vigil.ClassifierScore{score("google", "review_priority", 0.9)},
			[]string{"any-match", "google-any"}, []string{"google-any"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := e.Content([]vigil.MatchResult{{Matches: tc.matches}}, tc.scores)
			if got := names(o); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("fired %v, want %v", got, tc.want)
			}
			var cases []string
			for _, f := range o.Cases() {
				cases = append(cases, f.Rule.Name)
			}
			if strings.Join(cases, ",") != strings.Join(tc.cases, ",") {
				t.Errorf("cases from %v, want %v", cases, tc.cases)
			}
			for _, f := range o.Fired {
				if f.Rule.When.Kind == kind && len(f.Scores) == 0 {
					t.Errorf("%s fired without scores", f.Rule.Name)
				}
			}
		})
	}
	// A none rule on a classifier vetoes the matches too: one detection.
	veto := rules.New([]*vigil.Rule{
		caseRule("any-match", vigil.RuleConditions{Kind: vigil.CaseKindMatch}, "default", 50),
		{Name: "trusted-uploader-model", Enabled: true, When: vigil.RuleConditions{Kind: kind, Classifier: "benign", MinScore: 0.99},
			Action: vigil.RuleAction{Type: vigil.ActionNone}},
	})
	if o := veto.Content([]vigil.MatchResult{{Matches: []vigil.Match{match(1, "b", "", "", vigil.SignalPDQ, 3)}}}, []vigil.ClassifierScore{score("benign", "ok", 1)}); !o.Vetoed {
		t.Errorf("classifier veto did not stop the match rule: %v", names(o))
	}
}

// TestClassifierRuleRefusesAuto: a score alone never acts without review,
// whatever corroboration the rule claims, from the API or a rules file.
func TestClassifierRuleRefusesAuto(t *testing.T) {
	for _, corroboration := range []int{0, 2} {
		r := &vigil.Rule{Name: "auto-block", Corroboration: corroboration,
			When:   vigil.RuleConditions{Kind: vigil.CaseKindClassifier, Classifier: "pigeon", MinScore: 0.99},
			Action: vigil.RuleAction{Type: vigil.ActionAuto, Auto: "block", Queue: "q"}}
		if err := r.Validate(); vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("corroboration %d: auto on a classifier score accepted: %v", corroboration, err)
		}
	}
	_, err := rules.Parse(strings.NewReader(`rules:
  - name: auto-block
    when: {kind: classifier, classifier: pigeon, label: csam, min_score: 0.99}
    action: {type: auto, auto: block, queue: q}
`))
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "classifier score alone") {
		t.Errorf("rules file with auto on a classifier: %v", err)
	}
	rs, err := rules.Parse(strings.NewReader(`rules:
  - name: model-review
    when: {kind: classifier, classifier: pigeon, label: csam, min_score: 0.8}
    action: {type: case, queue: default, priority: 70}
`))
	if err != nil || rs[0].When.Classifier != "pigeon" || rs[0].When.Label != "csam" || rs[0].When.MinScore != 0.8 {
		t.Fatalf("classifier rule: %+v, %v", rs, err)
	}
}

func TestClassifierRuleValidate(t *testing.T) {
	base := func(w vigil.RuleConditions) *vigil.Rule {
		return &vigil.Rule{Name: "r", When: w, Action: vigil.RuleAction{Type: vigil.ActionCase, Queue: "q"}}
	}
	kind := vigil.CaseKindClassifier
	for name, w := range map[string]vigil.RuleConditions{
		"no classifier":            {Kind: kind, MinScore: 0.5},
		"no min_score":             {Kind: kind, Classifier: "c"},
		"min_score above 1":        {Kind: kind, Classifier: "c", MinScore: 1.5},
		"banks":                    {Kind: kind, Classifier: "c", MinScore: 0.5, Banks: []string{"b"}},
		"flagged":                  {Kind: kind, Classifier: "c", MinScore: 0.5, Flagged: true},
		"bad label":                {Kind: kind, Classifier: "c", MinScore: 0.5, Label: "a\x00"},
		"classifier on match rule": {Kind: vigil.CaseKindMatch, Classifier: "c"},
	} {
		if err := base(w).Validate(); vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
	if err := base(vigil.RuleConditions{Kind: kind, Classifier: "c", MinScore: 0.5}).Validate(); err != nil {
		t.Errorf("valid classifier rule: %v", err)
	}
}
