// Package respond is what Vigil does with a detection: it runs the rules
// over the matches of a piece of content or the risk of a conversation,
// opens cases for review (keeping the content's media for them), sends the
// rules' webhook events and returns the automatic actions; and it records
// reviewers' decisions on those cases and publishes the confirmed ones.
//
// Every entry point calls it: the JSON API (http), background content jobs
// (jobs), the retroactive matcher and `vigil scan`. Acting is idempotent
// (one case per item and queue, one event id per rule, webhook and item)
// and durable: an action that fails for a passing reason is queued on a
// vigil.ActionQueue and retried until it lands.
package respond

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/rules"
)

// DefaultCaseRetention is how long a case opened by a rule keeps its
// evidence and media when the service sets no CaseRetention.
const DefaultCaseRetention = 90 * 24 * time.Hour

// Service acts on detections and decisions. Set its fields before first
// use; the zero value of each optional field turns its part off.
type Service struct {
	Rules    vigil.RuleService // what to do with matches and risks; nil: nothing is done
	Cases    vigil.CaseService // review queues and cases; nil: no review
	Media    vigil.MediaStore  // encrypted media kept for review; nil: none kept
	Notifier vigil.Notifier    // webhook delivery; nil: no webhooks
	// Banks and Entries take confirmed content written back to a bank
	// (WriteBack); nil: no write-back.
	Banks   vigil.BankService
	Entries vigil.EntryService
	// Queue retries actions that failed for a passing reason; nil: such
	// failures are reported like any other.
	Queue vigil.ActionQueue
	// CaseRetention is how long a case opened by a rule keeps its evidence
	// and media; 0 means DefaultCaseRetention.
	CaseRetention time.Duration
	// Checked counts the items checked (Content, Conversation), for the
	// transparency figures; nil: not counted.
	Checked *CheckCounter
	// AutoActions records the automatic actions taken on content on the
	// case opened for it, so that their notice falls due from the action
	// (Notices) and a complaint can name them; nil: not recorded.
	AutoActions vigil.NoticeService
	Logger      *slog.Logger     // nil: discard
	Now         func() time.Time // nil: time.Now

	ruleSet   ruleCache
	mu        sync.Mutex
	confirmed []func(context.Context, vigil.CaseConfirmed) error
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// errNoReview is the failure of a case action on a service without a case
// store.
var errNoReview = vigil.Errorf(vigil.EUNSUPPORTED, "this server has no review store")

// ruleCacheTTL bounds how long a rule change made by another process (a
// restart of another replica with a new rules file) takes to apply here;
// changes through this process apply at once (see ForgetRules).
const ruleCacheTTL = 10 * time.Second

// ruleCache holds the engine built from the stored rules, so that acting
// does not read the rules table on every detection.
type ruleCache struct {
	mu      sync.Mutex
	engine  *rules.Engine
	expires time.Time
}

// engine returns the engine over the stored rules, or nil without a rule
// store.
func (s *Service) engine(ctx context.Context) (*rules.Engine, error) {
	if s.Rules == nil {
		return nil, nil
	}
	c := &s.ruleSet
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.engine != nil && now.Before(c.expires) {
		return c.engine, nil
	}
	rs, err := s.Rules.ListRules(ctx)
	if err != nil {
		return nil, err
	}
	c.engine, c.expires = rules.New(rs), now.Add(ruleCacheTTL)
	return c.engine, nil
}

// ForgetRules makes the next detection read the rules again: call it after
// changing them.
func (s *Service) ForgetRules() {
	s.ruleSet.mu.Lock()
	s.ruleSet.engine = nil
	s.ruleSet.mu.Unlock()
}

// ruleEvent is the data of a rule.matched webhook event.
type ruleEvent struct {
	Rule    string                  `json:"rule"`
	Action  string                  `json:"action"`
	Auto    string                  `json:"auto,omitempty"`
	Content vigil.ContentRef        `json:"content"`
	Matches []vigil.Match           `json:"matches,omitempty"`
	Scores  []vigil.ClassifierScore `json:"scores,omitempty"`
	Sources []string                `json:"sources,omitempty"`
	Risk    *conversationEventRisk  `json:"risk,omitempty"`
	CaseID  int64                   `json:"case_id,omitempty"`
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

// contentItem names a piece of content for case keys: its digest and the
// platform's ids for it, or "" when it has no digest (signals only), which
// leaves its cases unkeyed.
func contentItem(ref vigil.ContentRef) string {
	if ref.SHA256 == "" {
		return ""
	}
	return "sha256:" + strings.ToLower(ref.SHA256) + "\x00" + ref.ContentID + "\x00" + ref.UserID
}

// caseKey is the Key of the case for item in queue: one case per item and
// queue, whichever rule of the queue won and whoever acts twice. "" for an
// unknown item.
func caseKey(item, queue string) string {
	if item == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(item + "\x00" + queue))
	return "case_" + hex.EncodeToString(sum[:16])
}

// plan is what the rules decided for one detection, being carried out.
type plan struct {
	s    *Service
	out  *vigil.Outcome
	byID map[string]int // rule name → index in out.Rules
}

// newPlan records the outcome's rules in the result.
func (s *Service) newPlan(o rules.Outcome) *plan {
	p := &plan{s: s, out: &vigil.Outcome{Rules: []vigil.FiredRule{}, Vetoed: o.Vetoed}, byID: map[string]int{}}
	for _, f := range o.Fired {
		a := f.Rule.Action
		p.byID[f.Rule.Name] = len(p.out.Rules)
		p.out.Rules = append(p.out.Rules, vigil.FiredRule{Name: f.Rule.Name, Action: a.Type, Queue: a.Queue, Webhook: a.Webhook, Auto: a.Auto, Sources: f.Sources})
		if a.Type == vigil.ActionAuto && !o.Vetoed && !slices.Contains(p.out.Auto, a.Auto) {
			p.out.Auto = append(p.out.Auto, a.Auto)
		}
	}
	return p
}

// fail records an action that could not be carried out: logged in full,
// reported to the caller in caller-safe words.
func (p *plan) fail(rule, what string, err error) {
	p.s.logger().Error("rule action failed", "rule", rule, "action", what, "err", err)
	p.out.Errors = append(p.out.Errors, rule+": "+what+": "+vigil.ErrorMessage(err))
}

// retry queues a for another attempt if err may pass (an internal error:
// the store busy, a disk full) and the service has a queue; otherwise, or
// if queueing fails too, it records the failure.
func (p *plan) retry(ctx context.Context, what string, err error, a *vigil.Action) {
	if p.s.Queue == nil || vigil.ErrorCode(err) != vigil.EINTERNAL {
		p.fail(a.Rule, what, err)
		return
	}
	// The caller may be gone (a client that hung up); the action is not.
	if qerr := p.s.Queue.QueueAction(context.WithoutCancel(ctx), a); qerr != nil {
		p.s.logger().Error("queue rule action for retry", "rule", a.Rule, "action", what, "err", qerr)
		p.fail(a.Rule, what, err)
		return
	}
	p.s.logger().Warn("rule action failed; queued for retry", "rule", a.Rule, "action", what, "err", err)
	p.out.Queued = append(p.out.Queued, a.Rule+": "+what)
}

// openCase opens c for the fired rule f, keyed by item and the queue.
// auto, if not nil, is the automatic action c is to be the record of: if
// the case is queued for retry, the action goes with it.
func (p *plan) openCase(ctx context.Context, f rules.Fired, c *vigil.Case, item string, auto *vigil.AutoAction) {
	retention := p.s.CaseRetention
	if retention <= 0 {
		retention = DefaultCaseRetention
	}
	c.Queue, c.Priority, c.Rule = f.Rule.Action.Queue, f.Rule.Action.Priority, f.Rule.Name
	c.RetainUntil = p.s.now().UTC().Add(retention)
	c.Key = caseKey(item, c.Queue)
	actor := "rule:" + f.Rule.Name
	if err := p.s.Cases.OpenCase(ctx, c, actor); err != nil {
		p.retry(ctx, "open case", err, &vigil.Action{Kind: vigil.ActionKindOpenCase, Rule: f.Rule.Name, Case: c, CaseKey: c.Key, Actor: actor, Auto: auto})
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
		e := vigil.Event{ID: ev.id(a.Webhook), Type: vigil.EventRuleMatched, Data: b}
		if err := p.s.Notifier.Notify(ctx, a.Webhook, e); err != nil {
			p.retry(ctx, "webhook "+a.Webhook, err, &vigil.Action{Kind: vigil.ActionKindNotify, Rule: f.Rule.Name, Webhook: a.Webhook, Event: &e})
		}
	}
}

// Match runs the match rules over the match results of one piece of
// content and carries out their actions. ref holds the content's digest
// and the platform's ids for it; media reads the content, kept in the
// media store only if a case opens (nil for signals only). It returns nil
// when the service has no rules.
func (s *Service) Match(ctx context.Context, ref vigil.ContentRef, results []vigil.MatchResult, media func() ([]byte, error)) *vigil.Outcome {
	return s.Content(ctx, ref, results, nil, media)
}

// Classifies reports whether any enabled rule acts on classifier scores,
// so that an entry point skips classifying content no rule would act on.
func (s *Service) Classifies(ctx context.Context) bool {
	e, err := s.engine(ctx)
	return err == nil && e != nil && e.Classifies()
}

// Content is Match for content that classifiers scored too: the match
// rules and the classifier rules run as one detection, so that a veto of
// either kind stops both and a queue gets one case, holding the content's
// matches and scores whichever rule won it. A classifier rule's case is a
// CaseKindClassifier case. scores may be nil (no classifier answered).
func (s *Service) Content(ctx context.Context, ref vigil.ContentRef, results []vigil.MatchResult, scores []vigil.ClassifierScore, media func() ([]byte, error)) *vigil.Outcome {
	s.Checked.Add(CheckedKind(ref))
	return s.content(ctx, ref, results, scores, media)
}

// content is Content without counting the item as checked: retroactive
// matches are content checked before.
func (s *Service) content(ctx context.Context, ref vigil.ContentRef, results []vigil.MatchResult, scores []vigil.ClassifierScore, media func() ([]byte, error)) *vigil.Outcome {
	e, err := s.engine(ctx)
	if err != nil {
		s.logger().Error("load rules", "err", err)
		return &vigil.Outcome{Rules: []vigil.FiredRule{}, Errors: []string{"rules could not be loaded"}}
	}
	if e == nil {
		return nil
	}
	o := e.Content(results, scores)
	p := s.newPlan(o)
	caseScores := boundScores(scores)
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
			held := false // whether a case holds (or a queued one will hold) the media just kept
			byQueue := map[string]int64{}
			auto := s.pendingAuto(p, o)
			autoQueued := false // whether auto went with its case, queued for retry
			defer func() {
				if !autoQueued {
					s.recordAuto(ctx, p, o, byQueue)
				}
			}()
			for _, f := range cases {
				// Evidence is bounded; a case needs the strongest, not all.
				ms := f.Matches
				if len(ms) > vigil.MaxCaseMatches {
					ms = slices.Clone(ms)
					slices.SortStableFunc(ms, func(a, b vigil.Match) int { return a.Distance - b.Distance })
					ms = ms[:vigil.MaxCaseMatches]
				}
				c := &vigil.Case{Kind: vigil.CaseKindMatch, Content: ref, Matches: ms, Scores: caseScores}
				if f.Rule.When.Kind == vigil.CaseKindClassifier {
					c.Kind, c.Matches = vigil.CaseKindClassifier, nil
				}
				queued := len(p.out.Queued)
				var a *vigil.AutoAction
				if auto != nil && f.Rule.Action.Queue == auto.queue {
					a = &auto.AutoAction
				}
				p.openCase(ctx, f, c, contentItem(ref), a)
				held = held || c.ID != 0 && c.Content.MediaID == ref.MediaID || len(p.out.Queued) > queued
				autoQueued = autoQueued || a != nil && c.ID == 0 && len(p.out.Queued) > queued
				if c.ID != 0 {
					byQueue[c.Queue] = c.ID
				}
			}
			if ref.MediaID != "" && !held {
				// No case holds the media (none opened, or each was open
				// already with its own copy): do not keep it.
				if err := s.Media.Delete(ctx, ref.MediaID); err != nil {
					s.logger().Error("delete media of unopened case", "media_id", ref.MediaID, "err", err)
				}
			}
		}
	}
	evRef := ref
	evRef.MediaID = "" // the platform has no use for the media store's id
	p.notify(ctx, o, func(f rules.Fired) ruleEvent {
		return ruleEvent{Content: evRef, Matches: f.Matches, Sources: f.Sources, Scores: f.Scores}
	})
	return p.out
}

