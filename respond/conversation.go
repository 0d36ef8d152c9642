package respond

import (
	"context"
	"strconv"
	"strings"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/grooming"
	"github.com/vigil-oss/vigil/rules"
)

// Conversation is a conversation's risk after some messages, to act on.
type Conversation struct {
	// Ref holds the platform's ids from the request; its content id
	// becomes ID.
	Ref vigil.ContentRef
	ID  string // the conversation's id; "" for a one-off conversation without one
	// Prev is the risk before Messages (nil for a new or a one-off
	// conversation): a rule that already held then does not act again.
	Prev *grooming.Risk
	Risk grooming.Risk
	// Messages are those scored this time, the first of them at index
	// First of the conversation; the cases opened hold them, with the
	// indicators each raised.
	Messages []grooming.Message
	First    int
}

// item names the detection for case keys: the conversation and how far it
// had been scored, so that a retry of the same messages finds its case
// while a rule that holds again later, after more messages, opens anew.
func (cv *Conversation) item() string {
	if cv.ID == "" {
		return ""
	}
	return "conversation:" + cv.ID + "\x00" + strconv.Itoa(cv.First+len(cv.Messages))
}

// Conversation runs the conversation rules over a conversation's risk and
// carries out the actions. It returns nil when the service has no rules.
func (s *Service) Conversation(ctx context.Context, cv Conversation) *vigil.Outcome {
	s.Checked.Add(CheckedConversation)
	e, err := s.engine(ctx)
	if err != nil {
		s.logger().Error("load rules", "err", err)
		return &vigil.Outcome{Rules: []vigil.FiredRule{}, Errors: []string{"rules could not be loaded"}}
	}
	if e == nil {
		return nil
	}
	o := e.ConversationChange(cv.Prev, cv.Risk)
	p := s.newPlan(o)
	ref := cv.Ref
	ref.ContentID = cv.ID
	risk := cv.Risk
	if cases := o.Cases(); len(cases) > 0 {
		if s.Cases == nil {
			p.fail(cases[0].Rule.Name, "open case", errNoReview)
		} else {
			evidence := caseConversation(cv.ID, risk, cv.Messages, cv.First)
			for _, f := range cases {
				p.openCase(ctx, f, &vigil.Case{Kind: vigil.CaseKindConversation, Content: ref, Conversation: evidence}, cv.item(), nil) // a conversation rule never acts automatically
			}
		}
	}
	p.notify(ctx, o, func(rules.Fired) ruleEvent {
		return ruleEvent{Content: ref, Risk: &conversationEventRisk{ConversationID: cv.ID, Score: risk.Score, Level: string(risk.Level), Suspect: risk.Suspect}}
	})
	return p.out
}

// caseConversation is the evidence of a conversation case: the scored
// messages, each with the families of the indicators it raised.
func caseConversation(id string, risk grooming.Risk, msgs []grooming.Message, first int) *vigil.CaseConversation {
	tags := map[int][]string{}
	for _, ind := range risk.Indicators {
		for _, m := range ind.Messages {
			tags[m] = append(tags[m], ind.Family.String())
		}
	}
	if risk.Disclosure != nil {
		for _, m := range risk.Disclosure.Messages {
			tags[m] = append(tags[m], "victim_disclosure")
		}
	}
	cv := &vigil.CaseConversation{ConversationID: id, Score: risk.Score, Suspect: risk.Suspect,
		Language: risk.Language, Languages: risk.Languages, Unsupported: risk.Unsupported, Sextortion: risk.Sextortion}
	if risk.Disclosure != nil {
		cv.DisclosedBy = risk.Disclosure.Victim
	}
	start := max(0, len(msgs)-vigil.MaxCaseMessages) // the latest, should a request hold more
	for i, m := range msgs[start:] {
		idx := first + start + i
		text := m.Text
		if len(text) > vigil.MaxCaseTextLen {
			text = strings.ToValidUTF8(text[:vigil.MaxCaseTextLen], "")
		}
		cv.Messages = append(cv.Messages, vigil.CaseMessage{Index: idx, Speaker: m.From, Text: text, Time: m.Time, Indicators: tags[idx]})
	}
	return cv
}
