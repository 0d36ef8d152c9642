// Package rules decides what to do with matches and conversation risks: it
// runs the rules (vigil.Rule) over a match result or a grooming risk and
// says which fire. It is pure: no store, no network; the HTTP layer carries
// the actions out (opens cases, sends webhook events).
//
// Every enabled rule whose conditions hold fires, not only the first: rules
// do not depend on an order, so rules from the rules file and rules made
// through the API mix without a question of which comes first. The one
// exception is an ActionNone rule: when one fires, it vetoes every other
// rule for that content (Outcome.Vetoed), so that a narrow "do nothing"
// rule carves an exception out of broader ones whatever their order.
package rules

import (
	"cmp"
	"slices"
	"strings"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/grooming"
)

// Engine runs a fixed set of rules. It is safe for concurrent use.
type Engine struct {
	match, conversation, classifier []*vigil.Rule // enabled rules by name
}

// New returns an engine over the enabled rules of rules. The rules are
// assumed valid (vigil.Rule.Validate).
func New(rules []*vigil.Rule) *Engine {
	e := &Engine{}
	for _, r := range rules {
		if !r.Enabled {
			continue
		}
		switch r.When.Kind {
		case vigil.CaseKindMatch:
			e.match = append(e.match, r)
		case vigil.CaseKindConversation:
			e.conversation = append(e.conversation, r)
		case vigil.CaseKindClassifier:
			e.classifier = append(e.classifier, r)
		}
	}
	byName := func(a, b *vigil.Rule) int { return cmp.Compare(a.Name, b.Name) }
	slices.SortFunc(e.match, byName)
	slices.SortFunc(e.conversation, byName)
	slices.SortFunc(e.classifier, byName)
	return e
}

// Len returns the number of enabled rules.
func (e *Engine) Len() int { return len(e.match) + len(e.conversation) + len(e.classifier) }

// Classifies reports whether any enabled rule acts on classifier scores:
// without one, classifying content on the match path is wasted work.
func (e *Engine) Classifies() bool { return len(e.classifier) > 0 }

// Fired is one rule that fired and the evidence it fired on.
type Fired struct {
	Rule *vigil.Rule
	// Matches are the matches that met the rule's conditions, one per
	// entry (match rules only).
	Matches []vigil.Match
	// Sources are the distinct non-empty sources of those matches' entries,
	// sorted: the corroboration the rule saw.
	Sources []string
	// Scores are the classifier scores that met the rule's conditions
	// (classifier rules only).
	Scores []vigil.ClassifierScore
}

// Outcome is what the rules decided for one piece of content or one
// conversation.
type Outcome struct {
	// Fired lists the rules that fired, by name. When Vetoed, it holds
	// only the ActionNone rules that vetoed the rest.
	Fired []Fired
	// Vetoed says an ActionNone rule fired: nothing is to be done.
	Vetoed bool
}

// Match runs the match rules over the results of one piece of content (all
// its signals). Only Matches count: matches suppressed by a negative bank
// have already been moved out of them by the matcher.
func (e *Engine) Match(results []vigil.MatchResult) Outcome {
	return e.Content(results, nil)
}

// Content runs the match rules over the match results of one piece of
// content and the classifier rules over its classifier scores, as one
// detection: a veto from either kind stops both, and Cases picks one case
// per queue from all of them.
func (e *Engine) Content(results []vigil.MatchResult, scores []vigil.ClassifierScore) Outcome {
	fired := e.matchRules(results)
	for _, r := range e.classifier {
		var ss []vigil.ClassifierScore
		for _, sc := range scores {
			if scoreMeets(&r.When, &sc) {
				ss = append(ss, sc)
			}
		}
		if len(ss) > 0 {
			fired = append(fired, Fired{Rule: r, Scores: ss})
		}
	}
	slices.SortStableFunc(fired, func(a, b Fired) int { return cmp.Compare(a.Rule.Name, b.Rule.Name) })
	return veto(fired)
}

// scoreMeets reports whether one classifier score meets a rule's
// classifier conditions.
func scoreMeets(w *vigil.RuleConditions, s *vigil.ClassifierScore) bool {
	return s.Classifier == w.Classifier && (w.Label == "" || s.Label == w.Label) && s.Score >= w.MinScore
}

// matchRules returns the match rules that fire on results.
func (e *Engine) matchRules(results []vigil.MatchResult) []Fired {
	all := entryMatches(results)
	if len(all) == 0 {
		return nil
	}
	var fired []Fired
	for _, r := range e.match {
		var ms []vigil.Match
		for i := range all {
			if matches(&r.When, &all[i]) {
				ms = append(ms, all[i])
			}
		}
		if len(ms) == 0 {
			continue
		}
		src := sources(ms)
		if r.Corroboration > 1 && len(src) < r.Corroboration {
			continue
		}
		fired = append(fired, Fired{Rule: r, Matches: ms, Sources: src})
	}
	return fired
}

