package respond_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/grooming"
	"github.com/vigil-oss/vigil/respond"
	"github.com/vigil-oss/vigil/sqlite"
)

// fixture is a response service on a fresh store with a queue "q", a bank
// with one entry and the rules given.
type fixture struct {
	svc   *respond.Service
	cases *sqlite.CaseService
	media *memMedia
	queue *memQueue
	entry *vigil.Entry
}

func newFixture(tb testing.TB, rules ...*vigil.Rule) *fixture {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, tb.TempDir(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	cases, ruleStore := sqlite.NewCaseService(db), sqlite.NewRuleService(db)
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "q", Roles: []vigil.Role{vigil.RoleReviewer}}); err != nil {
		tb.Fatal(err)
	}
	for _, r := range rules {
		r.Enabled, r.Source, r.UpdatedBy = true, vigil.RuleSourceAPI, "test"
		if err := ruleStore.CreateRule(ctx, r); err != nil {
			tb.Fatal(err)
		}
	}
	b := &vigil.Bank{Name: "b", Enabled: true}
	if err := sqlite.NewBankService(db).CreateBank(ctx, b); err != nil {
		tb.Fatal(err)
	}
	e := &vigil.Entry{SignalType: vigil.SignalSHA256, Value: strings.Repeat("ab", 32), Source: "test"}
	if _, err := sqlite.NewEntryService(db).AddEntries(ctx, b.ID, "test", []*vigil.Entry{e}); err != nil {
		tb.Fatal(err)
	}
	f := &fixture{cases: cases, media: &memMedia{blobs: map[string][]byte{}}, queue: &memQueue{}, entry: e}
	f.svc = &respond.Service{Rules: ruleStore, Cases: cases, Media: f.media, Queue: f.queue}
	return f
}

// results is a match of the fixture's entry.
func (f *fixture) results() []vigil.MatchResult {
	m := vigil.Match{BankID: f.entry.BankID, Bank: "b", EntryID: f.entry.ID, SignalType: f.entry.SignalType, Value: f.entry.Value, Source: "test"}
	return []vigil.MatchResult{{Signal: vigil.Signal{Type: vigil.SignalSHA256, Value: f.entry.Value}, Matches: []vigil.Match{m}}}
}

func caseRule() *vigil.Rule {
	return &vigil.Rule{Name: "review", When: vigil.RuleConditions{Kind: "match"}, Action: vigil.RuleAction{Type: vigil.ActionCase, Queue: "q"}}
}

func webhookRule() *vigil.Rule {
	return &vigil.Rule{Name: "tell", When: vigil.RuleConditions{Kind: "match"}, Action: vigil.RuleAction{Type: vigil.ActionWebhook, Webhook: "platform"}}
}

type memMedia struct {
	mu    sync.Mutex
	blobs map[string][]byte
	puts  int
}

func (m *memMedia) Put(ctx context.Context, data []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	id := fmt.Sprintf("blob-%d", m.puts)
	m.blobs[id] = data
	return id, nil
}

func (m *memMedia) Get(ctx context.Context, id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.blobs[id], nil
}

func (m *memMedia) Delete(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.blobs, id)
	return nil
}

// memQueue keeps queued actions for the test to carry out.
type memQueue struct {
	mu      sync.Mutex
	actions []*vigil.Action
}

func (q *memQueue) QueueAction(ctx context.Context, a *vigil.Action) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.actions = append(q.actions, a)
	return nil
}

// failingNotifier fails its first fails calls with err, then records.
type failingNotifier struct {
	fails  int
	err    error
	events []vigil.Event
}

func (n *failingNotifier) Notify(ctx context.Context, webhook string, ev vigil.Event) error {
	if n.fails > 0 {
		n.fails--
		return n.err
	}
	n.events = append(n.events, ev)
	return nil
}

