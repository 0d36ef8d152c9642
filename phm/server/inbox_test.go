package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	vigil "github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/sqlite"
)

// inboxWorld is t+1 listed pictures, their vouchers from one account, two
// vouchers of pictures not listed, and a restartable service on SQLite
// whose second check knows the listed pictures.
type inboxWorld struct {
	p        phm.Params
	r        *restartable
	matching [][]byte
	other    [][]byte
}

func newInboxWorld(t *testing.T) *inboxWorld {
	t.Helper()
	p := phm.Params{T: 2, S: 4}
	var data [][]byte
	var keys []phm.Key
	var known []pdq.Hash
	for i := range p.T + 1 {
		img := picture(600+i, 128)
		data = append(data, pngBytes(t, img))
		keys = append(keys, sha256Key(t, data[i]))
		known = append(known, pdqOf(t, img))
	}
	f, s := newFixture(t, p, 0, keys...)
	s.Banks = &banks{list: known}
	w := &inboxWorld{p: p, r: newRestartable(t, s)}
	for _, d := range data {
		w.matching = append(w.matching, f.voucher(t, s, prepare(t, d)))
	}
	for i := range 2 {
		w.other = append(w.other, f.voucher(t, s, prepare(t, pngBytes(t, picture(700+i, 72)))))
	}
	return w
}

// start restarts the service with an inbox and fast retries; respond is
// its detection flow.
func (w *inboxWorld) start(t *testing.T, respond Responder) *Service {
	t.Helper()
	s := w.r.restart(t)
	s.Respond = respond
	s.Inbox = NewInbox(s.Store.(vigil.PHMInbox), 0)
	s.Inbox.Poll, s.Inbox.RetryMin, s.Inbox.RetryMax = 10*time.Millisecond, 5*time.Millisecond, 40*time.Millisecond
	s.Inbox.HandOffEvery = 20 * time.Millisecond
	return s
}

func (w *inboxWorld) audit(t *testing.T) map[string]int {
	t.Helper()
	recs, err := sqlite.NewAuditService(w.r.db).ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range recs {
		out[r.Action]++
	}
	return out
}

// run runs s's worker until the returned stop is called.
func run(t *testing.T, s *Service) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor waits until cond holds. The limit only keeps a broken worker
// from hanging the test; it is not a measure of anything.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func depth(t *testing.T, s *Service) int {
	t.Helper()
	n, _, err := s.Inbox.Depth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// blockingResponder blocks every hand-off until release is closed.
type blockingResponder struct {
	responder
	entered chan struct{}
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
}

func (b *blockingResponder) Match(ctx context.Context, ref vigil.ContentRef, results []vigil.MatchResult, media func() ([]byte, error)) *vigil.Outcome {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.responder.Match(ctx, ref, results, media)
}

func (b *blockingResponder) calls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.refs)
}

// TestInboxAnswersBeforeProcessing: with the detection flow blocked on
// the account's recovery, Receive still returns for the recovering batch
// and for another after it; once the flow is let go the case opens, and
// the inbox empties.
func TestInboxAnswersBeforeProcessing(t *testing.T) {
	w := newInboxWorld(t)
	resp := &blockingResponder{entered: make(chan struct{}), release: make(chan struct{})}
	s := w.start(t, resp)
	run(t, s)
	ctx := context.Background()
	if err := s.Receive(ctx, "u", append(append([][]byte{}, w.matching...), w.other[0])); err != nil {
		t.Fatal(err)
	}
	<-resp.entered // the worker is inside the hand-off, held there
	if err := s.Receive(ctx, "u", [][]byte{w.other[1]}); err != nil {
		t.Fatal(err)
	}
	if resp.calls() != 0 {
		t.Fatal("the flow was let go early")
	}
	close(resp.release)
	waitFor(t, "the case", func() bool { return resp.calls() == 1 })
	// Counted once deleted: the count follows the store.
	waitFor(t, "the inbox to empty", func() bool { return s.Inbox.Processed() == int64(len(w.matching)+2) })
	if n := depth(t, s); n != 0 {
		t.Fatalf("%d vouchers left in the inbox", n)
	}
	if got := len(resp.results[0]); got != w.p.T+1 {
		t.Fatalf("the case holds %d items, want %d", got, w.p.T+1)
	}
}

