package report_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/jobs"
	"github.com/vigil-oss/vigil/report"
)

var hookSecret = []byte("0123456789abcdef-report-secret")

// receiver is a platform's intake as the webhook documentation asks it
// to be: it verifies each delivery's signature within a replay window
// and files each idempotency key once.
type receiver struct {
	mu       sync.Mutex
	secret   []byte
	pub      ed25519.PublicKey
	window   time.Duration
	filed    map[string]report.WebhookBody
	requests int
	refused  []string // why deliveries were refused
	captured []*http.Request
	bodies   [][]byte
	// hook answers instead of the receiver when it returns true.
	hook func(w http.ResponseWriter, r *http.Request, n int) bool
	// lose, when it returns true, loses the reply to delivery n after
	// the report was filed.
	lose func(n int) bool
}

func newReceiver(t testing.TB) (*receiver, *httptest.Server) {
	rc := &receiver{secret: hookSecret, window: 5 * time.Minute, filed: map[string]report.WebhookBody{}}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.requests++
	n := rc.requests
	hook := rc.hook
	rc.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	if err := report.VerifyWebhook(r.Header, body, time.Now(), rc.window, rc.secret, rc.pub); err != nil {
		rc.mu.Lock()
		rc.refused = append(rc.refused, err.Error())
		rc.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var b report.WebhookBody
	if err := json.Unmarshal(body, &b); err != nil || b.IdempotencyKey != r.Header.Get(report.HeaderIdempotencyKey) {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if hook != nil && hook(w, r, n) {
		return
	}
	rc.mu.Lock()
	rc.captured, rc.bodies = append(rc.captured, r), append(rc.bodies, body)
	_, dup := rc.filed[b.IdempotencyKey]
	rc.filed[b.IdempotencyKey] = b
	lose := rc.lose
	rc.mu.Unlock()
	if lose != nil && lose(n) {
		<-r.Context().Done()
		return
	}
	if dup {
		w.Write([]byte(`{"status":"duplicate"}`))
		return
	}
	w.WriteHeader(http.StatusCreated)
	w.Write([]byte(`{"status":"filed","reference":"intake-1"}`))
}

func newWebhookFixture(t testing.TB) (*submitFixture, *receiver) {
	t.Helper()
	rc, srv := newReceiver(t)
	_, ncmec := newFakeISPWS(t)
	fx := newSubmitFixture(t, ncmec)
	fx.sub.Destinations = []report.Destination{&report.Webhook{URL: srv.URL + "/intake", Secret: hookSecret,
		EU: &report.EU{Config: euCfg}, Client: &http.Client{Timeout: 2 * time.Second}}}
	return fx, rc
}

func (fx *submitFixture) webhook() *report.Webhook { return fx.sub.Destinations[0].(*report.Webhook) }

func TestSubmitWebhook(t *testing.T) {
	ctx := context.Background()
	fx, rc := newWebhookFixture(t)
	s := fx.startTo(t, report.DestinationWebhook)
	if len(s.IdempotencyKey) != len("vigil-")+32 {
		t.Fatalf("idempotency key %q", s.IdempotencyKey)
	}
	must(t, fx.sub.Run(ctx, s.ID))
	got := fx.find(t, s.ID)
	if got.State != vigil.SubmissionFinished || len(got.Attempts) != 1 || got.Attempts[0].HTTPStatus != 201 || !strings.Contains(got.Attempts[0].Reply, "intake-1") {
		t.Fatalf("submission %+v", got)
	}
	b, ok := rc.filed[s.IdempotencyKey]
	if !ok || b.SubmissionID != s.ID || b.IncidentID != fx.incident.ID || b.Format != "eu" || !strings.Contains(string(b.Report), `"known_csam"`) {
		t.Fatalf("filed %+v", rc.filed)
	}
	if h := rc.captured[0].Header; h.Get(jobs.HeaderEventType) != report.EventReportSubmitted || h.Get(jobs.HeaderEventID) != s.IdempotencyKey {
		t.Errorf("headers %v", h)
	}
	// A replayed delivery is refused once outside the window, and a
	// tampered one at once.
	req, body := rc.captured[0], rc.bodies[0]
	if err := report.VerifyWebhook(req.Header, body, time.Now().Add(10*time.Minute), rc.window, hookSecret, nil); err == nil {
		t.Error("replay outside the window verified")
	}
	tampered := []byte(strings.Replace(string(body), `"known_csam"`, `"new_csam"`, 1))
	if err := report.VerifyWebhook(req.Header, tampered, time.Now(), rc.window, hookSecret, nil); err == nil {
		t.Error("tampered body verified")
	}
	if err := report.VerifyWebhook(req.Header, body, time.Now(), rc.window, []byte("another-secret-of-16+"), nil); err == nil {
		t.Error("wrong secret verified")
	}
}

// An Ed25519-signed delivery verifies with the public key alone.
func TestSubmitWebhookEd25519(t *testing.T) {
	fx, rc := newWebhookFixture(t)
	pub, priv, err := ed25519.GenerateKey(nil)
	must(t, err)
	fx.webhook().Ed25519Key, fx.webhook().Secret = priv, nil
	rc.secret, rc.pub = nil, pub
	s := fx.startTo(t, report.DestinationWebhook)
	must(t, fx.sub.Run(context.Background(), s.ID))
	if got := fx.find(t, s.ID); got.State != vigil.SubmissionFinished || len(rc.filed) != 1 {
		t.Fatalf("submission %+v, refused %v", got, rc.refused)
	}
	if sig := rc.captured[0].Header.Get(jobs.HeaderSignature); !strings.HasPrefix(sig, "ed25519=") {
		t.Errorf("signature %q", sig)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if err := report.VerifyWebhook(rc.captured[0].Header, rc.bodies[0], time.Now(), time.Minute, nil, other); err == nil {
		t.Error("verified with another key")
	}
}

// 5xx and a lost reply are retried with the same key: the receiver files
// the report once, whatever the number of deliveries.
func TestSubmitWebhookRetries(t *testing.T) {
	ctx := context.Background()
	fx, rc := newWebhookFixture(t)
	fx.webhook().Client.Timeout = 300 * time.Millisecond
	rc.hook = func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch n {
		case 1:
			w.WriteHeader(http.StatusBadGateway)
			return true
		case 2:
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	}
	rc.lose = func(n int) bool { return n == 3 } // filed, then the reply is lost
	s := fx.startTo(t, report.DestinationWebhook)
	var errs []error
	for range 10 {
		err := fx.sub.Run(ctx, s.ID)
		if err == nil {
			break
		}
		if vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
			t.Fatalf("run: %v", err)
		}
		errs = append(errs, err)
	}
	got := fx.find(t, s.ID)
	if got.State != vigil.SubmissionFinished || len(errs) != 3 || len(got.Attempts) != 4 || got.Attempts[2].Replied || len(rc.filed) != 1 {
		t.Fatalf("submission %+v after %v; filed %d", got, errs, len(rc.filed))
	}
	if !strings.Contains(got.Attempts[3].Reply, "duplicate") {
		t.Errorf("last reply %q", got.Attempts[3].Reply)
	}
}

// A kill after the receiver filed the report, before its reply was
// stored: the new process delivers again with the same key, filed once.
func TestSubmitWebhookKilled(t *testing.T) {
	fx, rc := newWebhookFixture(t)
	killCtx, kill := context.WithCancelCause(context.Background())
	rc.lose = func(n int) bool {
		if n == 1 {
			kill(errKilled)
			return true
		}
		return false
	}
	s := fx.startTo(t, report.DestinationWebhook)
	if err := fx.sub.Run(killCtx, s.ID); !errors.Is(err, context.Canceled) {
		t.Fatalf("killed run: %v", err)
	}
	again := *fx.sub
	must(t, again.Run(context.Background(), s.ID))
	if got := fx.find(t, s.ID); got.State != vigil.SubmissionFinished || len(got.Attempts) != 2 || len(rc.filed) != 1 {
		t.Fatalf("resumed %+v, filed %d", got, len(rc.filed))
	}
}

// A refusal (4xx) fails the submission; a receiver that cannot verify
// the signature refuses it too.
func TestSubmitWebhookRefused(t *testing.T) {
	ctx := context.Background()
	fx, rc := newWebhookFixture(t)
	rc.secret = []byte("not-the-senders-secret")
	s := fx.startTo(t, report.DestinationWebhook)
	must(t, fx.sub.Run(ctx, s.ID))
	got := fx.find(t, s.ID)
	if got.State != vigil.SubmissionFailed || !strings.Contains(got.Error, "http 401") || len(rc.refused) != 1 || len(rc.filed) != 0 {
		t.Fatalf("submission %+v, refused %v", got, rc.refused)
	}
}

// A receiver's check of outside headers never accepts what the key did
// not sign, and never panics.
func FuzzVerifyWebhook(f *testing.F) {
	pub, _, _ := ed25519.GenerateKey(nil)
	now := time.Unix(1_800_000_000, 0)
	f.Add("1800000000", "v1=00", []byte(`{}`))
	f.Add("1800000000", "ed25519=AAAA", []byte(`{}`))
	f.Add("-1", "ed25519=", []byte(nil))
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(jobs.HeaderTimestamp, ts)
		h.Set(jobs.HeaderSignature, sig)
		if report.VerifyWebhook(h, body, now, time.Minute, hookSecret, pub) == nil {
			t.Fatalf("forged delivery verified: %q %q %q", ts, sig, body)
		}
	})
}
