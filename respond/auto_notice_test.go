package respond_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/report"
	"github.com/vigil-oss/vigil/respond"
	"github.com/vigil-oss/vigil/sqlite"
	"github.com/vigil-oss/vigil/storetest"
)

// autoFixture is a store with a queue "after", an auto rule
// block-known filling it, a bank whose two entries from two sources hold
// ref, and a response service acting on them.
type autoFixture struct {
	db      *sqlite.DB
	clock   *storetest.Clock
	cases   *sqlite.CaseService
	notices *sqlite.NoticeService
	svc     *respond.Service
	ref     vigil.ContentRef
	results []vigil.MatchResult
}

func newAutoFixture(t *testing.T) *autoFixture {
	t.Helper()
	ctx := context.Background()
	clock := storetest.NewClock()
	db, err := sqlite.Open(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.Now = clock.Now
	cases, ruleStore, notices := sqlite.NewCaseService(db), sqlite.NewRuleService(db), sqlite.NewNoticeService(db)
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "after", Roles: []vigil.Role{vigil.RoleReviewer}}); err != nil {
		t.Fatal(err)
	}
	rule := &vigil.Rule{Name: "block-known", When: vigil.RuleConditions{Kind: "match"}, Corroboration: 2,
		Action: vigil.RuleAction{Type: vigil.ActionAuto, Auto: "block", Queue: "after"}, Enabled: true, Source: vigil.RuleSourceAPI, UpdatedBy: "test"}
	if err := ruleStore.CreateRule(ctx, rule); err != nil {
		t.Fatal(err)
	}
	b := &vigil.Bank{Name: "b", Enabled: true}
	if err := sqlite.NewBankService(db).CreateBank(ctx, b); err != nil {
		t.Fatal(err)
	}
	var ms []vigil.Match
	for i, src := range []string{"ncmec", "iwf"} {
		e := &vigil.Entry{SignalType: vigil.SignalSHA256, Value: strings.Repeat(fmt.Sprintf("c%d", i), 32), Source: src}
		if _, err := sqlite.NewEntryService(db).AddEntries(ctx, b.ID, src, []*vigil.Entry{e}); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, vigil.Match{BankID: b.ID, Bank: "b", EntryID: e.ID, SignalType: e.SignalType, Value: e.Value, Source: src})
	}
	svc := &respond.Service{Rules: ruleStore, Cases: cases, AutoActions: notices, Now: clock.Now}
	ref := vigil.ContentRef{SHA256: strings.Repeat("cd", 32), ContentID: "post-1", UserID: "u-1", MediaType: "image/png"}
	results := []vigil.MatchResult{{Signal: vigil.Signal{Type: vigil.SignalSHA256, Value: ref.SHA256}, Matches: ms}}
	return &autoFixture{db: db, clock: clock, cases: cases, notices: notices, svc: svc, ref: ref, results: results}
}

