package vigil

import (
	"context"
	"math"
	"time"
)

// Rule action types: what happens when a rule fires.
const (
	// ActionCase opens a case in a review queue.
	ActionCase = "case"
	// ActionWebhook sends a rule.matched event to a named webhook.
	ActionWebhook = "webhook"
	// ActionAuto takes an automatic action (block, …) without waiting for
	// review: it is reported to the caller and, if the rule names a
	// webhook, sent as an event. Only corroborated rules may do it.
	ActionAuto = "auto"
	// ActionNone does nothing, and stops every other rule from acting on
	// the same content: it carves exceptions out of broader rules.
	ActionNone = "none"
)

// Where a rule comes from. Rules from the rules file, or the built-in
// default rules when the server has none, are replaced each time the
// server starts (RuleService.ReplaceFileRules), so they cannot be changed
// through the API: the next start would undo the change.
const (
	RuleSourceFile    = "file"    // the rules file (vigil serve --rules)
	RuleSourceDefault = "default" // the built-in rules, without a rules file
	RuleSourceAPI     = "api"
)

// Limits on rules, so that a rule stays something a person can read.
const (
	MaxRuleListLen       = 100 // banks, categories or signal types in one condition
	MaxRuleCorroboration = 10
	// MinAutoCorroboration is the number of independent sources an auto
	// action needs: one source may be wrong, two agreeing rarely are.
	MinAutoCorroboration = 2
)

