package respond_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/report"
	"github.com/vigil-oss/vigil/respond"
	"github.com/vigil-oss/vigil/sqlite"
	"github.com/vigil-oss/vigil/storetest"
)

// noticeNotifier records events; fail makes the next Notify fail.
type noticeNotifier struct {
	mu     sync.Mutex
	events []vigil.Event
	fail   bool
}

func (n *noticeNotifier) Notify(ctx context.Context, webhook string, ev vigil.Event) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if webhook != "platform" {
		return vigil.Errorf(vigil.ENOTFOUND, "webhook %q is not configured", webhook)
	}
	if n.fail {
		n.fail = false
		return errors.New("queue full")
	}
	n.events = append(n.events, ev)
	return nil
}

// lossyStore loses the next record of a sent notice, as a crash between
// queueing the event and recording it would.
type lossyStore struct {
	vigil.NoticeService
	lose bool
}

func (s *lossyStore) MarkNoticeSent(ctx context.Context, n *vigil.Notice, id string) error {
	if s.lose {
		s.lose = false
		return errors.New("crashed")
	}
	return s.NoticeService.MarkNoticeSent(ctx, n, id)
}

var noticeDSA = report.DSAConfig{
	PUIDPrefix: "example-chat", DecisionGround: "DECISION_GROUND_ILLEGAL_CONTENT",
	IllegalContentLegalGround: "Directive 2011/93/EU, Articles 5 and 6", IllegalContentExplanation: "Child sexual abuse material, illegal in every Member State.",
	DecisionVisibility: []string{"DECISION_VISIBILITY_CONTENT_REMOVED"}, TerritorialScope: []string{"DE", "FR"},
}

func TestNoticesAfterDelayOnceAndReversal(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	db, err := sqlite.Open(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Now = clock.Now
	cases := sqlite.NewCaseService(db)
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	open := func(user string) *vigil.Case {
		c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: clock.Now().Add(24 * time.Hour),
			Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", len(user)), ContentID: "post-" + user, UserID: user, MediaType: "image/png"},
			Matches: []vigil.Match{{Bank: "b", EntryID: 999, SignalType: vigil.SignalPDQ, Value: "00"}}}
		if err := cases.OpenCase(ctx, c, "rules"); err != nil {
			t.Fatal(err)
		}
		if _, err := cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "key:1:alice"}); err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := open("u1")
	store := &lossyStore{NoticeService: sqlite.NewNoticeService(db)}
	nf := &noticeNotifier{}
	n := &respond.Notices{Store: store, Notifier: nf, Webhook: "platform", Delay: time.Hour, DSA: &noticeDSA, Now: clock.Now}

	send := func(want int) {
		t.Helper()
		got, err := n.SendDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("sent %d, want %d", got, want)
		}
	}
	clock.Advance(59 * time.Minute)
	send(0)
	clock.Advance(time.Minute)
	// The notifier fails: nothing recorded, the next pass tries again.
	nf.fail = true
	if _, err := n.SendDue(ctx); err == nil {
		t.Fatal("a failed notify was not reported")
	}
	// A crash after queueing: the event goes again with the same id.
	store.lose = true
	if _, err := n.SendDue(ctx); err == nil {
		t.Fatal("a lost record was not reported")
	}
	send(1)
	send(0)
	// A new process over the same store sends nothing more.
	again := &respond.Notices{Store: sqlite.NewNoticeService(db), Notifier: nf, Webhook: "platform", Delay: time.Hour, Now: clock.Now}
	if got, err := again.SendDue(ctx); err != nil || got != 0 {
		t.Fatalf("after restart: %d %v", got, err)
	}
	if len(nf.events) != 2 || nf.events[0].ID != nf.events[1].ID || nf.events[0].Type != vigil.EventUserNotice {
		t.Fatalf("events: %+v", nf.events)
	}
	var data struct {
		CaseID    int64                `json:"case_id"`
		Content   map[string]string    `json:"content"`
		Statement *report.DSAStatement `json:"statement"`
	}
	if err := json.Unmarshal(nf.events[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.CaseID != c.ID || data.Content["user_id"] != "u1" || data.Content["content_id"] != "post-u1" || data.Statement == nil ||
		data.Statement.PUID != fmt.Sprintf("example-chat-case-%d", c.ID) || data.Statement.DecisionGround != "DECISION_GROUND_ILLEGAL_CONTENT" {
		t.Fatalf("notice data: %s", nf.events[0].Data)
	}
	// The statement's puid is a complaint's reference.
	complaints := sqlite.NewComplaintService(db, cases)
	k := &vigil.Complaint{Reference: data.Statement.PUID, Text: "that was a drawing of mine"}
	if err := complaints.CreateComplaint(ctx, k, "key:3:platform"); err != nil || k.CaseID != c.ID {
		t.Fatalf("complaint by statement puid: %+v %v", k, err)
	}
	if _, err := complaints.DecideComplaint(ctx, k.ID, vigil.ComplaintDecision{Upheld: true, Reasons: "a drawing", DecidedBy: "key:2:bob"}); err != nil {
		t.Fatal(err)
	}
	send(1)
	last := nf.events[len(nf.events)-1]
	if last.Type != vigil.EventActionReversed {
		t.Fatalf("after upheld complaint: %+v", last)
	}
	var rev struct {
		CaseID      int64  `json:"case_id"`
		ComplaintID int64  `json:"complaint_id"`
		Reasons     string `json:"reasons"`
	}
	if err := json.Unmarshal(last.Data, &rev); err != nil || rev.CaseID != c.ID || rev.ComplaintID != k.ID || rev.Reasons != "a drawing" {
		t.Fatalf("reversal data %s: %v", last.Data, err)
	}
	send(0)
}