// boundScores returns at most vigil.MaxCaseScores of scores, the highest:
// a case's evidence is bounded, and a reviewer needs the strongest.
func boundScores(scores []vigil.ClassifierScore) []vigil.ClassifierScore {
	if len(scores) <= vigil.MaxCaseScores {
		return scores
	}
	out := slices.Clone(scores)
	slices.SortStableFunc(out, func(a, b vigil.ClassifierScore) int { return cmp.Compare(b.Score, a.Score) })
	return out[:vigil.MaxCaseScores]
}

// keepMedia puts the content media reads in the media store and records
// it in ref.
func (s *Service) keepMedia(ctx context.Context, ref *vigil.ContentRef, media func() ([]byte, error)) error {
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

// Rematches runs the match rules over retroactive matches (entries added
// after the content was seen; see matcher.OnRematch), content by content,
// and carries out their actions. The content itself was never kept, so
// the cases opened hold its digest and the matches, no media. Failed
// actions are logged (and queued, where a retry may help); they do not
// fail the matcher's refresh.
func (s *Service) Rematches(ctx context.Context, found []*vigil.Rematch) error {
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
		out := s.content(ctx, vigil.ContentRef{SHA256: content}, results, nil, nil)
		if out != nil && len(out.Cases) > 0 {
			s.logger().Info("retroactive match opened cases", "content_sha256", content, "cases", out.Cases)
		}
	}
	return nil
}

