package rules_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/grooming"
	"github.com/vigil-oss/vigil/internal/cputime"
	"github.com/vigil-oss/vigil/rules"
)

func ptr[T any](v T) *T { return &v }

// match builds a match of entry id in bank with the given provenance.
func match(id int64, bank, source, category string, t vigil.SignalType, dist int) vigil.Match {
	return vigil.Match{EntryID: id, Bank: bank, Source: source, Category: category, SignalType: t, Distance: dist}
}

func caseRule(name string, w vigil.RuleConditions, queue string, prio int) *vigil.Rule {
	return &vigil.Rule{Name: name, Enabled: true, When: w, Action: vigil.RuleAction{Type: vigil.ActionCase, Queue: queue, Priority: prio}}
}

// names returns the names of the fired rules.
func names(o rules.Outcome) []string {
	var out []string
	for _, f := range o.Fired {
		out = append(out, f.Rule.Name)
	}
	return out
}

func TestEngineMatch(t *testing.T) {
	kind := vigil.CaseKindMatch
	ruleset := []*vigil.Rule{
		caseRule("any", vigil.RuleConditions{Kind: kind}, "default", 50),
		caseRule("ncmec-bank", vigil.RuleConditions{Kind: kind, Banks: []string{"ncmec"}}, "default", 70),
		caseRule("a1", vigil.RuleConditions{Kind: kind, Categories: []string{"a1"}}, "urgent", 90),
		caseRule("close-pdq", vigil.RuleConditions{Kind: kind, SignalTypes: []vigil.SignalType{vigil.SignalPDQ}, MaxDistance: ptr(10)}, "close", 60),
		caseRule("exact", vigil.RuleConditions{Kind: kind, SignalTypes: []vigil.SignalType{vigil.SignalMD5, vigil.SignalSHA256}}, "exact", 60),
		{Name: "disabled", When: vigil.RuleConditions{Kind: kind}, Action: vigil.RuleAction{Type: vigil.ActionCase, Queue: "off"}},
		{Name: "two-sources", Enabled: true, Corroboration: 2, When: vigil.RuleConditions{Kind: kind},
			Action: vigil.RuleAction{Type: vigil.ActionAuto, Auto: "block", Webhook: "ts", Queue: "after"}},
		{Name: "conversation", Enabled: true, When: vigil.RuleConditions{Kind: vigil.CaseKindConversation, Flagged: true},
			Action: vigil.RuleAction{Type: vigil.ActionCase, Queue: "default"}},
	}
	e := rules.New(ruleset)
	if e.Len() != 7 {
		t.Fatalf("engine holds %d enabled rules, want 7", e.Len())
	}
	tests := []struct {
		name    string
		matches []vigil.Match
		want    []string
		sources []string // of the two-sources rule, if it fires
	}{
		{"no match", nil, nil, nil},
		{"far pdq in a local bank", []vigil.Match{match(1, "local", "", "", vigil.SignalPDQ, 25)}, []string{"any"}, nil},
		{"close pdq", []vigil.Match{match(1, "local", "", "", vigil.SignalPDQ, 10)}, []string{"any", "close-pdq"}, nil},
		{"category ignores case", []vigil.Match{match(1, "local", "", "A1", vigil.SignalMD5, 0)}, []string{"a1", "any", "exact"}, nil},
		{"bank", []vigil.Match{match(1, "ncmec", "ncmec", "", vigil.SignalSHA1, 0)}, []string{"any", "ncmec-bank"}, nil},
		{"one source twice is no corroboration", []vigil.Match{
			match(1, "ncmec", "ncmec", "", vigil.SignalSHA1, 0),
			match(2, "other", "ncmec", "", vigil.SignalSHA1, 0),
		}, []string{"any", "ncmec-bank"}, nil},
		{"entries without a source corroborate nothing", []vigil.Match{
			match(1, "a", "", "", vigil.SignalSHA1, 0),
			match(2, "b", "", "", vigil.SignalSHA1, 0),
			match(3, "c", "iwf", "", vigil.SignalSHA1, 0),
		}, []string{"any"}, nil},
		{"two sources", []vigil.Match{
			match(1, "ncmec", "ncmec", "", vigil.SignalSHA1, 0),
			match(2, "iwf", "iwf", "", vigil.SignalSHA1, 0),
		}, []string{"any", "ncmec-bank", "two-sources"}, []string{"iwf", "ncmec"}},
		{"negative matches never fire", []vigil.Match{{EntryID: 1, Bank: "benign", Negative: true, SignalType: vigil.SignalMD5}}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Spread the matches over two signals: rules see the content whole.
			half := len(tt.matches) / 2
			res := []vigil.MatchResult{{Matches: tt.matches[:half]}, {Matches: tt.matches[half:]}}
			o := e.Match(res)
			if got := names(o); !slices.Equal(got, tt.want) {
				t.Fatalf("fired %v, want %v", got, tt.want)
			}
			for _, f := range o.Fired {
				if f.Rule.Name == "two-sources" && !slices.Equal(f.Sources, tt.sources) {
					t.Errorf("sources %v, want %v", f.Sources, tt.sources)
				}
				if len(f.Matches) == 0 {
					t.Errorf("rule %s fired without evidence", f.Rule.Name)
				}
			}
		})
	}
}