func TestMatchTwiceOneCase(t *testing.T) {
	f := newFixture(t, caseRule())
	ctx := context.Background()
	ref := vigil.ContentRef{SHA256: strings.Repeat("AB", 32), ContentID: "post-1"}
	media := func() ([]byte, error) { return []byte("benign bytes"), nil }
	first := f.svc.Match(ctx, ref, f.results(), media)
	// The same item with its digest in lower case is the same item.
	ref.SHA256 = strings.ToLower(ref.SHA256)
	again := f.svc.Match(ctx, ref, f.results(), media)
	if len(first.Cases) != 1 || len(again.Cases) != 1 || again.Cases[0] != first.Cases[0] || again.Rules[0].CaseID != first.Cases[0] {
		t.Fatalf("outcomes %+v then %+v, want one case", first, again)
	}
	if f.media.puts != 2 || len(f.media.blobs) != 1 {
		t.Errorf("media put %d, kept %d: want the repeat's copy deleted", f.media.puts, len(f.media.blobs))
	}
	c, err := f.cases.FindCase(ctx, first.Cases[0])
	if err != nil || f.media.blobs[c.Content.MediaID] == nil {
		t.Errorf("case %+v lost its media: %v", c, err)
	}
}

func TestConversationCaseKey(t *testing.T) {
	rule := &vigil.Rule{Name: "flagged", When: vigil.RuleConditions{Kind: "conversation", Flagged: true},
		Action: vigil.RuleAction{Type: vigil.ActionCase, Queue: "q"}}
	f := newFixture(t, rule)
	ctx := context.Background()
	risk := grooming.Risk{Score: 0.9, Level: grooming.LevelHigh, Flagged: true}
	msgs := []grooming.Message{{From: "a", Text: "hello"}, {From: "b", Text: "hi"}}
	cv := respond.Conversation{ID: "c1", Risk: risk, Messages: msgs}
	first := f.svc.Conversation(ctx, cv)
	again := f.svc.Conversation(ctx, cv)
	if len(first.Cases) != 1 || len(again.Cases) != 1 || again.Cases[0] != first.Cases[0] {
		t.Fatalf("same point of a conversation: %+v then %+v, want one case", first.Cases, again.Cases)
	}
	// The rule holding again later in the conversation is a new detection.
	later := cv
	later.First, later.Messages = 2, msgs[:1]
	if out := f.svc.Conversation(ctx, later); len(out.Cases) != 1 || out.Cases[0] == first.Cases[0] {
		t.Fatalf("later point: %+v, want a new case", out.Cases)
	}
	// A conversation without an id has no item to key by.
	oneOff := cv
	oneOff.ID = ""
	a, b := f.svc.Conversation(ctx, oneOff), f.svc.Conversation(ctx, oneOff)
	if len(a.Cases) != 1 || len(b.Cases) != 1 || a.Cases[0] == b.Cases[0] {
		t.Fatalf("one-off conversations: %v and %v, want two cases", a.Cases, b.Cases)
	}
}

// busyCases fails OpenCase as a busy store would, once.
type busyCases struct {
	vigil.CaseService
	fails int
}

func (b *busyCases) OpenCase(ctx context.Context, c *vigil.Case, actor string) error {
	if b.fails > 0 {
		b.fails--
		return errors.New("database is locked")
	}
	return b.CaseService.OpenCase(ctx, c, actor)
}

