package vigil

import "context"

// Outcome is what Vigil did with one detection (the match results of one
// piece of content, or a conversation's risk): the rules that fired, the
// cases opened and the automatic actions for the caller. It is the
// "actions" of API responses and job results.
type Outcome struct {
	// Rules lists the rules that fired, by name.
	Rules []FiredRule `json:"rules"`
	// Cases are the ids of the cases opened for review (or found already
	// open for the same item: acting twice on one detection opens no
	// second case).
	Cases []int64 `json:"cases,omitempty"`
	// Auto lists the automatic actions (block, …) the caller should take
	// now; only corroborated rules give them.
	Auto []string `json:"auto,omitempty"`
	// Vetoed says a rule whose action is none fired, so that no other rule
	// acted.
	Vetoed bool `json:"vetoed,omitempty"`
	// Queued says which actions failed for a reason that may pass (the
	// store busy, say) and were queued to be retried in the background.
	Queued []string `json:"queued,omitempty"`
	// Errors says which actions could not be carried out (a queue deleted,
	// a webhook not configured); the rest were.
	Errors []string `json:"errors,omitempty"`
}

// FiredRule is one rule that fired and what it did.
type FiredRule struct {
	Name    string   `json:"name"`
	Action  string   `json:"action"`
	Queue   string   `json:"queue,omitempty"`
	Webhook string   `json:"webhook,omitempty"`
	Auto    string   `json:"auto,omitempty"`
	Sources []string `json:"sources,omitempty"` // the corroborating sources
	CaseID  int64    `json:"case_id,omitempty"` // the case it opened; 0 if another rule's case in the same queue won
}

// Kinds of Action.
const (
	ActionKindOpenCase = "open_case" // open Action.Case
	ActionKindNotify   = "notify"    // send Action.Event to Action.Webhook
)

// Action is one step of acting on a detection, kept so that it can be
// carried out again: an action that failed for a passing reason is queued
// (see ActionQueue) and retried until it lands. Retrying is safe: a case
// carries its Key, so a retry finds the case it opened, and an event keeps
// its ID, so a receiver drops the repeat.
type Action struct {
	Kind string `json:"kind"` // ActionKindOpenCase or ActionKindNotify
	Rule string `json:"rule"` // the rule whose action this is
	// Case is the case to open, with CaseKey its Key (which Case's JSON
	// leaves out).
	Case    *Case  `json:"case,omitempty"`
	CaseKey string `json:"case_key,omitempty"`
	// Actor is who opens the case, for its history ("rule:NAME").
	Actor   string `json:"actor,omitempty"`
	Webhook string `json:"webhook,omitempty"`
	Event   *Event `json:"event,omitempty"`
	// Auto is the automatic action an open-case action's case is the
	// record of: once the case opens, the action is recorded on it
	// (NoticeService.RecordAutoAction, CaseID set then), as taken at
	// Auto.TakenAt, so that a retried case loses neither notice nor
	// complaint.
	Auto *AutoAction `json:"auto,omitempty"`
}

// ActionQueue keeps actions durably and has them carried out, and retried
// with backoff, in the background.
type ActionQueue interface {
	// QueueAction stores a for a background attempt; it returns once a is
	// durable.
	QueueAction(ctx context.Context, a *Action) error
}

// CaseConfirmed is published when a reviewer confirms a case: the
// detection was right. Features that follow a confirmation (incidents and
// reports, write-back to the banks) subscribe to it.
type CaseConfirmed struct {
	Case     *Case    // the case as decided
	Decision Decision // the confirming decision
}