func TestEngineMatchEvidence(t *testing.T) {
	e := rules.New([]*vigil.Rule{caseRule("ncmec", vigil.RuleConditions{Kind: vigil.CaseKindMatch, Banks: []string{"ncmec"}}, "q", 1)})
	// The same entry hit by two signals (a hash and its rotation) counts
	// once, at the closer distance; a match in another bank is not
	// evidence for this rule.
	o := e.Match([]vigil.MatchResult{
		{Matches: []vigil.Match{match(7, "ncmec", "ncmec", "", vigil.SignalPDQ, 5), match(8, "local", "", "", vigil.SignalPDQ, 3)}},
		{Matches: []vigil.Match{match(7, "ncmec", "ncmec", "", vigil.SignalPDQ, 3)}},
	})
	if len(o.Fired) != 1 || len(o.Fired[0].Matches) != 1 || o.Fired[0].Matches[0].EntryID != 7 || o.Fired[0].Matches[0].Distance != 3 {
		t.Fatalf("evidence %+v", o.Fired)
	}
}

func TestEngineVeto(t *testing.T) {
	kind := vigil.CaseKindMatch
	e := rules.New([]*vigil.Rule{
		caseRule("any", vigil.RuleConditions{Kind: kind}, "default", 50),
		{Name: "test-bank", Enabled: true, When: vigil.RuleConditions{Kind: kind, Banks: []string{"test"}}, Action: vigil.RuleAction{Type: vigil.ActionNone}},
	})
	o := e.Match([]vigil.MatchResult{{Matches: []vigil.Match{match(1, "test", "", "", vigil.SignalMD5, 0), match(2, "ncmec", "", "", vigil.SignalMD5, 0)}}})
	if !o.Vetoed || !slices.Equal(names(o), []string{"test-bank"}) || o.Cases() != nil {
		t.Fatalf("veto: %+v", o)
	}
	o = e.Match([]vigil.MatchResult{{Matches: []vigil.Match{match(2, "ncmec", "", "", vigil.SignalMD5, 0)}}})
	if o.Vetoed || !slices.Equal(names(o), []string{"any"}) {
		t.Fatalf("no veto: %+v", o)
	}
}

func TestOutcomeCases(t *testing.T) {
	kind := vigil.RuleConditions{Kind: vigil.CaseKindMatch}
	e := rules.New([]*vigil.Rule{
		caseRule("a-low", kind, "default", 10),
		caseRule("b-high", kind, "default", 90),
		caseRule("c-high-too", kind, "default", 90),
		caseRule("d-other", kind, "legal", 5),
		{Name: "e-hook", Enabled: true, When: kind, Action: vigil.RuleAction{Type: vigil.ActionWebhook, Webhook: "ts"}},
		{Name: "f-auto", Enabled: true, When: kind, Corroboration: 2, Action: vigil.RuleAction{Type: vigil.ActionAuto, Auto: "block", Queue: "after", Priority: 20}},
		// An auto rule whose queue another rule fills higher: the one case
		// of that queue is the other rule's (recordAuto records the
		// action on it).
		{Name: "g-auto-default", Enabled: true, When: kind, Corroboration: 2, Action: vigil.RuleAction{Type: vigil.ActionAuto, Auto: "suspend", Queue: "default", Priority: 5}},
	})
	o := e.Match([]vigil.MatchResult{{Matches: []vigil.Match{match(1, "x", "s1", "", vigil.SignalMD5, 0), match(2, "y", "s2", "", vigil.SignalMD5, 0)}}})
	if len(o.Fired) != 7 {
		t.Fatalf("fired %v", names(o))
	}
	var got []string
	for _, f := range o.Cases() {
		got = append(got, f.Rule.Action.Queue+":"+f.Rule.Name)
	}
	if want := []string{"default:b-high", "legal:d-other", "after:f-auto"}; !slices.Equal(got, want) {
		t.Fatalf("cases %v, want %v", got, want)
	}
}