func TestFailedActionsQueued(t *testing.T) {
	f := newFixture(t, caseRule(), webhookRule())
	ctx := context.Background()
	notes := &failingNotifier{fails: 1, err: errors.New("connection refused")}
	f.svc.Notifier = notes
	f.svc.Cases = &busyCases{CaseService: f.cases, fails: 1}
	ref := vigil.ContentRef{SHA256: strings.Repeat("ab", 32)}
	out := f.svc.Match(ctx, ref, f.results(), func() ([]byte, error) { return []byte("benign bytes"), nil })
	if len(out.Queued) != 2 || len(out.Errors) != 0 || len(out.Cases) != 0 {
		t.Fatalf("outcome %+v, want both actions queued", out)
	}
	if len(f.media.blobs) != 1 {
		t.Errorf("media of the queued case deleted")
	}
	for _, a := range f.queue.actions {
		if err := f.svc.Carry(ctx, a); err != nil {
			t.Fatalf("carry %+v: %v", a, err)
		}
	}
	// Carried twice (a retried job), still one case and one event id.
	for _, a := range f.queue.actions {
		if err := f.svc.Carry(ctx, a); err != nil {
			t.Fatalf("carry again %+v: %v", a, err)
		}
	}
	cs, err := f.cases.ListCases(ctx, vigil.CaseFilter{})
	if err != nil || len(cs) != 1 || cs[0].Content.MediaID == "" || f.media.blobs[cs[0].Content.MediaID] == nil {
		t.Fatalf("cases after the retries %+v %v, want one holding the media", cs, err)
	}
	if len(notes.events) != 2 || notes.events[0].ID == "" || notes.events[0].ID != notes.events[1].ID {
		t.Fatalf("events %+v, want one id twice", notes.events)
	}
	// The case is found now: acting again says so, and nothing is queued.
	again := f.svc.Match(ctx, ref, f.results(), nil)
	if len(again.Cases) != 1 || again.Cases[0] != cs[0].ID || len(again.Queued) != 0 {
		t.Fatalf("acting again %+v", again)
	}

	// What a retry cannot mend is reported, not queued.
	f.queue.actions = nil
	notes.fails, notes.err = 1, vigil.Errorf(vigil.ENOTFOUND, "webhook %q is not configured", "platform")
	if out := f.svc.Match(ctx, ref, f.results(), nil); len(out.Errors) != 1 || len(out.Queued) != 0 || len(f.queue.actions) != 0 {
		t.Fatalf("permanent failure: %+v", out)
	}
}

func TestDecidePublishesConfirmed(t *testing.T) {
	f := newFixture(t, caseRule())
	ctx := context.Background()
	var got []vigil.CaseConfirmed
	f.svc.OnConfirmed(func(ctx context.Context, ev vigil.CaseConfirmed) error {
		got = append(got, ev)
		return errors.New("a subscriber's failure does not undo the decision")
	})
	open := func(item string) int64 {
		out := f.svc.Match(ctx, vigil.ContentRef{SHA256: strings.Repeat("ab", 32), ContentID: item}, f.results(), nil)
		if len(out.Cases) != 1 {
			t.Fatalf("outcome %+v", out)
		}
		return out.Cases[0]
	}
	fp, ok := open("post-1"), open("post-2")
	if _, err := f.svc.Decide(ctx, fp, vigil.Decision{Verdict: vigil.VerdictFalsePositive, DecidedBy: "key:rev"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Decide(ctx, ok, vigil.Decision{Verdict: vigil.VerdictEscalate, DecidedBy: "key:rev"}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("published %+v before any confirmation", got)
	}
	c, err := f.svc.Decide(ctx, ok, vigil.Decision{Verdict: vigil.VerdictConfirmed, Category: "A1", DecidedBy: "key:senior"})
	if err != nil || c.State != vigil.CaseDecided {
		t.Fatalf("confirm: %+v %v", c, err)
	}
	if len(got) != 1 || got[0].Case.ID != ok || got[0].Decision.DecidedBy != "key:senior" || got[0].Decision.Category != "A1" {
		t.Fatalf("published %+v, want the confirmation of case %d", got, ok)
	}
	// Precision is counted in the decision's transaction, as before.
	st, err := f.cases.EntryStats(ctx, []int64{f.entry.ID})
	if err != nil || len(st) != 1 || st[0].Confirmed != 1 || st[0].FalsePositives != 1 {
		t.Fatalf("entry stats %+v %v", st, err)
	}
	if _, err := f.svc.Decide(ctx, ok, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "key:senior"}); vigil.ErrorCode(err) != vigil.ECONFLICT || len(got) != 1 {
		t.Fatalf("deciding twice: %v, %d published", err, len(got))
	}
	if _, err := f.svc.Decide(ctx, ok, vigil.Decision{Verdict: "maybe", DecidedBy: "key:senior"}); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Fatalf("bad verdict: %v", err)
	}
}

