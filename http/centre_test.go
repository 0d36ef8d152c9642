package http_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/centre"
	"github.com/vigil-oss/vigil/centre/intake"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/report"
	"github.com/vigil-oss/vigil/sqlite"
)

// picture returns a benign generated PNG: a gradient, different per seed.
func picture(tb testing.TB, seed int) []byte {
	tb.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 96, 96))
	for y := range 96 {
		for x := range 96 {
			img.Set(x, y, color.RGBA{uint8(x*2 + seed*40), uint8(y*2 + seed*90), uint8((x + y) * seed), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// lawEnforcement is a forward receiver that checks signatures and files
// each idempotency key once, as report.VerifyWebhook's doc asks.
type lawEnforcement struct {
	mu       sync.Mutex
	secret   []byte
	received map[string]centre.ForwardBody
	bad      int
}

func (le *lawEnforcement) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	le.mu.Lock()
	defer le.mu.Unlock()
	if err := report.VerifyWebhook(r.Header, body, time.Now(), 5*time.Minute, le.secret, nil); err != nil {
		le.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var fb centre.ForwardBody
	if err := json.Unmarshal(body, &fb); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if le.received == nil {
		le.received = map[string]centre.ForwardBody{}
	}
	le.received[r.Header.Get(report.HeaderIdempotencyKey)] = fb
	w.WriteHeader(http.StatusAccepted)
}

// openCentre makes ts a centre over its own store, forwarding to le; its
// forwards are queued on a recordingQueue (c.Outcome.Queue), which the
// test drives as the job would (c.Outcome.Deliver).
func openCentre(t *testing.T, ts *testServer, le string, secret []byte) *vhttp.CentreOptions {
	t.Helper()
	reports := sqlite.NewCentreService(ts.db)
	c := &vhttp.CentreOptions{Reports: reports, Triage: &centre.Triage{Banks: ts.Matcher, Reports: reports},
		Outcome: &centre.Outcome{Reports: reports, Destinations: map[string]centre.Forwarder{"police": &report.Webhook{URL: le, Secret: secret}},
			Queue: &recordingQueue{}, IndicatorBank: "centre-new", Source: "centre:eu-centre", Banks: ts.Banks, Entries: ts.Entries}}
	ts.Centre = c
	return c
}

// TestCentreLoop is the README's second tour on loopback: a provider
// instance matches two uploads, its reviewer confirms them, the incidents
// are approved and submitted to a centre instance; the centre triages
// them (one well-founded, one whose hash its lists do not confirm,
// flagged), forwards the first to law enforcement and closes the second
// as unfounded, and the provider polls both outcomes onto its
// submissions.
func TestCentreLoop(t *testing.T) {
	ctx := context.Background()
	known, unknown := picture(t, 1), picture(t, 2)

	// The centre, its law-enforcement destination and its banks.
	leSecret := []byte("0123456789abcdef-le")
	le := &lawEnforcement{secret: leSecret}
	leSrv := httptest.NewServer(le)
	defer leSrv.Close()
	ct := mustOpenServer(t)
	openCentre(t, ct, leSrv.URL, leSecret)
	for _, b := range []string{"centre-known", "centre-new"} {
		if code := ct.do(t, vigil.RoleCurator, "POST", "/v1/banks", "", jsonBody(map[string]string{"name": b}), nil); code != 201 {
			t.Fatalf("centre bank %s: %d", b, code)
		}
	}
	if code := ct.do(t, vigil.RoleCurator, "POST", "/v1/banks/centre-known/entries", "",
		jsonBody(map[string]any{"entries": []map[string]string{{"signal_type": "sha256", "value": sha256Hex(known), "source": "hotline"}}}), nil); code != 201 && code != 200 {
		t.Fatalf("centre entries: %d", code)
	}
	must(t, ct.Matcher.Refresh(ctx))
	var provA, provB struct {
		vigil.CentreProvider
		Key string `json:"key"`
	}
	if code := ct.do(t, vigil.RoleAdmin, "POST", "/v1/centre/providers", "", jsonBody(map[string]string{"name": "example-chat"}), &provA); code != 201 || provA.Key == "" {
		t.Fatalf("provider a: %d %+v", code, provA)
	}
	if code := ct.do(t, vigil.RoleAdmin, "POST", "/v1/centre/providers", "", jsonBody(map[string]string{"name": "other-forum"}), &provB); code != 201 {
		t.Fatalf("provider b: %d", code)
	}

	// The provider, sending to the centre.
	euCfg := report.EUConfig{Provider: report.EUProvider{Name: "Example Chat", Address: "Street 1", MemberState: "NL",
		ContactPoint: "Safety", ContactEmail: "s@example.org"}, ContentAction: "removed"}
	dest := &report.Centre{URL: ct.URL(), Key: provA.Key}
	queue := &recordingQueue{}
	pv := mustOpenServer(t, func(s *vhttp.Server) {
		s.EU = &report.EU{Config: euCfg}
		dest.EU = s.EU
		s.SubmissionQueue = queue
		s.Submitter.Destinations = append(s.Submitter.Destinations, dest)
	})
	rev, cur := vigil.RoleReviewer, vigil.RoleCurator
	must(t, pv.Cases.CreateQueue(ctx, &vigil.Queue{Name: "default", Roles: []vigil.Role{rev}}))
	if code := pv.do(t, cur, "POST", "/v1/rules", "", jsonBody(map[string]any{"name": "any-match", "when": map[string]any{"kind": "match"},
		"action": map[string]any{"type": "case", "queue": "default", "priority": 50}}), nil); code != 201 {
		t.Fatalf("rule: %d", code)
	}
	if code := pv.do(t, cur, "POST", "/v1/banks", "", jsonBody(map[string]string{"name": "industry"}), nil); code != 201 {
		t.Fatalf("bank: %d", code)
	}
	// The provider's list holds both pictures; the centre's only one.
	if code := pv.do(t, cur, "POST", "/v1/banks/industry/entries", "", jsonBody(map[string]any{"entries": []map[string]string{
		{"signal_type": "sha256", "value": sha256Hex(known), "source": "industry"},
		{"signal_type": "sha256", "value": sha256Hex(unknown), "source": "industry"}}}), nil); code != 201 && code != 200 {
		t.Fatalf("entries: %d", code)
	}
	must(t, pv.Matcher.Refresh(ctx))

	submissions := map[string]int64{}
	for i, pic := range [][]byte{known, unknown} {
		user := fmt.Sprintf("user-%d", i+1)
		var m struct {
			Matched bool `json:"matched"`
			Actions struct {
				Cases []int64 `json:"cases"`
			} `json:"actions"`
		}
		if code := pv.do(t, vigil.RoleMatcher, "POST", "/v1/match?user_id="+user+"&content_id=upload-"+user, "image/png", bytes.NewReader(pic), &m); code != 200 || !m.Matched || len(m.Actions.Cases) != 1 {
			t.Fatalf("match %s: %d %+v", user, code, m)
		}
		caseID := m.Actions.Cases[0]
		if code := pv.do(t, rev, "POST", fmt.Sprintf("/v1/cases/%d/decision", caseID), "", jsonBody(map[string]string{"verdict": "confirmed", "category": "A1"}), nil); code != 200 {
			t.Fatalf("decide case %d: %d", caseID, code)
		}
		var inc vigil.Incident
		if code := pv.do(t, rev, "POST", "/v1/incidents", "", jsonBody(map[string]any{"case_ids": []int64{caseID}}), &inc); code != 201 {
			t.Fatalf("incident: %d", code)
		}
		path := fmt.Sprintf("/v1/incidents/%d", inc.ID)
		if code := pv.do(t, rev, "POST", path+"/approve", "", nil, nil); code != 200 {
			t.Fatalf("approve: %d", code)
		}
		var sub vigil.Submission
		if code := pv.do(t, rev, "POST", path+"/submit?destination=centre", "", nil, &sub); code != 202 || sub.IdempotencyKey == "" {
			t.Fatalf("submit: %d %+v", code, sub)
		}
		// What the durable job does.
		must(t, pv.Submitter.Run(ctx, sub.ID))
		got, err := pv.Submitter.Submissions.FindSubmission(ctx, sub.ID)
		must(t, err)
		if got.State != vigil.SubmissionFinished || got.ReportID == 0 {
			t.Fatalf("submission %+v", got)
		}
		submissions[user] = got.ID
	}

	// The centre triages: user-1's picture is in its list, user-2's is
	// claimed known but is not: flagged, queued below, not dropped.
	var list struct {
		Reports []vigil.CentreReport `json:"reports"`
	}
	if code := ct.do(t, rev, "GET", "/v1/centre/reports?status=received", "", nil, &list); code != 200 || len(list.Reports) != 2 {
		t.Fatalf("centre reports %d %+v", code, list)
	}
	byUser := map[string]vigil.CentreReport{}
	for _, r := range list.Reports {
		byUser[r.ReportedUser] = r
	}
	founded, flagged := byUser["user-1"], byUser["user-2"]
	if len(founded.Flags) != 0 || len(founded.Files) != 1 || len(founded.Files[0].CentreMatches) != 1 || founded.Provider != "example-chat" {
		t.Fatalf("well-founded report %+v", founded)
	}
	if !slices.Equal(flagged.Flags, []string{vigil.FlagUnconfirmedMatch}) || flagged.Priority >= founded.Priority {
		t.Fatalf("unconfirmed report: flags %v priority %d (founded %d)", flagged.Flags, flagged.Priority, founded.Priority)
	}
	var next vigil.CentreReport
	if code := ct.do(t, rev, "GET", "/v1/centre/next", "", nil, &next); code != 200 || next.ID != founded.ID {
		t.Fatalf("next %d %d, want %d", code, next.ID, founded.ID)
	}

	// Only the provider that sent a report sees it; an API key cannot
	// send as a provider; a resend is the same report.
	provReq := func(key, method, path string, body []byte, hdr map[string]string) (int, []byte) {
		req, _ := http.NewRequest(method, ct.URL()+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := provReq(provB.Key, "GET", fmt.Sprintf("/v1/centre/reports/%d", founded.ID), nil, nil); code != 404 {
		t.Errorf("provider b reads a's report: %d, want 404", code)
	}
	if code, b := provReq(provA.Key, "GET", fmt.Sprintf("/v1/centre/reports/%d", founded.ID), nil, nil); code != 200 || strings.Contains(string(b), "flags") {
		t.Errorf("provider a's own report: %d %s (no triage shown)", code, b)
	}
	if code, _ := provReq(ct.keys[vigil.RoleMatcher], "POST", "/v1/centre/reports", []byte(`{}`), map[string]string{"Content-Type": "application/json", "Idempotency-Key": "x"}); code != 403 {
		t.Errorf("an API key sends a report: %d, want 403", code)
	}
	if code, _ := provReq(provA.Key, "POST", "/v1/centre/decide", nil, nil); code != 404 {
		t.Errorf("unknown route: %d", code)
	}
	if code, _ := provReq(provA.Key, "GET", "/v1/centre/reports", nil, nil); code != 401 {
		t.Errorf("a provider lists the centre's reports: %d, want 401", code)
	}
	var raw vigil.CentreReport
	if code := ct.do(t, rev, "GET", fmt.Sprintf("/v1/centre/reports/%d", founded.ID), "", nil, &raw); code != 200 {
		t.Fatalf("reviewer get: %d", code)
	}
	rawBody, err := sqlite.NewCentreService(ct.db).FindCentreReport(ctx, founded.ID)
	must(t, err)
	code, b := provReq(provA.Key, "POST", "/v1/centre/reports", rawBody.Raw, map[string]string{"Content-Type": "application/json", "Idempotency-Key": founded.ProviderReportID})
	var resent vigil.CentreFeedback
	if json.Unmarshal(b, &resent); code != 200 || resent.ID != founded.ID {
		t.Fatalf("resend: %d %s, want 200 and report %d", code, b, founded.ID)
	}

	// Decisions: forward the first, close the second as unfounded.
	if code := ct.do(t, rev, "POST", fmt.Sprintf("/v1/centre/reports/%d/decision", founded.ID), "",
		jsonBody(map[string]string{"status": "forwarded", "forward_to": "nowhere"}), nil); code != 400 {
		t.Errorf("forward to an unknown destination: %d, want 400", code)
	}
	var fwd vigil.CentreReport
	if code := ct.do(t, rev, "POST", fmt.Sprintf("/v1/centre/reports/%d/decision", founded.ID), "",
		jsonBody(map[string]string{"status": "forwarded", "forward_to": "police"}), &fwd); code != 200 || fwd.Forward != vigil.ForwardPending || fwd.ForwardKey == "" {
		t.Fatalf("forward: %d %+v", code, fwd)
	}
	// The forward is recorded with the decision and queued; the job
	// delivers it.
	centreQueue := ct.Centre.Outcome.Queue.(*recordingQueue)
	if q := centreQueue.queued(); !slices.Equal(q, []int64{founded.ID}) {
		t.Fatalf("forwards queued %v, want [%d]", q, founded.ID)
	}
	must(t, ct.Centre.Outcome.Deliver(ctx, founded.ID))
	if code := ct.do(t, rev, "GET", fmt.Sprintf("/v1/centre/reports/%d", founded.ID), "", nil, &fwd); code != 200 || fwd.Forward != vigil.ForwardDelivered ||
		len(fwd.ForwardAttempts) != 1 || fwd.ForwardAttempts[0].HTTPStatus != 202 || len(fwd.Indicators) != 0 {
		t.Fatalf("delivered forward: %d %+v", code, fwd)
	}
	var closed vigil.CentreReport
	if code := ct.do(t, rev, "POST", fmt.Sprintf("/v1/centre/reports/%d/decision", flagged.ID), "",
		jsonBody(map[string]string{"status": "unfounded", "reason": "the hash is in no list the centre holds; the picture is not what the match claimed"}), &closed); code != 200 || closed.Status != vigil.CentreUnfounded {
		t.Fatalf("close: %d %+v", code, closed)
	}
	if code := ct.do(t, rev, "POST", fmt.Sprintf("/v1/centre/reports/%d/decision", flagged.ID), "",
		jsonBody(map[string]string{"status": "forwarded", "forward_to": "police"}), nil); code != 409 {
		t.Errorf("decide a closed report again: %d, want 409", code)
	}
	le.mu.Lock()
	if len(le.received) != 1 || le.bad != 0 {
		t.Errorf("law enforcement received %d forwards (%d badly signed), want 1", len(le.received), le.bad)
	}
	for key, fb := range le.received {
		if key != fwd.ForwardKey {
			t.Errorf("forward filed under key %q, want the decision's %q", key, fwd.ForwardKey)
		}
		if fb.CentreReportID != founded.ID || fb.ReportedUser != "user-1" || !json.Valid(fb.Report) {
			t.Errorf("forward body %+v", fb)
		}
	}
	le.mu.Unlock()
	recs, err := ct.Audit.ListAudit(ctx, 0, 1000)
	must(t, err)
	actions := map[string]int{}
	for _, r := range recs {
		actions[r.Action]++
	}
	if actions[vigil.AuditCentreReceive] != 3 || actions[vigil.AuditCentreDecide] != 2 || actions[vigil.AuditCentreForward] != 1 || actions[vigil.AuditCentreProviderAdd] != 2 {
		t.Errorf("centre audit records %v", actions)
	}

	// The provider polls and sees both outcomes on its submissions.
	for user, want := range map[string]vigil.CentreStatus{"user-1": vigil.CentreForwarded, "user-2": vigil.CentreUnfounded} {
		sub, err := pv.Submitter.Submissions.FindSubmission(ctx, submissions[user])
		must(t, err)
		fb, changed, err := dest.Poll(ctx, pv.Submitter.Submissions, sub)
		must(t, err)
		if fb.Status != want || !changed {
			t.Errorf("%s: feedback %+v changed %v, want %s", user, fb, changed, want)
		}
		if want == vigil.CentreUnfounded && !strings.Contains(fb.Reason, "no list") {
			t.Errorf("%s: reason %q", user, fb.Reason)
		}
		if _, changed, err = dest.Poll(ctx, pv.Submitter.Submissions, sub); err != nil || changed {
			t.Errorf("%s: a second poll stored again (%v)", user, err)
		}
		var subs struct{ Submissions []vigil.Submission }
		if code := pv.do(t, rev, "GET", fmt.Sprintf("/v1/incidents/%d/submissions", sub.IncidentID), "", nil, &subs); code != 200 || len(subs.Submissions) != 1 {
			t.Fatalf("submissions %d", code)
		}
		last := subs.Submissions[0].Attempts[len(subs.Submissions[0].Attempts)-1]
		if last.Step != report.StepCentreStatus || !strings.Contains(last.Reply, `"status":"`+string(want)+`"`) {
			t.Errorf("%s: last attempt %+v", user, last)
		}
	}
}

// TestCentreReceiveNCMEC: CyberTipline XML through the intake route, each
// document checked against NCMEC's schema; the claimed matches its HASH
// details and provenance lines name are checked against the centre's
// banks (here empty: flagged), and what the schema refuses is a 400.
func TestCentreReceiveNCMEC(t *testing.T) {
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint (libxml2-utils) not installed")
	}
	ctx := context.Background()
	ts := mustOpenServer(t)
	c := openCentre(t, ts, "http://127.0.0.1:9/intake", []byte("0123456789abcdef-le"))
	p := &vigil.CentreProvider{Name: "example-chat", CreatedBy: "test"}
	key, err := c.Reports.CreateProvider(ctx, p)
	must(t, err)
	read := func(name string) []byte {
		b, err := os.ReadFile("../report/testdata/golden/" + name)
		must(t, err)
		return b
	}
	send := func(id string, docs ...[]byte) (int, []byte) {
		body, ct, err := intake.Multipart(docs...)
		must(t, err)
		req, _ := http.NewRequest("POST", ts.URL()+"/v1/centre/reports", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Idempotency-Key", id)
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, b := send("tip-1", read("imagery.report.xml"), read("imagery.file1.xml"), read("imagery.file2.xml"))
	var fb vigil.CentreFeedback
	if json.Unmarshal(b, &fb); code != 201 || fb.ID == 0 {
		t.Fatalf("receive: %d %s", code, b)
	}
	r, err := c.Reports.FindCentreReport(ctx, fb.ID)
	must(t, err)
	if r.Format != vigil.CentreFormatNCMEC || r.ReportedUser != "user-4" || len(r.Files) != 2 || len(r.Files[0].PDQ) != 1 ||
		!slices.Equal(r.Flags, []string{vigil.FlagUnconfirmedMatch}) {
		t.Fatalf("triaged %+v", r)
	}
	bad := bytes.Replace(read("imagery.file1.xml"), []byte("<fileViewedByEsp>true"), []byte("<fileViewedByEsp>perhaps"), 1)
	if code, b := send("tip-2", read("imagery.report.xml"), bad); code != 400 || !strings.Contains(string(b), "document 1") {
		t.Errorf("schema-invalid file: %d %s, want 400 naming document 1", code, b)
	}
	if code, _ := send("tip-3", []byte(`<?xml version="1.0"?><!DOCTYPE report [<!ENTITY a "a">]><report>&a;</report>`)); code != 400 {
		t.Errorf("a DTD: %d, want 400", code)
	}
}