// entryMatches returns the matches of all signals, one per entry: the
// closest, when several signals of the content (a hash and its rotation,
// say) hit the same entry.
func entryMatches(results []vigil.MatchResult) []vigil.Match {
	var all []vigil.Match
	at := map[int64]int{} // entry id → index in all
	for _, res := range results {
		for _, m := range res.Matches {
			i, ok := at[m.EntryID]
			switch {
			case !ok:
				at[m.EntryID] = len(all)
				all = append(all, m)
			case m.Distance < all[i].Distance:
				all[i] = m
			}
		}
	}
	return all
}

// matches reports whether one match meets a rule's match conditions.
func matches(w *vigil.RuleConditions, m *vigil.Match) bool {
	if m.Negative {
		return false
	}
	if len(w.Banks) > 0 && !slices.Contains(w.Banks, m.Bank) {
		return false
	}
	if len(w.Categories) > 0 && !slices.ContainsFunc(w.Categories, func(c string) bool { return strings.EqualFold(c, m.Category) }) {
		return false
	}
	if len(w.SignalTypes) > 0 && !slices.Contains(w.SignalTypes, m.SignalType) {
		return false
	}
	if w.MaxDistance != nil && m.Distance > *w.MaxDistance {
		return false
	}
	return true
}

// sources returns the distinct non-empty sources of ms, sorted. Entries
// without a source may all come from one place, so they corroborate
// nothing.
func sources(ms []vigil.Match) []string {
	var out []string
	for _, m := range ms {
		if m.Source != "" && !slices.Contains(out, m.Source) {
			out = append(out, m.Source)
		}
	}
	slices.Sort(out)
	return out
}

// Conversation runs the conversation rules over a conversation's risk.
func (e *Engine) Conversation(risk grooming.Risk) Outcome {
	var fired []Fired
	for _, r := range e.conversation {
		if riskMeets(&r.When, &risk) {
			fired = append(fired, Fired{Rule: r})
		}
	}
	return veto(fired)
}

// ConversationChange runs the conversation rules over a conversation's
// risk after new messages and keeps only the rules that did not already
// fire on its risk before them: a streamed conversation is scored on every
// append, and each rule should act on it once, when it first holds.
// prev is nil for a new conversation.
func (e *Engine) ConversationChange(prev *grooming.Risk, cur grooming.Risk) Outcome {
	out := e.Conversation(cur)
	if prev == nil {
		return out
	}
	if out.Vetoed {
		// A veto that already held acts (does nothing) again; that is
		// harmless and tells the caller why nothing happens.
		return out
	}
	before := e.Conversation(*prev)
	was := map[string]bool{}
	if !before.Vetoed {
		for _, f := range before.Fired {
			was[f.Rule.Name] = true
		}
	}
	out.Fired = slices.DeleteFunc(out.Fired, func(f Fired) bool { return was[f.Rule.Name] })
	return out
}

func riskMeets(w *vigil.RuleConditions, r *grooming.Risk) bool {
	if w.Flagged && !r.Flagged {
		return false
	}
	if w.Disclosure && r.Disclosure == nil {
		return false
	}
	if w.MinScore > 0 && r.Score < w.MinScore {
		return false
	}
	if w.MinLevel != "" && vigil.RiskLevelRank(string(r.Level)) < vigil.RiskLevelRank(w.MinLevel) {
		return false
	}
	return true
}

// veto applies ActionNone: if any fired rule does nothing, the outcome is
// those rules alone.
func veto(fired []Fired) Outcome {
	var none []Fired
	for _, f := range fired {
		if f.Rule.Action.Type == vigil.ActionNone {
			none = append(none, f)
		}
	}
	if len(none) > 0 {
		return Outcome{Fired: none, Vetoed: true}
	}
	return Outcome{Fired: fired}
}

// Cases returns the fired rules that open a case (case and auto actions,
// which both name a queue), at most one per queue: when several rules put
// the same content in one queue, the one with the highest priority wins
// (the first by name on a tie), so that a reviewer sees it once.
func (o Outcome) Cases() []Fired {
	if o.Vetoed {
		return nil
	}
	var out []Fired
	for _, f := range o.Fired {
		a := f.Rule.Action
		if a.Type != vigil.ActionCase && a.Type != vigil.ActionAuto {
			continue
		}
		i := slices.IndexFunc(out, func(g Fired) bool { return g.Rule.Action.Queue == a.Queue })
		switch {
		case i < 0:
			out = append(out, f)
		case a.Priority > out[i].Rule.Action.Priority:
			out[i] = f
		}
	}
	return out
}
