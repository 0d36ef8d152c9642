package http_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/centre/intake"
)

// TestUICentre: a centre reviewer sees the received reports with their
// flags and priority, opens one and closes it as unfounded from the form;
// the decision is the API's, audited.
func TestUICentre(t *testing.T) {
	ctx := context.Background()
	ts := mustOpenServer(t)
	c := openCentre(t, ts, "http://127.0.0.1:9/intake", []byte("0123456789abcdef-le"))
	p := &vigil.CentreProvider{Name: "example-chat", CreatedBy: "test"}
	if _, err := c.Reports.CreateProvider(ctx, p); err != nil {
		t.Fatal(err)
	}
	r, _, err := c.Triage.Receive(ctx, p, "r-1", &intake.Parsed{Format: vigil.CentreFormatEU, ReportedUser: "user-7",
		Files: []vigil.CentreFile{{SHA256: strings.Repeat("ab", 32), ClaimedMatches: 1}}}, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	ui := newUIClient(t, ts)
	ui.login(t, ts.keys[vigil.RoleReviewer])
	code, _, body := ui.get(t, "/ui/centre?status=received")
	if code != 200 || !strings.Contains(body, fmt.Sprintf(`href="/ui/centre/%d"`, r.ID)) || !strings.Contains(body, "Unconfirmed match") || !strings.Contains(body, `href="/ui/centre"`) {
		t.Fatalf("list %d %s", code, body)
	}
	if code, loc, _ := ui.get(t, "/ui/centre/next"); code != 303 || loc != fmt.Sprintf("/ui/centre/%d", r.ID) {
		t.Fatalf("next %d %q", code, loc)
	}
	code, _, body = ui.get(t, fmt.Sprintf("/ui/centre/%d", r.ID))
	if code != 200 || !strings.Contains(body, `value="unfounded"`) || !strings.Contains(body, "<option>police</option>") || !strings.Contains(body, "user-7") {
		t.Fatalf("report page %d %s", code, body)
	}
	if code, _, _ := ui.post(t, fmt.Sprintf("/ui/centre/%d/decide", r.ID), url.Values{"status": {"unfounded"}}); code != 400 {
		t.Errorf("unfounded without a reason: %d, want 400", code)
	}
	code, loc, _ := ui.post(t, fmt.Sprintf("/ui/centre/%d/decide", r.ID), url.Values{"status": {"unfounded"}, "text": {"not in our lists"}})
	if code != 303 || !strings.Contains(loc, "done=decided") {
		t.Fatalf("decide %d %q", code, loc)
	}
	got, err := c.Reports.FindCentreReport(ctx, r.ID)
	if err != nil || got.Status != vigil.CentreUnfounded || got.Reason != "not in our lists" || !strings.HasPrefix(got.DecidedBy, "key:") {
		t.Fatalf("after the form: %+v %v", got, err)
	}
	if n := audited(t, ts, vigil.AuditCentreDecide, vigil.CentreAuditTarget(r.ID)); n != 1 {
		t.Errorf("%d decision records, want 1", n)
	}
	// A curator key is not a centre reviewer.
	other := newUIClient(t, ts)
	other.login(t, ts.keys[vigil.RoleCurator])
	if code, _, _ := other.get(t, "/ui/centre"); code != 403 {
		t.Errorf("curator on the centre page: %d, want 403", code)
	}
}

// TestUICentreForward: the centre report page shows a forward's state,
// key and every attempt with its reply; a refused forward offers a
// retry, which queues it again (audited) under the same key.
func TestUICentreForward(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	status := http.StatusBadRequest
	le := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.WriteHeader(status)
		fmt.Fprintf(w, "intake says %d", status)
	}))
	defer le.Close()
	ts := mustOpenServer(t)
	c := openCentre(t, ts, le.URL, []byte("0123456789abcdef-le"))
	if err := ts.Banks.CreateBank(ctx, &vigil.Bank{Name: "centre-new", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	p := &vigil.CentreProvider{Name: "example-chat", CreatedBy: "test"}
	if _, err := c.Reports.CreateProvider(ctx, p); err != nil {
		t.Fatal(err)
	}
	r, _, err := c.Triage.Receive(ctx, p, "r-1", &intake.Parsed{Format: vigil.CentreFormatEU, ReportedUser: "user-7",
		Files: []vigil.CentreFile{{SHA256: strings.Repeat("ab", 32)}}}, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	ui := newUIClient(t, ts)
	ui.login(t, ts.keys[vigil.RoleReviewer])
	path := fmt.Sprintf("/ui/centre/%d", r.ID)
	if code, loc, _ := ui.post(t, path+"/decide", url.Values{"status": {"forwarded"}, "forward_to": {"police"}}); code != 303 || !strings.Contains(loc, "done=decided") {
		t.Fatalf("forward from the form: %d %q", code, loc)
	}
	if err := c.Outcome.Deliver(ctx, r.ID); err != nil { // the job's run: refused, final
		t.Fatal(err)
	}
	code, _, body := ui.get(t, path)
	if code != 200 || !strings.Contains(body, `id="forward-attempts"`) || !strings.Contains(body, "intake says 400") ||
		!strings.Contains(body, "state-failed") || !strings.Contains(body, "Deliver again") {
		t.Fatalf("page of a refused forward %d %s", code, body)
	}
	got, err := c.Reports.FindCentreReport(ctx, r.ID)
	if err != nil || !strings.Contains(body, got.ForwardKey) {
		t.Fatalf("page does not show the key %q: %v", got.ForwardKey, err)
	}
	mu.Lock()
	status = http.StatusAccepted
	mu.Unlock()
	if code, loc, _ := ui.post(t, path+"/forward", url.Values{}); code != 303 || !strings.Contains(loc, "done=queued") {
		t.Fatalf("retry from the form: %d %q", code, loc)
	}
	if q := c.Outcome.Queue.(*recordingQueue).queued(); len(q) != 2 || q[1] != r.ID {
		t.Fatalf("queued %v, want the report twice (decision, retry)", q)
	}
	if n := audited(t, ts, vigil.AuditCentreForwardRetry, vigil.CentreAuditTarget(r.ID)); n != 1 {
		t.Errorf("%d retry records, want 1", n)
	}
	if err := c.Outcome.Deliver(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	code, _, body = ui.get(t, path)
	if code != 200 || !strings.Contains(body, "state-delivered") || strings.Count(body, "intake says") != 2 || strings.Contains(body, "Deliver again") {
		t.Fatalf("page of a delivered forward %d %s", code, body)
	}
}