func TestNoRules(t *testing.T) {
	svc := &respond.Service{}
	if out := svc.Match(context.Background(), vigil.ContentRef{}, nil, nil); out != nil {
		t.Fatalf("no rule store: %+v, want nil", out)
	}
	if _, err := svc.Decide(context.Background(), 1, vigil.Decision{}); vigil.ErrorCode(err) != vigil.EUNSUPPORTED {
		t.Fatalf("decide without a case store: %v", err)
	}
}

// TestConversationCaseLanguage: the case evidence says which language the
// conversation was scored in, and whether the lexicons cover it.
func TestConversationCaseLanguage(t *testing.T) {
	rule := &vigil.Rule{Name: "flagged", When: vigil.RuleConditions{Kind: "conversation", Flagged: true},
		Action: vigil.RuleAction{Type: vigil.ActionCase, Queue: "q"}}
	f := newFixture(t, rule)
	ctx := context.Background()
	risk := grooming.Risk{Score: 0.9, Level: grooming.LevelHigh, Flagged: true, Language: "pl", Languages: []string{"en", "pl"}}
	out := f.svc.Conversation(ctx, respond.Conversation{ID: "c1", Risk: risk, Messages: []grooming.Message{{From: "a", Text: "cześć"}}})
	if len(out.Cases) != 1 {
		t.Fatalf("cases %v", out.Cases)
	}
	c, err := f.cases.FindCase(ctx, out.Cases[0])
	if err != nil {
		t.Fatal(err)
	}
	if cv := c.Conversation; cv == nil || cv.Language != "pl" || len(cv.Languages) != 2 || cv.Unsupported {
		t.Fatalf("case evidence %+v, want language pl of [en pl]", cv)
	}
}

// TestConversationDisclosureCase: a victim's disclosure opens a case under
// a disclosure rule that names the discloser as a possible victim, no
// suspect, and carries the sextortion marker and the disclosure messages.
func TestConversationDisclosureCase(t *testing.T) {
	rule := &vigil.Rule{Name: "disclosure", When: vigil.RuleConditions{Kind: "conversation", Disclosure: true},
		Action: vigil.RuleAction{Type: vigil.ActionCase, Queue: "q"}}
	f := newFixture(t, rule)
	ctx := context.Background()
	d := grooming.NewDetector(grooming.Options{})
	msgs := []grooming.Message{
		{From: "kid", Text: "mom i need help"},
		{From: "kid", Text: "someone says he'll send our chats to you and my school unless i pay him in gift cards"},
		{From: "mom", Text: "you did the right thing telling me"},
	}
	risk := d.Score(grooming.Conversation{Messages: msgs})
	if risk.Flagged || risk.Disclosure == nil {
		t.Fatalf("risk %+v", risk)
	}
	out := f.svc.Conversation(ctx, respond.Conversation{ID: "c-dis", Risk: risk, Messages: msgs})
	if out == nil || len(out.Cases) != 1 {
		t.Fatalf("outcome %+v", out)
	}
	c, err := f.cases.FindCase(ctx, out.Cases[0])
	if err != nil {
		t.Fatal(err)
	}
	cv := c.Conversation
	if cv == nil || cv.DisclosedBy != "kid" || cv.Suspect == "kid" || !cv.Sextortion || !slices.Contains(cv.Messages[1].Indicators, "victim_disclosure") {
		t.Fatalf("case evidence %+v", cv)
	}
}
