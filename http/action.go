package http

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/grooming"
	"github.com/vigil-oss/vigil/rules"
)

// DefaultCaseRetention is how long a case opened by a rule keeps its
// evidence and media when the server sets no CaseRetention.
const DefaultCaseRetention = 90 * 24 * time.Hour

// Platform ids that a caller may attach to content or a conversation, as
// the query parameters user_id and content_id: they go into the cases and
// webhook events the rules make, so that the platform can act on them.
const maxPlatformIDLen = vigil.MaxEntryFieldLen

// actionsResponse tells the caller what the rules did.
type actionsResponse struct {
	// Rules lists the rules that fired, by name.
	Rules []firedRule `json:"rules"`
	// Cases are the ids of the cases opened for review.
	Cases []int64 `json:"cases,omitempty"`
	// Auto lists the automatic actions (block, …) the caller should take
	// now; only corroborated rules give them.
	Auto []string `json:"auto,omitempty"`
	// Vetoed says a rule whose action is none fired, so that no other rule
	// acted.
	Vetoed bool `json:"vetoed,omitempty"`
	// Errors says which actions could not be carried out (a queue deleted,
	// a webhook not configured); the rest were.
	Errors []string `json:"errors,omitempty"`
}

// firedRule is one rule that fired and what it did.
type firedRule struct {
	Name    string   `json:"name"`
	Action  string   `json:"action"`
	Queue   string   `json:"queue,omitempty"`
	Webhook string   `json:"webhook,omitempty"`
	Auto    string   `json:"auto,omitempty"`
	Sources []string `json:"sources,omitempty"` // the corroborating sources
	CaseID  int64    `json:"case_id,omitempty"` // the case it opened; 0 if another rule's case in the same queue won
}

// ruleEvent is the data of a rule.matched webhook event.
type ruleEvent struct {
	Rule    string                 `json:"rule"`
	Action  string                 `json:"action"`
	Auto    string                 `json:"auto,omitempty"`
	Content vigil.ContentRef       `json:"content"`
	Matches []vigil.Match          `json:"matches,omitempty"`
	Sources []string               `json:"sources,omitempty"`
	Risk    *conversationEventRisk `json:"risk,omitempty"`
	CaseID  int64                  `json:"case_id,omitempty"`
}

// id returns the event's id: the same for the same rule, webhook and item
// (content and the platform's ids for it, or a conversation), so that a
// receiver can drop the repeat when a job is retried or a client resends a
// request. Signals without a known item get a fresh id from the notifier.
func (e *ruleEvent) id(webhook string) string {
	var item string
	switch {
	case e.Risk != nil:
		item = "conversation:" + e.Risk.ConversationID
	case e.Content.SHA256 != "":
		item = "sha256:" + e.Content.SHA256 + "\x00" + e.Content.ContentID + "\x00" + e.Content.UserID
	default:
		return ""
	}
	sum := sha256.Sum256([]byte(e.Rule + "\x00" + webhook + "\x00" + item))
	return "evt_" + hex.EncodeToString(sum[:16])
}

// conversationEventRisk is what a webhook hears of a conversation: its id
// and risk, never the messages' text.
type conversationEventRisk struct {
	ConversationID string  `json:"conversation_id"`
	Score          float64 `json:"score"`
	Level          string  `json:"level"`
	Suspect        string  `json:"suspect,omitempty"`
}

// platformIDs reads the optional user_id and content_id query parameters.
func platformIDs(r *http.Request) (vigil.ContentRef, error) {
	q := r.URL.Query()
	ref := vigil.ContentRef{UserID: q.Get("user_id"), ContentID: q.Get("content_id")}
	return ref, checkPlatformIDs(ref)
}

// checkPlatformIDs checks the platform's ids in ref, from the query or a
// JSON body.
func checkPlatformIDs(ref vigil.ContentRef) error {
	for _, v := range []string{ref.UserID, ref.ContentID} {
		if len(v) > maxPlatformIDLen || !printableID(v) {
			return badRequest("user_id and content_id must be at most %d printable characters", maxPlatformIDLen)
		}
	}
	return nil
}

func printableID(s string) bool {
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == 0xfffd {
			return false
		}
	}
	return true
}

// contentSHA256 returns the SHA-256 among signals, if any.
func contentSHA256(sigs []vigil.Signal) string {
	for _, sg := range sigs {
		if sg.Type == vigil.SignalSHA256 {
			return sg.Value
		}
	}
	return ""
}

// plan is what the rules decided for one piece of content or one
// conversation, being carried out.
type plan struct {
	s    *Server
	out  *actionsResponse
	byID map[string]int // rule name → index in out.Rules
}