// TestInboxSurvivesRestart: vouchers stored, then the process gone
// before the worker took them, are processed by the next run; and when
// the process died after their accounts' transactions but before they
// left the inbox (here: the same rows stored again), processing them
// again counts nothing and hands nothing on twice.
func TestInboxSurvivesRestart(t *testing.T) {
	w := newInboxWorld(t)
	ctx := context.Background()
	s := w.start(t, &responder{})
	batch := append(append([][]byte{}, w.matching...), w.other...)
	if err := s.Receive(ctx, "u", batch); err != nil {
		t.Fatal(err)
	}
	// Restart: nothing ran; the vouchers are in the store only.
	resp := &responder{}
	s = w.start(t, resp)
	if n := depth(t, s); n != len(batch) {
		t.Fatalf("%d vouchers in the inbox after the restart, want %d", n, len(batch))
	}
	if n, err := s.Resume(ctx); err != nil || n != 0 {
		t.Fatalf("resume: %d, %v", n, err)
	}
	stop := run(t, s)
	// The reveal is handed on on the worker's grid, after the batch.
	waitFor(t, "the inbox to empty and the reveal handed on", func() bool {
		return depth(t, s) == 0 && s.Inbox.HandedOn() == int64(w.p.T+1)
	})
	stop()
	st, err := s.Store.PHMAccount(ctx, "u", 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Positives != w.p.T+1 || st.Key == nil || len(resp.refs) != 1 {
		t.Fatalf("after the restart: %d positives, recovered %v, %d cases", st.Positives, st.Key != nil, len(resp.refs))
	}
	before := w.audit(t)
	if before[vigil.AuditPHMReveal] != 1 || before[AuditPHMSecondCheck] != 1 {
		t.Fatalf("audit after processing: %v", before)
	}

	// The crash after the commits: every row is still there.
	if err := s.Inbox.Store.AppendPHMInbox(ctx, "u", batch, 0); err != nil {
		t.Fatal(err)
	}
	resp = &responder{}
	s = w.start(t, resp)
	if n, err := s.Resume(ctx); err != nil || n != 0 {
		t.Fatalf("resume: %d, %v", n, err)
	}
	run(t, s)
	waitFor(t, "the inbox to empty again", func() bool { return depth(t, s) == 0 })
	again, err := s.Store.PHMAccount(ctx, "u", 0)
	if err != nil {
		t.Fatal(err)
	}
	if again.Positives != st.Positives || len(resp.refs) != 0 {
		t.Fatalf("processed twice: %d positives (was %d), %d new cases", again.Positives, st.Positives, len(resp.refs))
	}
	if after := w.audit(t); after[vigil.AuditPHMReveal] != 1 || after[AuditPHMSecondCheck] != 1 {
		t.Fatalf("audit after processing twice: %v", after)
	}
}

// failingResponder fails its first fails hand-offs, as a detection flow
// whose case did not land reports it, then records.
type failingResponder struct {
	responder
	fails    int
	attempts atomic.Int64
	mu       sync.Mutex
}

func (f *failingResponder) Match(ctx context.Context, ref vigil.ContentRef, results []vigil.MatchResult, media func() ([]byte, error)) *vigil.Outcome {
	if f.attempts.Add(1) <= int64(f.fails) {
		return &vigil.Outcome{Errors: []string{"review: open case: the store is busy"}}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.responder.Match(ctx, ref, results, media)
}

func (f *failingResponder) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.refs)
}

// TestInboxRetriesHandOff: a detection flow that fails its first three
// hand-offs gets the case later, without a restart; the audit records
// one hand-off (one second-check record), and nothing is left revealed.
func TestInboxRetriesHandOff(t *testing.T) {
	w := newInboxWorld(t)
	resp := &failingResponder{fails: 3}
	s := w.start(t, resp)
	run(t, s)
	ctx := context.Background()
	if err := s.Receive(ctx, "u", w.matching); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the case", func() bool { return resp.calls() == 1 })
	if got := resp.attempts.Load(); got != 4 {
		t.Fatalf("%d hand-offs tried, want 4", got)
	}
	waitFor(t, "the retry to be counted", func() bool { return s.Inbox.HandedOn() == int64(w.p.T+1) })
	if s.Inbox.HandOffFailures() != 3 {
		t.Fatalf("%d hand-off failures counted, want 3", s.Inbox.HandOffFailures())
	}
	if rev, err := s.Store.PHMRevealed(ctx, 10); err != nil || len(rev) != 0 {
		t.Fatalf("%d vouchers still revealed (%v)", len(rev), err)
	}
	if a := w.audit(t); a[AuditPHMSecondCheck] != 1 || a[vigil.AuditPHMReveal] != 1 {
		t.Fatalf("audit: %v", a)
	}
}

