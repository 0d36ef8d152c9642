package report_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/report"
)

// newDSAFixture is the submit fixture (an approved incident of two
// files) sending to a fake Transparency Database instead of NCMEC.
func newDSAFixture(t testing.TB) (*submitFixture, *fakeTransparencyDB) {
	t.Helper()
	fake := &fakeTransparencyDB{token: "tok", stored: map[string]string{}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	_, ncmec := newFakeISPWS(t)
	fx := newSubmitFixture(t, ncmec)
	fx.sub.Destinations = []report.Destination{&report.DSA{Config: dsaCfg,
		DB: &report.TransparencyDB{BaseURL: srv.URL, Token: "tok", Client: &http.Client{Timeout: 2 * time.Second}}}}
	return fx, fake
}

func (fx *submitFixture) startTo(t testing.TB, dest string) *vigil.Submission {
	t.Helper()
	s, err := fx.sub.Start(context.Background(), fx.incident.ID, dest, "key:2:rev")
	must(t, err)
	return s
}

func (fx *submitFixture) dsa() *report.DSA { return fx.sub.Destinations[0].(*report.DSA) }

func TestSubmitDSA(t *testing.T) {
	ctx := context.Background()
	fx, fake := newDSAFixture(t)
	s := fx.startTo(t, report.DestinationDSA)
	must(t, fx.sub.Run(ctx, s.ID))
	got := fx.find(t, s.ID)
	if got.State != vigil.SubmissionFinished || len(got.Statements) != 2 || len(got.Attempts) != 2 {
		t.Fatalf("submission %+v", got)
	}
	for i, r := range got.Statements {
		if r.UUID == "" || !strings.HasPrefix(r.Permalink, "https://db.example/statement/") || r.Existing ||
			r.CaseID != fx.incident.Files[i].CaseID || fake.stored[r.PUID] != r.UUID {
			t.Errorf("receipt %d: %+v", i, r)
		}
	}
	for _, a := range got.Attempts {
		if a.Step != "statement" || !a.Replied || a.HTTPStatus != 201 || !strings.Contains(a.Reply, `"uuid"`) {
			t.Errorf("attempt %+v", a)
		}
	}
	// Running again sends nothing; a second submission is refused.
	n := fake.requests
	must(t, fx.sub.Run(ctx, s.ID))
	if _, err := fx.sub.Start(ctx, fx.incident.ID, report.DestinationDSA, "x"); vigil.ErrorCode(err) != vigil.ECONFLICT {
		t.Errorf("second submission: %v", err)
	}
	if fake.requests != n || len(fake.stored) != 2 {
		t.Errorf("requests %d → %d, stored %d", n, fake.requests, len(fake.stored))
	}
}

// 5xx and timeouts are retried; each statement is stored once.
func TestSubmitDSARetries5xxAndTimeouts(t *testing.T) {
	ctx := context.Background()
	fx, fake := newDSAFixture(t)
	fx.dsa().DB.Client.Timeout = 300 * time.Millisecond
	calls := 0
	fake.hook = func(w http.ResponseWriter, r *http.Request, _ map[string]any) bool {
		calls++
		switch calls {
		case 1, 2:
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		case 4:
			<-r.Context().Done() // a timeout on the second statement
			return true
		}
		return false
	}
	s := fx.startTo(t, report.DestinationDSA)
	var errs []error
	for range 10 {
		err := fx.sub.Run(ctx, s.ID)
		if err == nil {
			break
		}
		if vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
			t.Fatalf("run: %v, want a retryable error", err)
		}
		errs = append(errs, err)
	}
	got := fx.find(t, s.ID)
	if got.State != vigil.SubmissionFinished || len(errs) != 3 || len(got.Statements) != 2 || len(fake.stored) != 2 {
		t.Fatalf("submission %+v after %d retries (%v); stored %d", got, len(errs), errs, len(fake.stored))
	}
	if a := got.Attempts[0]; a.HTTPStatus != 503 || a.Error == "" {
		t.Errorf("first attempt %+v", a)
	}
	if a := got.Attempts[3]; a.Replied || a.Error == "" {
		t.Errorf("timed-out attempt %+v", a)
	}
}