// queuedAuto is the automatic action of a detection before its case is
// known, and the queue of that case.
type queuedAuto struct {
	vigil.AutoAction
	queue string
}

// pendingAuto returns the outcome's automatic action, to be recorded on
// the case of the first auto rule's queue, or nil when none is taken.
func (s *Service) pendingAuto(p *plan, o rules.Outcome) *queuedAuto {
	if s.AutoActions == nil || len(p.out.Auto) == 0 {
		return nil
	}
	for _, f := range o.Fired {
		if f.Rule.Action.Type == vigil.ActionAuto {
			return &queuedAuto{AutoAction: vigil.AutoAction{Rule: f.Rule.Name, Actions: p.out.Auto, TakenAt: s.now().UTC()}, queue: f.Rule.Action.Queue}
		}
	}
	return nil
}

// recordAuto records the outcome's automatic actions on the case they are
// about: the case in the queue of the first auto rule whose case opened
// (every auto rule names a queue: vigil.RuleAction), else the first case
// opened for the content. It is not called when the first auto rule's
// case was queued for retry: the action went with it (vigil.Action.Auto).
// An action with no case (each opening failed for good) has no durable
// reference: it is logged, and gets no notice.
func (s *Service) recordAuto(ctx context.Context, p *plan, o rules.Outcome, byQueue map[string]int64) {
	if s.AutoActions == nil || len(p.out.Auto) == 0 {
		return
	}
	var rule string
	var caseID int64
	for _, f := range o.Fired {
		if f.Rule.Action.Type != vigil.ActionAuto {
			continue
		}
		if rule == "" {
			rule = f.Rule.Name
		}
		if id := byQueue[f.Rule.Action.Queue]; id != 0 {
			rule, caseID = f.Rule.Name, id
			break
		}
	}
	if caseID == 0 && len(p.out.Cases) > 0 {
		caseID = p.out.Cases[0]
	}
	if caseID == 0 {
		s.logger().Warn("automatic action without a case: no notice will be due for it", "rule", rule, "auto", p.out.Auto)
		return
	}
	a := &vigil.AutoAction{CaseID: caseID, Rule: rule, Actions: p.out.Auto, TakenAt: s.now().UTC()}
	if err := s.AutoActions.RecordAutoAction(context.WithoutCancel(ctx), a); err != nil {
		p.fail(rule, "record automatic action", err)
	}
}