// TestHandOffFailsOnFlowErrors: a hand-off whose case did not land (the
// flow's outcome has errors) is an error of Submit and leaves the
// vouchers revealed, so that Resume hands them on; before, they were
// marked handed on and the case was lost.
func TestHandOffFailsOnFlowErrors(t *testing.T) {
	w := newInboxWorld(t)
	resp := &failingResponder{fails: 1}
	s := w.start(t, resp)
	ctx := context.Background()
	var err error
	for _, v := range w.matching {
		if _, err = s.Submit(ctx, "u", v); err != nil {
			break
		}
	}
	if err == nil {
		t.Fatal("the failed hand-off was not reported")
	}
	if n, err := s.Resume(ctx); err != nil || n != w.p.T+1 || resp.calls() != 1 {
		t.Fatalf("resume handed on %d (%v), %d cases", n, err, resp.calls())
	}
}

// flakyStore fails the first fails batches, as a busy store would.
type flakyStore struct {
	vigil.PHMService
	fails atomic.Int64
}

func (f *flakyStore) ApplyPHMInbox(ctx context.Context, items []vigil.PHMInboxUpdate) ([]vigil.PHMInboxApplied, error) {
	if f.fails.Add(-1) >= 0 {
		return nil, errors.New("database is locked")
	}
	return f.PHMService.ApplyPHMInbox(ctx, items)
}

// TestInboxRetriesStoreErrors: a batch whose transaction fails for a
// passing reason stays in the inbox: it is tried again item by item, and
// each item that fails alone too has its attempts counted and is counted
// once the store answers; bytes that are not a voucher under the
// service's parameters are dropped inside their batch, counted, and hold
// nothing up.
func TestInboxRetriesStoreErrors(t *testing.T) {
	w := newInboxWorld(t)
	s := w.start(t, &responder{})
	flaky := &flakyStore{PHMService: s.Store}
	// The batch of two, then each of its items alone.
	flaky.fails.Store(3)
	s.Store = flaky
	ctx := context.Background()
	if err := s.Inbox.Store.AppendPHMInbox(ctx, "u", [][]byte{[]byte("not a voucher")}, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Receive(ctx, "u", w.matching[:1]); err != nil {
		t.Fatal(err)
	}
	run(t, s)
	waitFor(t, "the inbox to empty", func() bool { return s.Inbox.Processed() == 2 })
	if n := depth(t, s); n != 0 || s.Inbox.Retried() != 2 || s.Inbox.Dropped() != 1 || s.Inbox.Processed() != 2 {
		t.Fatalf("depth %d, retried %d, dropped %d, processed %d; want 0, 2, 1, 2", n, s.Inbox.Retried(), s.Inbox.Dropped(), s.Inbox.Processed())
	}
	st, err := s.Store.PHMAccount(ctx, "u", 0)
	if err != nil || st.Positives != 1 {
		t.Fatalf("account after the retries: %+v, %v", st, err)
	}
}

// TestInboxFull: past its bound the inbox refuses a matching voucher and
// a non-matching one alike, and takes vouchers again once it has room.
func TestInboxFull(t *testing.T) {
	w := newInboxWorld(t)
	s := w.start(t, &responder{})
	s.Inbox.Max = 2
	ctx := context.Background()
	if err := s.Receive(ctx, "u", w.other); err != nil {
		t.Fatal(err)
	}
	for i, b := range [][][]byte{w.matching[:1], w.other[:1], {w.matching[1], w.other[1]}} {
		err := s.Receive(ctx, "u", b)
		if vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
			t.Fatalf("batch %d into a full inbox: %v, want EUNAVAILABLE", i, err)
		}
	}
	if s.Inbox.Full() != 3 || depth(t, s) != 2 {
		t.Fatalf("full %d, depth %d", s.Inbox.Full(), depth(t, s))
	}
	run(t, s)
	waitFor(t, "the inbox to empty", func() bool { return depth(t, s) == 0 })
	if err := s.Receive(ctx, "u", w.matching[:2]); err != nil {
		t.Fatal(err)
	}
}