// Rule maps matches or conversation risks to an action.
type Rule struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"` // same alphabet as bank names
	Description string `json:"description,omitempty"`
	Enabled     bool   `json:"enabled"`
	Source      string `json:"source"` // RuleSourceFile, RuleSourceDefault or RuleSourceAPI

	When   RuleConditions `json:"when"`
	Action RuleAction     `json:"action"`

	// Corroboration is the number of distinct sources (Entry.Source) the
	// entries matched by a match rule must come from for the rule to fire.
	// Entries without a source count for none. 0 and 1 ask for nothing.
	Corroboration int `json:"corroboration,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

// RuleConditions select what a rule fires on. Every condition given must
// hold; a list condition holds when any of its values does.
type RuleConditions struct {
	// Kind is CaseKindMatch (content or signals that matched bank entries),
	// CaseKindConversation (a conversation's grooming risk) or
	// CaseKindClassifier (a classifier's score for content).
	Kind string `json:"kind"`

	// Match conditions, on each matched entry.
	Banks       []string     `json:"banks,omitempty"`
	Categories  []string     `json:"categories,omitempty"` // compared without regard to case
	SignalTypes []SignalType `json:"signal_types,omitempty"`
	MaxDistance *int         `json:"max_distance,omitempty"`

	// Conversation conditions, on the conversation's risk.
	Flagged  bool    `json:"flagged,omitempty"`
	MinScore float64 `json:"min_score,omitempty"`
	MinLevel string  `json:"min_level,omitempty"` // low, medium or high
	// Disclosure holds when the risk carries a victim's disclosure (a
	// participant telling of a threat), which never flags by itself.
	Disclosure bool `json:"disclosure,omitempty"`

	// Classifier conditions (kind CaseKindClassifier), on each score:
	// the configured classifier's name, optionally one label (any when
	// empty), and MinScore, the lowest score that fires.
	Classifier string `json:"classifier,omitempty"`
	Label      string `json:"label,omitempty"`
}

// RuleAction is what a rule does when it fires.
type RuleAction struct {
	Type string `json:"type"` // ActionCase, ActionWebhook, ActionAuto or ActionNone
	// Queue and Priority place the case an ActionCase opens; an ActionAuto
	// must open one too (its queue is required), for review after the
	// fact, the user's notice and complaints.
	Queue    string `json:"queue,omitempty"`
	Priority int    `json:"priority,omitempty"`
	// Webhook names the webhook of an ActionWebhook, or the one an
	// ActionAuto reports to.
	Webhook string `json:"webhook,omitempty"`
	// Auto names the automatic action, such as "block" or "suspend".
	Auto string `json:"auto,omitempty"`
}

// riskLevels orders the conversation risk levels a rule may ask for.
var riskLevels = map[string]int{"low": 1, "medium": 2, "high": 3}

// RiskLevelRank returns the order of a grooming risk level (none 0, low 1,
// medium 2, high 3); unknown levels rank 0.
func RiskLevelRank(level string) int { return riskLevels[level] }

// Validate returns an EINVALID error naming the rule if it cannot be
// stored or run.
func (r *Rule) Validate() error {
	if err := validateToken("rule name", r.Name); err != nil {
		return err
	}
	if err := r.validate(); err != nil {
		return Errorf(EINVALID, "rule %q: %s", r.Name, ErrorMessage(err))
	}
	return nil
}

func (r *Rule) validate() error {
	if len(r.Description) > MaxBankDescriptionLen {
		return Errorf(EINVALID, "description longer than %d bytes", MaxBankDescriptionLen)
	}
	switch r.Source {
	case "", RuleSourceFile, RuleSourceDefault, RuleSourceAPI:
	default:
		return Errorf(EINVALID, "unknown source %q", r.Source)
	}
	if r.Corroboration < 0 || r.Corroboration > MaxRuleCorroboration {
		return Errorf(EINVALID, "corroboration must be 0 to %d", MaxRuleCorroboration)
	}
	w := &r.When
	if len(w.Banks) > MaxRuleListLen || len(w.Categories) > MaxRuleListLen || len(w.SignalTypes) > MaxRuleListLen {
		return Errorf(EINVALID, "at most %d values per condition", MaxRuleListLen)
	}
	if w.Kind != CaseKindClassifier && (w.Classifier != "" || w.Label != "") {
		return Errorf(EINVALID, "classifier and label apply to classifier rules")
	}
	switch w.Kind {
	case CaseKindMatch:
		if w.Flagged || w.MinScore != 0 || w.MinLevel != "" || w.Disclosure {
			return Errorf(EINVALID, "flagged, min_score, min_level and disclosure apply to conversation rules, not match rules")
		}
		for _, b := range w.Banks {
			if err := ValidateBankName(b); err != nil {
				return err
			}
		}
		for _, c := range w.Categories {
			if c == "" || len(c) > MaxEntryFieldLen || !Printable(c) {
				return Errorf(EINVALID, "category must be 1 to %d printable characters", MaxEntryFieldLen)
			}
		}
		for _, t := range w.SignalTypes {
			if _, ok := maxThreshold[t]; !ok && t != SignalText {
				return Errorf(EINVALID, "unknown signal type %q", t)
			}
		}
		if d := w.MaxDistance; d != nil && (*d < 0 || *d > maxThreshold[SignalPDQ]) {
			return Errorf(EINVALID, "max_distance must be 0 to %d", maxThreshold[SignalPDQ])
		}
	case CaseKindConversation:
		if len(w.Banks) > 0 || len(w.Categories) > 0 || len(w.SignalTypes) > 0 || w.MaxDistance != nil {
			return Errorf(EINVALID, "banks, categories, signal_types and max_distance apply to match rules, not conversation rules")
		}
		if r.Corroboration > 1 {
			return Errorf(EINVALID, "corroboration counts the sources of matched entries; a conversation rule has none")
		}
		if w.MinScore < 0 || w.MinScore > 1 {
			return Errorf(EINVALID, "min_score must be 0 to 1")
		}
		if w.MinLevel != "" && riskLevels[w.MinLevel] == 0 {
			return Errorf(EINVALID, "min_level must be low, medium or high, got %q", w.MinLevel)
		}
		// Every conversation is scored from its first message: a rule
		// with no risk condition would open a case for each of them.
		if !w.Flagged && w.MinScore == 0 && w.MinLevel == "" && !w.Disclosure {
			return Errorf(EINVALID, "a conversation rule needs flagged, min_score, min_level or disclosure")
		}
	case CaseKindClassifier:
		if len(w.Banks) > 0 || len(w.Categories) > 0 || len(w.SignalTypes) > 0 || w.MaxDistance != nil ||
			w.Flagged || w.MinLevel != "" || w.Disclosure {
			return Errorf(EINVALID, "a classifier rule takes classifier, label and min_score only")
		}
		if err := validateToken("classifier name", w.Classifier); err != nil {
			return err
		}
		if len(w.Label) > MaxScoreLabelLen || !Printable(w.Label) {
			return Errorf(EINVALID, "label must be at most %d printable bytes", MaxScoreLabelLen)
		}
		// Every classified item has scores: a rule without a floor would
		// open a case for each of them.
		if math.IsNaN(w.MinScore) || w.MinScore <= 0 || w.MinScore > 1 {
			return Errorf(EINVALID, "a classifier rule needs min_score above 0 and at most 1")
		}
		if r.Corroboration > 1 {
			return Errorf(EINVALID, "corroboration counts the sources of matched entries; a classifier score has none")
		}
		// A model's score ranks content for review; it never acts alone,
		// whatever the rule says of corroboration.
		if r.Action.Type == ActionAuto {
			return Errorf(EINVALID, "an auto action acts without human review; a classifier score alone never does: use a case action")
		}
	case "":
		return Errorf(EINVALID, "when.kind is required: %s, %s or %s", CaseKindMatch, CaseKindConversation, CaseKindClassifier)
	default:
		return Errorf(EINVALID, "when.kind must be %s, %s or %s, got %q", CaseKindMatch, CaseKindConversation, CaseKindClassifier, w.Kind)
	}
	return r.Action.validate(r.Corroboration)
}

func (a *RuleAction) validate(corroboration int) error {
	if a.Priority < 0 || a.Priority > MaxCasePriority {
		return Errorf(EINVALID, "priority must be 0 to %d", MaxCasePriority)
	}
	switch a.Type {
	case ActionCase:
		if err := validateToken("queue name", a.Queue); err != nil {
			return err
		}
		if a.Webhook != "" || a.Auto != "" {
			return Errorf(EINVALID, "a case action takes queue and priority only")
		}
	case ActionWebhook:
		if err := validateToken("webhook name", a.Webhook); err != nil {
			return err
		}
		if a.Queue != "" || a.Priority != 0 || a.Auto != "" {
			return Errorf(EINVALID, "a webhook action takes webhook only")
		}
	case ActionAuto:
		if err := validateToken("auto action", a.Auto); err != nil {
			return err
		}
		if corroboration < MinAutoCorroboration {
			return Errorf(EINVALID, "an auto action acts without human review, so the rule must require corroboration of at least %d independent sources (corroboration: %d)", MinAutoCorroboration, MinAutoCorroboration)
		}
		if a.Webhook != "" {
			if err := validateToken("webhook name", a.Webhook); err != nil {
				return err
			}
		}
		// The case is the action's only durable reference: a reviewer
		// looks at it afterwards, the user's notice falls due from it and
		// a complaint names it. An automatic action without one would be
		// taken and forgotten.
		if a.Queue == "" {
			return Errorf(EINVALID, "an auto action must open a case (for review after the fact, the user's notice and complaints): add queue, the review queue of its cases")
		}
		if err := validateToken("queue name", a.Queue); err != nil {
			return err
		}
	case ActionNone:
		if a.Queue != "" || a.Priority != 0 || a.Webhook != "" || a.Auto != "" {
			return Errorf(EINVALID, "a none action takes no parameters")
		}
	case "":
		return Errorf(EINVALID, "action.type is required: case, webhook, auto or none")
	default:
		return Errorf(EINVALID, "action.type must be case, webhook, auto or none, got %q", a.Type)
	}
	return nil
}

// validateToken checks a name used in URLs and configuration (rules,
// queues, webhooks, auto actions): the bank name alphabet.
func validateToken(what, s string) error {
	if err := ValidateBankName(s); err != nil {
		return Errorf(EINVALID, "%s must be 1 to %d characters of a-z, 0-9, _ and -, got %q", what, MaxBankNameLen, s)
	}
	return nil
}

// RuleService stores rules.
type RuleService interface {
	// ListRules returns every rule, enabled or not, by name.
	ListRules(ctx context.Context) ([]*Rule, error)
	// FindRule returns the named rule, or ENOTFOUND.
	FindRule(ctx context.Context, name string) (*Rule, error)
	// CreateRule stores a new rule and sets its ID, CreatedAt and
	// UpdatedAt (and Source to RuleSourceAPI if empty). ECONFLICT if the
	// name is taken, EINVALID if r is invalid.
	CreateRule(ctx context.Context, r *Rule) error
	// UpdateRule replaces the rule named r.Name with r, keeping its ID,
	// Source and CreatedAt, and sets r's stored fields. ENOTFOUND, EINVALID.
	UpdateRule(ctx context.Context, r *Rule) error
	// DeleteRule deletes the named rule. ENOTFOUND.
	DeleteRule(ctx context.Context, name string) error
	// ReplaceFileRules replaces every rule loaded at start (source
	// RuleSourceFile or RuleSourceDefault) with rules, in one transaction;
	// rules created through the API stay. Each rule keeps its Source if it
	// is RuleSourceDefault and gets RuleSourceFile if it is empty; EINVALID
	// for RuleSourceAPI. ECONFLICT if one of rules has the name of an API
	// rule.
	ReplaceFileRules(ctx context.Context, rules []*Rule) error
}