// A kill after the database stored a statement but before its receipt
// was stored: the resumed run sends it again and the database's "already
// held" is its receipt. Nothing is stored twice.
func TestSubmitDSAKilledAfterStore(t *testing.T) {
	fx, fake := newDSAFixture(t)
	killCtx, kill := context.WithCancelCause(context.Background())
	fake.after = true
	fake.hook = func(w http.ResponseWriter, r *http.Request, s map[string]any) bool {
		if strings.HasSuffix(s["puid"].(string), "-case-2") && killCtx.Err() == nil {
			kill(errKilled)
			<-r.Context().Done()
			return true
		}
		return false
	}
	s := fx.startTo(t, report.DestinationDSA)
	if err := fx.sub.Run(killCtx, s.ID); !errors.Is(err, context.Canceled) {
		t.Fatalf("killed run: %v", err)
	}
	mid := fx.find(t, s.ID)
	if mid.State != vigil.SubmissionSubmitted || len(mid.Statements) != 1 || mid.Attempts[1].Replied {
		t.Fatalf("after the kill: %+v", mid)
	}
	again := *fx.sub // a new process on the same store
	must(t, again.Run(context.Background(), s.ID))
	got := fx.find(t, s.ID)
	if got.State != vigil.SubmissionFinished || len(got.Statements) != 2 || !got.Statements[1].Existing || len(fake.stored) != 2 {
		t.Fatalf("resumed: %+v, stored %d", got, len(fake.stored))
	}
}

// A 422 fails the submission naming the fields; the statement the
// database took before keeps its receipt, and a new submission after the
// fix stores nothing twice.
func TestSubmitDSA422Fails(t *testing.T) {
	ctx := context.Background()
	fx, fake := newDSAFixture(t)
	refuse := true
	fake.hook = func(w http.ResponseWriter, r *http.Request, s map[string]any) bool {
		if refuse && strings.HasSuffix(s["puid"].(string), "-case-2") {
			w.WriteHeader(http.StatusUnprocessableEntity)
			w.Write([]byte(`{"message":"The content date is invalid.","errors":{"content_date":["The content date does not match the format YYYY-MM-DD."]}}`))
			return true
		}
		return false
	}
	s := fx.startTo(t, report.DestinationDSA)
	must(t, fx.sub.Run(ctx, s.ID))
	got := fx.find(t, s.ID)
	if got.State != vigil.SubmissionFailed || !strings.Contains(got.Error, "content_date: ") || len(got.Statements) != 1 || got.Attempts[1].HTTPStatus != 422 {
		t.Fatalf("submission %+v", got)
	}
	refuse = false
	s2 := fx.startTo(t, report.DestinationDSA)
	must(t, fx.sub.Run(ctx, s2.ID))
	got = fx.find(t, s2.ID)
	if got.State != vigil.SubmissionFinished || !got.Statements[0].Existing || got.Statements[1].Existing || len(fake.stored) != 2 {
		t.Fatalf("second submission %+v, stored %d", got, len(fake.stored))
	}
}

// A refused token fails the submission saying so, after one request.
func TestSubmitDSA401Fails(t *testing.T) {
	ctx := context.Background()
	fx, fake := newDSAFixture(t)
	fx.dsa().DB.Token = "wrong"
	s := fx.startTo(t, report.DestinationDSA)
	must(t, fx.sub.Run(ctx, s.ID))
	got := fx.find(t, s.ID)
	if got.State != vigil.SubmissionFailed || !strings.Contains(got.Error, "token was refused") || fake.requests != 1 || got.Attempts[0].HTTPStatus != 401 {
		t.Fatalf("submission %+v, requests %d", got, fake.requests)
	}
}