// newPlan records the outcome's rules in the response.
func (s *Server) newPlan(o rules.Outcome) *plan {
	p := &plan{s: s, out: &actionsResponse{Rules: []firedRule{}, Vetoed: o.Vetoed}, byID: map[string]int{}}
	for _, f := range o.Fired {
		a := f.Rule.Action
		p.byID[f.Rule.Name] = len(p.out.Rules)
		p.out.Rules = append(p.out.Rules, firedRule{Name: f.Rule.Name, Action: a.Type, Queue: a.Queue, Webhook: a.Webhook, Auto: a.Auto, Sources: f.Sources})
		if a.Type == vigil.ActionAuto && !o.Vetoed && !slices.Contains(p.out.Auto, a.Auto) {
			p.out.Auto = append(p.out.Auto, a.Auto)
		}
	}
	return p
}

// fail records an action that could not be carried out: logged in full,
// reported to the caller in caller-safe words.
func (p *plan) fail(rule, what string, err error) {
	p.s.Logger.Error("rule action failed", "rule", rule, "action", what, "err", err)
	p.out.Errors = append(p.out.Errors, rule+": "+what+": "+vigil.ErrorMessage(err))
}

// openCase opens c for the fired rule f.
func (p *plan) openCase(ctx context.Context, f rules.Fired, c *vigil.Case) {
	retention := p.s.CaseRetention
	if retention <= 0 {
		retention = DefaultCaseRetention
	}
	c.Queue, c.Priority, c.Rule = f.Rule.Action.Queue, f.Rule.Action.Priority, f.Rule.Name
	c.RetainUntil = time.Now().UTC().Add(retention)
	if err := p.s.Cases.OpenCase(ctx, c, "rule:"+f.Rule.Name); err != nil {
		p.fail(f.Rule.Name, "open case", err)
		return
	}
	p.out.Cases = append(p.out.Cases, c.ID)
	p.out.Rules[p.byID[f.Rule.Name]].CaseID = c.ID
}

// notify sends the rule.matched events of the webhook and auto rules that
// fired.
func (p *plan) notify(ctx context.Context, o rules.Outcome, data func(f rules.Fired) ruleEvent) {
	if o.Vetoed {
		return
	}
	for _, f := range o.Fired {
		a := f.Rule.Action
		if a.Webhook == "" {
			continue
		}
		if p.s.Notifier == nil {
			p.fail(f.Rule.Name, "webhook "+a.Webhook, vigil.Errorf(vigil.EUNSUPPORTED, "this server sends no webhooks"))
			continue
		}
		ev := data(f)
		ev.Rule, ev.Action, ev.Auto = f.Rule.Name, a.Type, a.Auto
		ev.CaseID = p.out.Rules[p.byID[f.Rule.Name]].CaseID
		b, err := json.Marshal(ev)
		if err != nil {
			p.fail(f.Rule.Name, "webhook "+a.Webhook, err)
			continue
		}
		if err := p.s.Notifier.Notify(ctx, a.Webhook, vigil.Event{ID: ev.id(a.Webhook), Type: vigil.EventRuleMatched, Data: b}); err != nil {
			p.fail(f.Rule.Name, "webhook "+a.Webhook, err)
		}
	}
}

// actOnMatch runs the rules over the match results of one piece of
// content and carries out their actions. media reads the uploaded
// content, kept in the media store only if a case opens (nil for signals
// only). It returns nil when the server has no rules.
func (s *Server) actOnMatch(ctx context.Context, results []vigil.MatchResult, ref vigil.ContentRef, media func() ([]byte, error)) *actionsResponse {
	e, err := s.ruleEngine(ctx)
	if err != nil {
		s.Logger.Error("load rules", "err", err)
		return &actionsResponse{Rules: []firedRule{}, Errors: []string{"rules could not be loaded"}}
	}
	if e == nil {
		return nil
	}
	o := e.Match(results)
	p := s.newPlan(o)
	if cases := o.Cases(); len(cases) > 0 {
		if s.Cases == nil {
			p.fail(cases[0].Rule.Name, "open case", errNoReview)
		} else {
			if media != nil && s.Media != nil {
				// Media is kept only now that a case needs it, once for
				// all of the content's cases.
				if err := s.keepMedia(ctx, &ref, media); err != nil {
					p.fail(cases[0].Rule.Name, "keep media", err)
				}
			}
			for _, f := range cases {
				// Evidence is bounded; a case needs the strongest, not all.
				ms := f.Matches
				if len(ms) > vigil.MaxCaseMatches {
					ms = slices.Clone(ms)
					slices.SortStableFunc(ms, func(a, b vigil.Match) int { return a.Distance - b.Distance })
					ms = ms[:vigil.MaxCaseMatches]
				}
				p.openCase(ctx, f, &vigil.Case{Kind: vigil.CaseKindMatch, Content: ref, Matches: ms})
			}
			if ref.MediaID != "" && len(p.out.Cases) == 0 {
				// No case holds the media: do not keep it.
				if err := s.Media.Delete(ctx, ref.MediaID); err != nil {
					s.Logger.Error("delete media of unopened case", "media_id", ref.MediaID, "err", err)
				}
			}
		}
	}
	evRef := ref
	evRef.MediaID = "" // the platform has no use for the media store's id
	p.notify(ctx, o, func(f rules.Fired) ruleEvent {
		return ruleEvent{Content: evRef, Matches: f.Matches, Sources: f.Sources}
	})
	return p.out
}