// An automatic action (a corroborated auto rule) gets its notice from the
// action, without a reviewer's confirmation, with a statement of reasons
// saying the decision was automated; a later confirmation sends no second
// notice, and a complaint names the action by its case.
func TestAutomaticActionNotice(t *testing.T) {
	ctx := context.Background()
	f := newAutoFixture(t)
	db, clock, cases, notices, svc, ref, results := f.db, f.clock, f.cases, f.notices, f.svc, f.ref, f.results
	out := svc.Content(ctx, ref, results, nil, nil)
	if len(out.Auto) != 1 || out.Auto[0] != "block" || len(out.Cases) != 1 || len(out.Errors) != 0 {
		t.Fatalf("outcome: %+v", out)
	}
	caseID := out.Cases[0]
	// The same detection again (a retried job): one action, one notice.
	clock.Advance(10 * time.Minute)
	svc.Content(ctx, ref, results, nil, nil)

	nf := &noticeNotifier{}
	n := &respond.Notices{Store: notices, Notifier: nf, Webhook: "platform", Delay: time.Hour, DSA: &noticeDSA, Now: clock.Now}
	send := func(want int) {
		t.Helper()
		if got, err := n.SendDue(ctx); err != nil || got != want {
			t.Fatalf("sent %d (%v), want %d", got, err, want)
		}
	}
	clock.Advance(49 * time.Minute)
	send(0)
	clock.Advance(time.Minute)
	send(1) // due an hour after the action, no reviewer involved
	var data struct {
		CaseID    int64                `json:"case_id"`
		DecidedAt *time.Time           `json:"decided_at"`
		Auto      *vigil.AutoAction    `json:"auto"`
		Statement *report.DSAStatement `json:"statement"`
	}
	if err := json.Unmarshal(nf.events[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.CaseID != caseID || data.Auto == nil || data.Auto.Rule != "block-known" || data.DecidedAt == nil || !data.DecidedAt.Equal(data.Auto.TakenAt) {
		t.Fatalf("notice of the automatic action: %s", nf.events[0].Data)
	}
	st := data.Statement
	if st == nil || st.AutomatedDecision != "AUTOMATED_DECISION_FULLY" || st.PUID != fmt.Sprintf("example-chat-case-%d", caseID) ||
		strings.Contains(st.DecisionFacts, "human reviewer") || !strings.Contains(st.DecisionFacts, "block") {
		t.Fatalf("statement of an automatic action: %+v", st)
	}
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}

	// A reviewer confirms the case afterwards: the same action, no second
	// notice.
	if _, err := svc.Decide(ctx, caseID, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "key:1:alice"}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	send(0)

	// The statement's puid is the complaint's reference.
	k := &vigil.Complaint{Reference: st.PUID, Text: "my post was blocked by mistake"}
	if err := sqlite.NewComplaintService(db, cases).CreateComplaint(ctx, k, "key:3:platform"); err != nil || k.CaseID != caseID {
		t.Fatalf("complaint about the automatic action: %+v %v", k, err)
	}
}

// TestAutomaticActionQueuedCase: when the automatic action's case cannot
// be opened at once (the store busy) and is queued for retry, the action
// goes with it: carrying the queued case records the action on it, as
// taken at the detection, so its notice falls due and a complaint can
// name it. Carried twice (a retried job), it is recorded once.
func TestAutomaticActionQueuedCase(t *testing.T) {
	ctx := context.Background()
	f := newAutoFixture(t)
	queue := &memQueue{}
	f.svc.Cases, f.svc.Queue = &busyCases{CaseService: f.cases, fails: 1}, queue
	taken := f.clock.Now()
	out := f.svc.Content(ctx, f.ref, f.results, nil, nil)
	if len(out.Auto) != 1 || len(out.Cases) != 0 || len(out.Queued) != 1 || len(out.Errors) != 0 || len(queue.actions) != 1 {
		t.Fatalf("outcome %+v, want the block taken and its case queued", out)
	}
	f.clock.Advance(time.Minute)
	for range 2 {
		if err := f.svc.Carry(ctx, queue.actions[0]); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := f.cases.ListCases(ctx, vigil.CaseFilter{})
	if err != nil || len(cs) != 1 {
		t.Fatalf("cases %+v %v", cs, err)
	}
	due, err := f.notices.DueNotices(ctx, taken.Add(time.Hour), time.Hour, 10)
	if err != nil || len(due) != 1 || due[0].Auto == nil || due[0].Case.ID != cs[0].ID || due[0].Auto.Rule != "block-known" ||
		!due[0].Auto.TakenAt.Equal(taken) {
		t.Fatalf("notices due %+v %v, want the action's, due an hour after the detection", due, err)
	}
	k := &vigil.Complaint{Reference: fmt.Sprint(cs[0].ID), Text: "my post was blocked by mistake"}
	if err := sqlite.NewComplaintService(f.db, f.cases).CreateComplaint(ctx, k, "key:3:platform"); err != nil || k.CaseID != cs[0].ID {
		t.Fatalf("complaint about the action: %+v %v", k, err)
	}
}
