package http_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm/phmtest"
	phmserver "github.com/vigil-oss/vigil/phm/server"
	"github.com/vigil-oss/vigil/sqlite"
)

// gate holds every hand-off to the detection flow until release closes.
type gate struct {
	inner   phmserver.Responder
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{entered: make(chan struct{}), release: make(chan struct{})} }

func (g *gate) Match(ctx context.Context, ref vigil.ContentRef, results []vigil.MatchResult, media func() ([]byte, error)) *vigil.Outcome {
	g.once.Do(func() { close(g.entered) })
	<-g.release
	return g.inner.Match(ctx, ref, results, media)
}

// startInbox is phmWorld.start with the inbox vigil serve has (bounded at
// max), its worker stopped with the test, and the detection flow behind g.
func (w *phmWorld) startInbox(t testing.TB, max int, g *gate) *phmRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	return w.startWith(t, ctx, cancel, max, g)
}

// testGrid is the hand-off grid of the inboxes these tests start: the
// tests wait for hand-offs, and 1 s keeps them short (the default is
// phm/server's DefaultHandOffEvery).
const testGrid = time.Second

// startWith is startInbox with the worker's context given: it stops when
// ctx ends, and cancel is called when t ends. max < 0: no inbox, every
// voucher processed before the answer.
func (w *phmWorld) startWith(t testing.TB, workerCtx context.Context, cancel func(), max int, g *gate) *phmRun {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	db, err := sqlite.Open(ctx, w.dir, logger)
	if err != nil {
		t.Fatal(err)
	}
	banks, entries, keys := sqlite.NewBankService(db), sqlite.NewEntryService(db), sqlite.NewKeyService(db)
	r := &phmRun{db: db, cases: sqlite.NewCaseService(db), audit: sqlite.NewAuditService(db), store: sqlite.NewPHMService(db), media: newMemMedia()}
	rules := sqlite.NewRuleService(db)
	if err := r.cases.CreateQueue(ctx, &vigil.Queue{Name: "e2ee", Roles: []vigil.Role{vigil.RoleReviewer}}); err != nil {
		t.Fatal(err)
	}
	if err := rules.CreateRule(ctx, &vigil.Rule{Name: "review", When: vigil.RuleConditions{Kind: "match"},
		Action: vigil.RuleAction{Type: vigil.ActionCase, Queue: "e2ee"}, Enabled: true, Source: vigil.RuleSourceAPI, UpdatedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	bank := &vigil.Bank{Name: "known", Enabled: true}
	if err := banks.CreateBank(ctx, bank); err != nil {
		t.Fatal(err)
	}
	var es []*vigil.Entry
	for i := range w.real {
		h, _ := pdq.NewHasher(pdq.Full).Hash(phmtest.Picture(80+i, 128))
		es = append(es, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: h.String(), Source: "test"})
	}
	if _, err := entries.AddEntries(ctx, bank.ID, "test", es); err != nil {
		t.Fatal(err)
	}
	m := matcher.New(banks, entries, logger)
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	opener, err := phmserver.NewOpener(w.tbl.Alpha, w.p)
	if err != nil {
		t.Fatal(err)
	}
	s := vhttp.NewServer()
	s.Addr, s.Banks, s.Entries, s.Keys, s.Matcher, s.Logger = "127.0.0.1:0", banks, entries, keys, m, logger
	s.Audit, s.Cases, s.Rules, s.Media = r.audit, r.cases, rules, r.media
	s.PHM = &phmserver.Service{Opener: opener, Review: w.review, Store: r.store, Banks: m, Logger: logger}
	g.inner = s.Flow()
	s.PHM.Respond = g
	if max >= 0 {
		s.PHM.Inbox = phmserver.NewInbox(r.store, max)
		s.PHM.Inbox.Poll = 10 * time.Millisecond
		s.PHM.Inbox.HandOffEvery = testGrid
	}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	r.srv = s
	t.Cleanup(func() {
		cancel()
		r.stop()
	})
	if r.key, err = keys.CreateKey(ctx, &vigil.Key{Name: "platform", Role: vigil.RoleMatcher, CreatedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := s.StartPHM(workerCtx); err != nil {
		t.Fatal(err)
	}
	return r
}

// waitUntil waits for cond; the limit only keeps a broken worker from
// hanging the test.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// sendAlikeGuarded is mustSendAlike for a request that a route which
// processes before answering would hold: it gives up (failing) rather
// than hang. The limit is a guard, not a measure.
func (r *phmRun) sendAlikeGuarded(t *testing.T, what string, v []byte) {
	t.Helper()
	type answer struct {
		code int
		body string
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		req, err := http.NewRequest("POST", r.srv.URL()+"/v1/phm/vouchers?user_id=user-7", bytes.NewReader(v))
		if err != nil {
			ch <- answer{err: err}
			return
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Authorization", "Bearer "+r.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			ch <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ch <- answer{resp.StatusCode, string(b), err}
	}()
	select {
	case a := <-ch:
		if a.err != nil {
			t.Fatal(a.err)
		}
		if a.code != http.StatusAccepted || a.body != `{"received":1}`+"\n" {
			t.Fatalf("%s: %d %q, want the answer of every voucher", what, a.code, a.body)
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("%s: no answer while the detection flow is held", what)
	}
}

func (r *phmRun) depth(t testing.TB) int {
	t.Helper()
	n, _, err := r.store.PHMInboxDepth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// recovering is a batch that recovers the world's device account: s
// synthetic vouchers, the collision, and the t real ones.
func (w *phmWorld) recovering(t *testing.T) [][]byte {
	var b [][]byte
	for i := range w.p.S {
		b = append(b, w.voucher(t, w.unlisted[i]))
	}
	b = append(b, w.voucher(t, w.collision))
	for i := range w.p.T {
		b = append(b, w.voucher(t, w.real[i]))
	}
	return b
}

// TestPHMInboxAnswersBeforeProcessing: with the detection flow held, the
// batch that recovers the account is answered 202 as soon as it is
// stored, and so is the next one; once the flow is let go, the vouchers
// processed after the answers open the case.
func TestPHMInboxAnswersBeforeProcessing(t *testing.T) {
	w := newPHMWorld(t)
	g := newGate()
	run := w.startInbox(t, 0, g)
	batch := w.recovering(t)
	for _, v := range batch {
		run.sendAlikeGuarded(t, "a voucher of the recovering batch", v)
	}
	<-g.entered // the worker is in the hand-off, and holds there
	run.sendAlikeGuarded(t, "a non-matching voucher while the flow is held", w.voucher(t, w.unlisted[w.p.S]))
	if cs := run.listCases(t); len(cs) != 0 {
		t.Fatalf("%d cases while the flow is held", len(cs))
	}
	close(g.release)
	waitUntil(t, "the case", func() bool { return len(run.listCases(t)) == 1 })
	waitUntil(t, "the inbox to empty", func() bool { return run.depth(t) == 0 })
	st, err := run.store.PHMAccount(context.Background(), "user-7", 0)
	if err != nil || st.Positives != w.p.S+w.p.T+1 || st.Key == nil {
		t.Fatalf("account after the worker: %+v, %v", st, err)
	}
	c := run.listCases(t)[0]
	if c.Content.ContentID != "phm:user-7/0" || len(c.Matches) != w.p.T {
		t.Fatalf("case %+v with %d matches", c.Content, len(c.Matches))
	}
}

// TestPHMInboxFull: while the inbox holds its bound (its worker stopped:
// the worker hands reveals on after its batch has left the inbox), a
// matching voucher and a non-matching one get the same 503; once a worker
// drains it, vouchers are taken.
func TestPHMInboxFull(t *testing.T) {
	w := newPHMWorld(t)
	g := newGate()
	close(g.release)
	batch := w.recovering(t)
	ctx, cancel := context.WithCancel(context.Background())
	run := w.startWith(t, ctx, cancel, len(batch), g)
	cancel() // the worker stops: the inbox keeps what it is given
	if code, body := run.send(t, "user-7", batch...); code != http.StatusAccepted {
		t.Fatalf("the recovering batch: %d %s", code, body)
	}
	if n := run.depth(t); n != len(batch) {
		t.Fatalf("inbox holds %d, want %d", n, len(batch))
	}
	matching := w.voucher(t, w.real[w.p.T])
	other := w.voucher(t, w.unlisted[w.p.S])
	code1, body1 := run.send(t, "user-7", matching)
	code2, body2 := run.send(t, "user-7", other)
	code3, body3 := run.send(t, "someone-else", w.probe(t))
	if code1 != http.StatusServiceUnavailable || code2 != code1 || code3 != code1 || body1 != body2 || body1 != body3 {
		t.Fatalf("into a full inbox: matching %d %q, non-matching %d %q, another account %d %q; want one 503 for all", code1, body1, code2, body2, code3, body3)
	}
	if !strings.Contains(body1, "full") {
		t.Fatalf("503 body %q", body1)
	}
	wctx, wcancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run.srv.PHM.Run(wctx) }()
	t.Cleanup(func() {
		wcancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	run.srv.PHM.Wake()
	waitUntil(t, "the inbox to drain", func() bool { return run.depth(t) == 0 })
	run.mustSendAlike(t, "matching, after the drain", matching)
	run.mustSendAlike(t, "non-matching, after the drain", other)
	waitUntil(t, "the inbox to drain again", func() bool { return run.depth(t) == 0 })
	// The recovery's matches and the one after it, in one case or two:
	// the worker hands reveals on at its grid's ticks, and one hand-off
	// makes one case of an account's reveals.
	waitUntil(t, "the matches in cases", func() bool {
		n := 0
		for _, c := range run.listCases(t) {
			n += len(c.Matches)
		}
		return n == w.p.T+1
	})
}
