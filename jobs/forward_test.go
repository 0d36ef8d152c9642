package jobs_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/centre"
	"github.com/vigil-oss/vigil/centre/intake"
	"github.com/vigil-oss/vigil/jobs"
	"github.com/vigil-oss/vigil/report"
	"github.com/vigil-oss/vigil/sqlite"
)

var forwardSecret = []byte("0123456789abcdef-police")

// police is a law-enforcement intake as report.VerifyWebhook's doc asks
// a receiver to be: it checks each delivery's signature and files each
// Idempotency-Key once (a repeat is answered 200, filed nothing). answer,
// if set, decides what the n-th request (from 1) gets before it is filed:
// a status to answer with, or 0 to go on.
type police struct {
	mu       sync.Mutex
	requests int
	keys     []string
	filed    map[string]int
	bad      int
	answer   func(n int, w http.ResponseWriter, r *http.Request) int
	// afterFile, if set, runs after the n-th request was filed and
	// before its reply is written.
	afterFile func(n int, r *http.Request)
}

func (p *police) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.requests++
	n := p.requests
	key := r.Header.Get(report.HeaderIdempotencyKey)
	p.keys = append(p.keys, key)
	if err := report.VerifyWebhook(r.Header, body, time.Now(), 5*time.Minute, forwardSecret, nil); err != nil || key == "" {
		p.bad++
		p.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	answer, afterFile := p.answer, p.afterFile
	p.mu.Unlock()
	if answer != nil {
		if status := answer(n, w, r); status != 0 {
			w.WriteHeader(status)
			return
		}
	}
	p.mu.Lock()
	status := http.StatusAccepted
	if p.filed[key] > 0 {
		status = http.StatusOK // a repeat: filed already
	} else {
		p.filed[key]++
	}
	p.mu.Unlock()
	if afterFile != nil {
		afterFile(n, r)
	}
	w.WriteHeader(status)
	io.WriteString(w, `{"case":"LE-1"}`)
}

func (p *police) state() (requests int, keys []string, filed map[string]int, bad int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := map[string]int{}
	for k, v := range p.filed {
		f[k] = v
	}
	return p.requests, append([]string(nil), p.keys...), f, p.bad
}

// forwardEnv is a centre's store with one received, well-founded report
// of a new file, a forward destination at srv and an indicator bank.
type forwardEnv struct {
	e       *env
	reports *sqlite.CentreService
	audit   *sqlite.AuditService
	outcome *centre.Outcome
	report  *vigil.CentreReport
}