func TestEngineConversation(t *testing.T) {
	conv := vigil.CaseKindConversation
	e := rules.New([]*vigil.Rule{
		caseRule("flagged", vigil.RuleConditions{Kind: conv, Flagged: true}, "default", 60),
		caseRule("high", vigil.RuleConditions{Kind: conv, MinLevel: "high"}, "urgent", 90),
		caseRule("score", vigil.RuleConditions{Kind: conv, MinScore: 0.4}, "watch", 40),
		caseRule("match", vigil.RuleConditions{Kind: vigil.CaseKindMatch}, "default", 50),
	})
	none := grooming.Risk{Score: 0.1, Level: grooming.LevelNone}
	medium := grooming.Risk{Score: 0.35, Level: grooming.LevelMedium, Flagged: true}
	high := grooming.Risk{Score: 0.6, Level: grooming.LevelHigh, Flagged: true}
	tests := []struct {
		name      string
		prev      *grooming.Risk
		cur       grooming.Risk
		want      []string
		wantWhole []string // Conversation(cur), ignoring prev
	}{
		{"benign", nil, none, nil, nil},
		{"flagged at once", nil, medium, []string{"flagged"}, []string{"flagged"}},
		{"becomes flagged", &none, medium, []string{"flagged"}, []string{"flagged"}},
		{"stays flagged", &medium, medium, nil, []string{"flagged"}},
		{"rises to high", &medium, high, []string{"high", "score"}, []string{"flagged", "high", "score"}},
		{"stays high", &high, high, nil, []string{"flagged", "high", "score"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := names(e.ConversationChange(tt.prev, tt.cur)); !slices.Equal(got, tt.want) {
				t.Errorf("change fired %v, want %v", got, tt.want)
			}
			if got := names(e.Conversation(tt.cur)); !slices.Equal(got, tt.wantWhole) {
				t.Errorf("whole fired %v, want %v", got, tt.wantWhole)
			}
		})
	}
}

func TestDefaultRulesValid(t *testing.T) {
	rs := rules.Default()
	for _, r := range rs {
		if err := r.Validate(); err != nil {
			t.Error(err)
		}
	}
	e := rules.New(rs)
	o := e.Match([]vigil.MatchResult{{Matches: []vigil.Match{match(1, "ncmec", "ncmec", "A2", vigil.SignalPDQ, 12)}}})
	cs := o.Cases()
	if len(cs) != 1 || cs[0].Rule.Action.Queue != rules.DefaultQueue || cs[0].Rule.Action.Priority != 80 {
		t.Fatalf("default rules on an A2 match: %+v", cs)
	}
	o = e.Conversation(grooming.Risk{Flagged: true, Level: grooming.LevelMedium, Score: 0.4})
	if cs := o.Cases(); len(cs) != 1 || cs[0].Rule.Name != "flagged-conversation" {
		t.Fatalf("default rules on a flagged conversation: %v", names(o))
	}
	// A victim's disclosure does not flag, yet must reach a reviewer.
	o = e.Conversation(grooming.Risk{Score: 0.1, Disclosure: &grooming.Disclosure{Victim: "kid", Messages: []int{1}}})
	if cs := o.Cases(); len(cs) != 1 || cs[0].Rule.Name != "victim-disclosure" {
		t.Fatalf("default rules on a disclosure: %v", names(o))
	}
	o = e.Conversation(grooming.Risk{Score: 0.1})
	if cs := o.Cases(); len(cs) != 0 {
		t.Fatalf("default rules on a quiet conversation: %v", names(o))
	}
}

// BenchmarkEngineMatch measures the rules' cost on a match: 50 rules over
// the 4 matches of one upload. The baseline is gathering the matches
// alone, which the engine must do anyway.
func BenchmarkEngineMatch(b *testing.B) {
	var rs []*vigil.Rule
	for i := range 50 {
		rs = append(rs, caseRule(fmt.Sprintf("rule-%02d", i), vigil.RuleConditions{
			Kind: vigil.CaseKindMatch, Banks: []string{fmt.Sprintf("bank-%d", i%5)}, Categories: []string{"A1", "B2"}, MaxDistance: ptr(20),
		}, "default", i))
	}
	rs[7].Corroboration = 2
	e := rules.New(rs)
	res := []vigil.MatchResult{
		{Matches: []vigil.Match{match(1, "bank-1", "ncmec", "A1", vigil.SignalPDQ, 8), match(2, "bank-2", "iwf", "b2", vigil.SignalPDQ, 30)}},
		{Matches: []vigil.Match{match(1, "bank-1", "ncmec", "A1", vigil.SignalMD5, 0)}},
		{Matches: []vigil.Match{match(3, "bank-3", "", "", vigil.SignalSHA256, 0)}},
	}
	b.Run("baseline=gather", func(b *testing.B) {
		cputime.PerOp(b, func() {
			var all []vigil.Match
			for _, r := range res {
				all = append(all, r.Matches...)
			}
			_ = all
		})
	})
	b.Run("rules=50", func(b *testing.B) {
		cputime.PerOp(b, func() { e.Match(res).Cases() })
	})
}
