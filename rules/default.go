package rules

import (
	"strconv"

	"github.com/vigil-oss/vigil"
)

// DefaultQueue is the review queue the server creates on first start and
// the default rules fill.
const DefaultQueue = "default"

// Default returns the rules a server runs when it is given no rules file:
// every match (negative banks have already suppressed theirs) opens a case
// in DefaultQueue, ranked by the entry's category in the industry A1/A2/
// B1/B2 scheme, and every flagged conversation opens a conversation case.
// Nothing happens without review.
func Default() []*vigil.Rule {
	category := func(name, cat string, prio int) *vigil.Rule {
		return &vigil.Rule{
			Name: name, Enabled: true, Source: vigil.RuleSourceDefault,
			Description: "Matches of entries in category " + cat + " open a case at priority " + strconv.Itoa(prio) + ".",
			When:        vigil.RuleConditions{Kind: vigil.CaseKindMatch, Categories: []string{cat}},
			Action:      vigil.RuleAction{Type: vigil.ActionCase, Queue: DefaultQueue, Priority: prio},
		}
	}
	return []*vigil.Rule{
		{
			Name: "any-match", Enabled: true, Source: vigil.RuleSourceDefault,
			Description: "Every match in a bank opens a case for review.",
			When:        vigil.RuleConditions{Kind: vigil.CaseKindMatch},
			Action:      vigil.RuleAction{Type: vigil.ActionCase, Queue: DefaultQueue, Priority: 50},
		},
		category("category-a1", "A1", 90),
		category("category-a2", "A2", 80),
		category("category-b1", "B1", 70),
		category("category-b2", "B2", 60),
		{
			Name: "flagged-conversation", Enabled: true, Source: vigil.RuleSourceDefault,
			Description: "A conversation the grooming detector flags opens a conversation case.",
			When:        vigil.RuleConditions{Kind: vigil.CaseKindConversation, Flagged: true},
			Action:      vigil.RuleAction{Type: vigil.ActionCase, Queue: DefaultQueue, Priority: 60},
		},
		{
			Name: "victim-disclosure", Enabled: true, Source: vigil.RuleSourceDefault,
			Description: "A participant telling of a sextortion threat opens a conversation case that names them as a possible victim, not a suspect.",
			When:        vigil.RuleConditions{Kind: vigil.CaseKindConversation, Disclosure: true},
			Action:      vigil.RuleAction{Type: vigil.ActionCase, Queue: DefaultQueue, Priority: 70},
		},
	}
}