func openForwardEnv(t *testing.T, srvURL string, timeout time.Duration) *forwardEnv {
	t.Helper()
	ctx := context.Background()
	e := mustOpenEnv(t)
	reports := sqlite.NewCentreService(e.db)
	p := &vigil.CentreProvider{Name: "example-chat", CreatedBy: "cli"}
	if _, err := reports.CreateProvider(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := e.banks.CreateBank(ctx, &vigil.Bank{Name: "centre-new", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	triage := &centre.Triage{Banks: e.matcher, Reports: reports}
	r, _, err := triage.Receive(ctx, p, "r-1", &intake.Parsed{Format: vigil.CentreFormatEU, ReportedUser: "user-1",
		Files: []vigil.CentreFile{{SHA256: strings.Repeat("5e", 32)}}}, []byte(`{"report":1}`))
	if err != nil {
		t.Fatal(err)
	}
	o := &centre.Outcome{Reports: reports, IndicatorBank: "centre-new", Source: "centre:eu", Banks: e.banks, Entries: e.entries,
		Destinations: map[string]centre.Forwarder{"police": &report.Webhook{URL: srvURL, Secret: forwardSecret,
			Client: &http.Client{Timeout: timeout}}}}
	return &forwardEnv{e: e, reports: reports, audit: sqlite.NewAuditService(e.db), outcome: o, report: r}
}

// decide forwards the report to "police" as a reviewer would, audited in
// the decision's transaction.
func (f *forwardEnv) decide(t *testing.T) *vigil.CentreReport {
	t.Helper()
	rec := &vigil.AuditRecord{Actor: "key:4:reviewer", Action: vigil.AuditCentreDecide, Target: vigil.CentreAuditTarget(f.report.ID)}
	r, err := f.outcome.Decide(vigil.WithAudit(context.Background(), rec), f.report.ID,
		vigil.CentreDecision{Status: vigil.CentreForwarded, ForwardTo: "police"}, "key:4:reviewer")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitForward polls until the forward is no longer pending. The deadline
// only keeps a broken test from hanging.
func (f *forwardEnv) waitForward(t *testing.T) *vigil.CentreReport {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		r, err := f.reports.FindCentreReport(context.Background(), f.report.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Forward != vigil.ForwardPending {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("forward still pending: %+v", r)
		}
	}
}

// TestCentreForwardRetried: the forward job meets a law-enforcement
// intake that answers 500, then does not answer in time, then accepts:
// the job retries with backoff under one key, every attempt and reply is
// stored on the report, the intake files the report once, and the
// indicator is made once.
func TestCentreForwardRetried(t *testing.T) {
	le := &police{filed: map[string]int{}, answer: func(n int, w http.ResponseWriter, r *http.Request) int {
		switch n {
		case 1:
			return http.StatusInternalServerError
		case 2:
			<-r.Context().Done() // until the forwarder gives up waiting
			return http.StatusGatewayTimeout
		}
		return 0
	}}
	srv := httptest.NewServer(le)
	defer srv.Close()
	// The client's timeout is what makes the second attempt time out; an
	// attempt after it that also timed out (a slow machine) is retried
	// like the second, which the assertions allow for.
	f := openForwardEnv(t, srv.URL, 500*time.Millisecond)
	c := mustOpenClient(t, f.e.config(nil), false)
	f.outcome.Queue = c
	c.OnCentreForward(f.outcome.Job)
	dec := f.decide(t)
	if dec.Forward != vigil.ForwardPending || dec.ForwardKey == "" {
		t.Fatalf("decided: %+v", dec)
	}
	must(t, c.Start(context.Background()))
	got := f.waitForward(t)

	requests, keys, filed, bad := le.state()
	if got.Forward != vigil.ForwardDelivered || got.ForwardError != "" || bad != 0 {
		t.Fatalf("forward %q (%s), %d badly signed", got.Forward, got.ForwardError, bad)
	}
	if len(filed) != 1 || filed[dec.ForwardKey] != 1 || requests < 3 {
		t.Fatalf("intake filed %v after %d requests, want the decision's key %q once after 3 or more", filed, requests, dec.ForwardKey)
	}
	for i, k := range keys {
		if k != dec.ForwardKey {
			t.Errorf("request %d had key %q, want %q", i+1, k, dec.ForwardKey)
		}
	}
	a := got.ForwardAttempts
	if len(a) != requests {
		t.Fatalf("%d attempts stored for %d requests: %+v", len(a), requests, a)
	}
	if !a[0].Replied || a[0].HTTPStatus != 500 || !strings.Contains(a[0].Error, "500") {
		t.Errorf("first attempt %+v, want the 500", a[0])
	}
	if a[1].Replied || a[1].Error == "" {
		t.Errorf("second attempt %+v, want no reply and the timeout", a[1])
	}
	if last := a[len(a)-1]; !last.Replied || (last.HTTPStatus != 202 && last.HTTPStatus != 200) || last.Reply != `{"case":"LE-1"}` {
		t.Errorf("last attempt %+v, want the intake's acceptance", last)
	}
	if len(got.Indicators) != 1 {
		t.Fatalf("indicators %v, want 1", got.Indicators)
	}
	e, err := f.e.entries.FindEntryByID(context.Background(), got.Indicators[0])
	must(t, err)
	if e.Value != strings.Repeat("5e", 32) || e.Source != "centre:eu" || e.SourceEntryID != "report-1" {
		t.Errorf("indicator %+v", e)
	}
	recs, err := f.audit.ListAudit(context.Background(), 0, 100)
	must(t, err)
	counts := map[string]int{}
	for _, r := range recs {
		counts[r.Action]++
	}
	// One record per stored reply: the decision, every attempt's outcome,
	// the indicator's addition.
	if counts[vigil.AuditCentreDecide] != 1 || counts[vigil.AuditCentreForward] != requests || counts[vigil.AuditEntriesAdd] != 1 {
		t.Errorf("audit %v, want 1 decision, %d forward records, 1 indicator batch", counts, requests)
	}
	if _, brk, err := f.audit.VerifyAudit(context.Background()); err != nil || brk != nil {
		t.Errorf("audit chain: %v %+v", err, brk)
	}
}

// TestCentreForwardStoppedBetweenSendAndRecord stops (cancels) the job's
// first run after the intake filed the forward and before its reply was
// stored, as a crash there would. The job runs again and sends the same
// key; the intake files the report once, and the report shows both
// attempts, the first without a reply.
func TestCentreForwardStoppedBetweenSendAndRecord(t *testing.T) {
	filedFirst := make(chan struct{})
	le := &police{filed: map[string]int{}}
	le.afterFile = func(n int, r *http.Request) {
		if n == 1 {
			close(filedFirst)
			<-r.Context().Done() // the job is stopped before it reads the reply
		}
	}
	srv := httptest.NewServer(le)
	defer srv.Close()
	f := openForwardEnv(t, srv.URL, time.Minute)
	c := mustOpenClient(t, f.e.config(nil), false)
	f.outcome.Queue = c
	var once sync.Once
	c.OnCentreForward(func(ctx context.Context, id int64, final bool) error {
		first := false
		once.Do(func() { first = true })
		if first {
			var stop context.CancelFunc
			ctx, stop = context.WithCancel(ctx)
			go func() { <-filedFirst; stop() }()
		}
		return f.outcome.Job(ctx, id, final)
	})
	dec := f.decide(t)
	must(t, c.Start(context.Background()))
	got := f.waitForward(t)

	requests, keys, filed, _ := le.state()
	if got.Forward != vigil.ForwardDelivered || len(filed) != 1 || filed[dec.ForwardKey] != 1 {
		t.Fatalf("forward %q; intake filed %v, want %q once", got.Forward, filed, dec.ForwardKey)
	}
	if requests != 2 || keys[0] != keys[1] {
		t.Fatalf("%d requests with keys %v, want 2 with one key", requests, keys)
	}
	a := got.ForwardAttempts
	if len(a) != 2 || a[0].Replied || !a[1].Replied || a[1].HTTPStatus != 200 {
		t.Fatalf("attempts %+v, want the stopped one without a reply, then the intake's 200 (a repeat)", a)
	}
	if len(got.Indicators) != 1 {
		t.Errorf("indicators %v, want 1", got.Indicators)
	}
	b, err := f.e.banks.FindBankByName(context.Background(), "centre-new")
	must(t, err)
	ents, err := f.e.entries.FindEntries(context.Background(), vigil.EntryFilter{BankID: &b.ID})
	must(t, err)
	if len(ents) != 1 {
		t.Errorf("indicator bank holds %d entries, want 1", len(ents))
	}
}

// A forward that no job could queue (the process died after the
// decision) is queued by QueuePending at the next start.
func TestCentreForwardQueuedAtStart(t *testing.T) {
	le := &police{filed: map[string]int{}}
	srv := httptest.NewServer(le)
	defer srv.Close()
	f := openForwardEnv(t, srv.URL, time.Minute)
	f.outcome.Queue = lostQueue{}
	rec := &vigil.AuditRecord{Actor: "key:4:reviewer", Action: vigil.AuditCentreDecide, Target: vigil.CentreAuditTarget(f.report.ID)}
	r, err := f.outcome.Decide(vigil.WithAudit(context.Background(), rec), f.report.ID,
		vigil.CentreDecision{Status: vigil.CentreForwarded, ForwardTo: "police"}, "key:4:reviewer")
	if r == nil || r.Forward != vigil.ForwardPending || vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
		t.Fatalf("decision whose queueing failed: %+v %v", r, err)
	}
	c := mustOpenClient(t, f.e.config(nil), false)
	f.outcome.Queue = c
	c.OnCentreForward(f.outcome.Job)
	n, err := f.outcome.QueuePending(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("queue pending: %d %v", n, err)
	}
	must(t, c.Start(context.Background()))
	if got := f.waitForward(t); got.Forward != vigil.ForwardDelivered {
		t.Fatalf("forward %+v", got)
	}
}

// lostQueue fails to queue, as a process dying after the decision would.
type lostQueue struct{}

func (lostQueue) QueueCentreForward(context.Context, int64, int) error {
	return vigil.Errorf(vigil.EUNAVAILABLE, "queue gone")
}

var _ jobs.ForwardHook = (*centre.Outcome)(nil).Job

// TestCentreForwardRetriedByReviewer: a refusal fails the forward and
// ends its job; a reviewer's retry queues a new job for the same report
// (the finished one does not count as a duplicate), which delivers it
// under the same key.
func TestCentreForwardRetriedByReviewer(t *testing.T) {
	le := &police{filed: map[string]int{}, answer: func(n int, w http.ResponseWriter, r *http.Request) int {
		if n == 1 {
			return http.StatusUnprocessableEntity
		}
		return 0
	}}
	srv := httptest.NewServer(le)
	defer srv.Close()
	f := openForwardEnv(t, srv.URL, time.Minute)
	c := mustOpenClient(t, f.e.config(nil), true)
	f.outcome.Queue = c
	c.OnCentreForward(f.outcome.Job)
	dec := f.decide(t)
	if got := f.waitForward(t); got.Forward != vigil.ForwardFailed || !strings.Contains(got.ForwardError, "422") {
		t.Fatalf("after the refusal: %+v", got)
	}
	if _, err := f.outcome.Retry(context.Background(), f.report.ID); err != nil {
		t.Fatal(err)
	}
	got := f.waitForward(t)
	requests, keys, filed, _ := le.state()
	if got.Forward != vigil.ForwardDelivered || requests != 2 || keys[0] != dec.ForwardKey || keys[1] != dec.ForwardKey || filed[dec.ForwardKey] != 1 {
		t.Fatalf("after the retry: %q, %d requests with keys %v, filed %v", got.Forward, requests, keys, filed)
	}
}