// keepMedia puts the content media reads in the media store and records
// it in ref.
func (s *Server) keepMedia(ctx context.Context, ref *vigil.ContentRef, media func() ([]byte, error)) error {
	data, err := media()
	if err != nil || len(data) == 0 {
		return err
	}
	id, err := s.Media.Put(ctx, data)
	if err != nil {
		return err
	}
	ref.MediaID, ref.MediaType = id, http.DetectContentType(data)
	return nil
}

// actOnConversation runs the conversation rules over a conversation's
// risk and carries out the actions. prev is the risk before msgs (nil for
// a new or a one-off conversation): a rule that already held then does not
// act again. msgs are the messages scored in this request, the first of
// them at index first of the conversation; the cases opened hold them,
// with the indicators each raised. ref holds the platform's ids from the
// request (see platformIDs); its content id becomes convID.
func (s *Server) actOnConversation(ctx context.Context, ref vigil.ContentRef, convID string, prev *grooming.Risk, risk grooming.Risk, msgs []grooming.Message, first int) *actionsResponse {
	e, err := s.ruleEngine(ctx)
	if err != nil {
		s.Logger.Error("load rules", "err", err)
		return &actionsResponse{Rules: []firedRule{}, Errors: []string{"rules could not be loaded"}}
	}
	if e == nil {
		return nil
	}
	o := e.ConversationChange(prev, risk)
	p := s.newPlan(o)
	ref.ContentID = convID
	if cases := o.Cases(); len(cases) > 0 {
		if s.Cases == nil {
			p.fail(cases[0].Rule.Name, "open case", errNoReview)
		} else {
			cv := caseConversation(convID, risk, msgs, first)
			for _, f := range cases {
				p.openCase(ctx, f, &vigil.Case{Kind: vigil.CaseKindConversation, Content: ref, Conversation: cv})
			}
		}
	}
	p.notify(ctx, o, func(rules.Fired) ruleEvent {
		return ruleEvent{Content: ref, Risk: &conversationEventRisk{ConversationID: convID, Score: risk.Score, Level: string(risk.Level), Suspect: risk.Suspect}}
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
	cv := &vigil.CaseConversation{ConversationID: id, Score: risk.Score, Suspect: risk.Suspect}
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

// ActOnRematches runs the match rules over retroactive matches (entries
// added after the content was seen; see matcher.OnRematch), content by
// content, and carries out their actions. The content itself was never
// kept, so the cases opened hold its digest and the matches, no media.
// Failed actions are logged; they do not fail the matcher's refresh.
func (s *Server) ActOnRematches(ctx context.Context, found []*vigil.Rematch) error {
	var order []string
	byContent := map[string][]vigil.Match{}
	for _, rm := range found {
		if byContent[rm.ContentSHA256] == nil {
			order = append(order, rm.ContentSHA256)
		}
		byContent[rm.ContentSHA256] = append(byContent[rm.ContentSHA256], rm.Match)
	}
	for _, content := range order {
		results := []vigil.MatchResult{{Matches: byContent[content]}}
		out := s.actOnMatch(ctx, results, vigil.ContentRef{SHA256: content}, nil)
		if out != nil && len(out.Cases) > 0 {
			s.Logger.Info("retroactive match opened cases", "content_sha256", content, "cases", out.Cases)
		}
	}
	return nil
}

// ActOnContent runs the match rules over the results of a background
// content job (see jobs.Client.OnContent) and carries out their actions;
// media reads the spooled upload, for a case that keeps it. It returns
// what the rules did, for the job's result, or nil on a server without
// rules. ref holds the content's digest and the platform's ids given with
// the job.
func (s *Server) ActOnContent(ctx context.Context, ref vigil.ContentRef, results []vigil.MatchResult, media func() ([]byte, error)) any {
	out := s.actOnMatch(ctx, results, ref, media)
	if out == nil {
		return nil // not a nil *actionsResponse, which would encode as null
	}
	return out
}
