package vigil_test

import (
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

func TestRuleValidate(t *testing.T) {
	dist := func(n int) *int { return &n }
	matchCase := func() vigil.Rule {
		return vigil.Rule{
			Name:   "known",
			When:   vigil.RuleConditions{Kind: vigil.CaseKindMatch, Banks: []string{"ncmec"}, Categories: []string{"A1"}, SignalTypes: []vigil.SignalType{vigil.SignalPDQ}, MaxDistance: dist(20)},
			Action: vigil.RuleAction{Type: vigil.ActionCase, Queue: "default", Priority: 50},
		}
	}
	tests := []struct {
		name string
		edit func(r *vigil.Rule)
		want string // substring of the error; "" for valid
	}{
		{"match case", func(r *vigil.Rule) {}, ""},
		{"bad name", func(r *vigil.Rule) { r.Name = "Known Rule" }, "rule name"},
		{"no kind", func(r *vigil.Rule) { r.When.Kind = "" }, "when.kind is required"},
		{"unknown kind", func(r *vigil.Rule) { r.When.Kind = "video" }, "when.kind must be"},
		{"bad bank", func(r *vigil.Rule) { r.When.Banks = []string{"NCMEC"} }, "bank name"},
		{"bad signal type", func(r *vigil.Rule) { r.When.SignalTypes = []vigil.SignalType{"photodna"} }, "unknown signal type"},
		{"text signal type", func(r *vigil.Rule) { r.When.SignalTypes = []vigil.SignalType{vigil.SignalText} }, ""},
		{"distance too far", func(r *vigil.Rule) { r.When.MaxDistance = dist(200) }, "max_distance"},
		{"risk condition on match", func(r *vigil.Rule) { r.When.MinScore = 0.5 }, "conversation rules"},
		{"too many banks", func(r *vigil.Rule) { r.When.Banks = make([]string, vigil.MaxRuleListLen+1) }, "at most"},
		{"empty category", func(r *vigil.Rule) { r.When.Categories = []string{""} }, "category"},
		{"case without queue", func(r *vigil.Rule) { r.Action.Queue = "" }, "queue name"},
		{"priority too high", func(r *vigil.Rule) { r.Action.Priority = vigil.MaxCasePriority + 1 }, "priority"},
		{"case with webhook", func(r *vigil.Rule) { r.Action.Webhook = "x" }, "queue and priority only"},
		{"unknown action", func(r *vigil.Rule) { r.Action.Type = "delete" }, "action.type must be"},
		{"no action", func(r *vigil.Rule) { r.Action.Type = "" }, "action.type is required"},
		{"webhook", func(r *vigil.Rule) { r.Action = vigil.RuleAction{Type: vigil.ActionWebhook, Webhook: "ts"} }, ""},
		{"webhook without name", func(r *vigil.Rule) { r.Action = vigil.RuleAction{Type: vigil.ActionWebhook} }, "webhook name"},
		{"none", func(r *vigil.Rule) { r.Action = vigil.RuleAction{Type: vigil.ActionNone} }, ""},
		{"none with queue", func(r *vigil.Rule) { r.Action = vigil.RuleAction{Type: vigil.ActionNone, Queue: "q"} }, "no parameters"},
		{"auto uncorroborated", func(r *vigil.Rule) { r.Action = vigil.RuleAction{Type: vigil.ActionAuto, Auto: "block"} }, "corroboration of at least 2"},
		{"auto corroborated by one", func(r *vigil.Rule) {
			r.Action, r.Corroboration = vigil.RuleAction{Type: vigil.ActionAuto, Auto: "block"}, 1
		}, "corroboration of at least 2"},
		{"auto corroborated", func(r *vigil.Rule) {
			r.Action, r.Corroboration = vigil.RuleAction{Type: vigil.ActionAuto, Auto: "block", Webhook: "ts", Queue: "after", Priority: 10}, 2
		}, ""},
		// An automatic action is reviewed after the fact, noticed to the
		// user and open to complaint through its case: without a queue it
		// would have none.
		{"auto without queue", func(r *vigil.Rule) {
			r.Action, r.Corroboration = vigil.RuleAction{Type: vigil.ActionAuto, Auto: "block"}, 2
		}, "an auto action must open a case"},
		{"auto with webhook, without queue", func(r *vigil.Rule) {
			r.Action, r.Corroboration = vigil.RuleAction{Type: vigil.ActionAuto, Auto: "block", Webhook: "ts"}, 2
		}, "an auto action must open a case"},
		{"auto priority without queue", func(r *vigil.Rule) {
			r.Action, r.Corroboration = vigil.RuleAction{Type: vigil.ActionAuto, Auto: "block", Priority: 10}, 2
		}, "an auto action must open a case"},
		{"auto without name", func(r *vigil.Rule) {
			r.Action, r.Corroboration = vigil.RuleAction{Type: vigil.ActionAuto, Queue: "after"}, 2
		}, "auto action"},
		{"corroboration too high", func(r *vigil.Rule) { r.Corroboration = vigil.MaxRuleCorroboration + 1 }, "corroboration must be"},
		{"bad source", func(r *vigil.Rule) { r.Source = "feed" }, "unknown source"},
		{"conversation", func(r *vigil.Rule) {
			r.When = vigil.RuleConditions{Kind: vigil.CaseKindConversation, Flagged: true, MinLevel: "high"}
		}, ""},
		{"conversation without risk condition", func(r *vigil.Rule) {
			r.When = vigil.RuleConditions{Kind: vigil.CaseKindConversation}
		}, "needs flagged, min_score, min_level or disclosure"},
		{"conversation with bank", func(r *vigil.Rule) {
			r.When = vigil.RuleConditions{Kind: vigil.CaseKindConversation, Flagged: true, Banks: []string{"x"}}
		}, "match rules"},
		{"conversation corroborated", func(r *vigil.Rule) {
			r.When, r.Corroboration = vigil.RuleConditions{Kind: vigil.CaseKindConversation, Flagged: true}, 2
		}, "conversation rule has none"},
		{"conversation auto", func(r *vigil.Rule) {
			r.When = vigil.RuleConditions{Kind: vigil.CaseKindConversation, Flagged: true}
			r.Action = vigil.RuleAction{Type: vigil.ActionAuto, Auto: "block"}
		}, "corroboration of at least 2"},
		{"bad level", func(r *vigil.Rule) {
			r.When = vigil.RuleConditions{Kind: vigil.CaseKindConversation, MinLevel: "severe"}
		}, "min_level"},
		{"bad score", func(r *vigil.Rule) {
			r.When = vigil.RuleConditions{Kind: vigil.CaseKindConversation, MinScore: 1.5}
		}, "min_score"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := matchCase()
			tt.edit(&r)
			err := r.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("valid rule refused: %v", err)
				}
				return
			}
			if vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(vigil.ErrorMessage(err), tt.want) {
				t.Fatalf("error %v, want EINVALID containing %q", err, tt.want)
			}
			if tt.name != "bad name" && !strings.Contains(vigil.ErrorMessage(err), `rule "known"`) {
				t.Errorf("error %q does not name the rule", vigil.ErrorMessage(err))
			}
		})
	}
}
