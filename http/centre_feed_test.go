package http_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/report"
)

// TestCentreIndicatorFeed is the README tour's last leg on loopback: a
// provider reports a new picture (no list knew it; a classifier ranked it
// and its reviewer confirmed it) to a centre; the centre's reviewer
// forwards it, which makes an indicator in the centre's bank; the centre
// publishes that bank as a signed feed; the provider, subscribed to the
// feed with the key the centre registered it with, syncs as vigil serve
// --feed-sync does; and the same picture uploaded at the provider again
// now matches, with provenance naming the centre and its report.
func TestCentreIndicatorFeed(t *testing.T) {
	ctx := context.Background()
	pic := picture(t, 3) // benign, generated

	// The centre: its law-enforcement destination, its (empty) list of
	// known material and the bank its indicators go to.
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
	var prov struct {
		vigil.CentreProvider
		Key string `json:"key"`
	}
	if code := ct.do(t, vigil.RoleAdmin, "POST", "/v1/centre/providers", "", jsonBody(map[string]string{"name": "example-chat"}), &prov); code != 201 {
		t.Fatalf("provider: %d", code)
	}

	// The provider: no list holds the picture; a classifier ranks it for
	// review (ranking only: the reviewer decides).
	fake := newFakeClassifier(t, 0.93)
	dest := &report.Centre{URL: ct.URL(), Key: prov.Key}
	pv := mustOpenServer(t, withClassifier(fake.URL, vigil.PrecisionFloor{MinScore: 0.5, MinDecisions: 2, MinPrecision: 0.6}), func(s *vhttp.Server) {
		s.EU = &report.EU{Config: report.EUConfig{Provider: report.EUProvider{Name: "Example Chat", Address: "Street 1", MemberState: "NL",
			ContactPoint: "Safety", ContactEmail: "s@example.org"}, ContentAction: "removed"}}
		dest.EU = s.EU
		s.SubmissionQueue = &recordingQueue{}
		s.Submitter.Destinations = append(s.Submitter.Destinations, dest)
	})
	rev, cur := vigil.RoleReviewer, vigil.RoleCurator
	must(t, pv.Cases.CreateQueue(ctx, &vigil.Queue{Name: "default", Roles: []vigil.Role{rev}}))
	if code := pv.do(t, cur, "POST", "/v1/rules", "", jsonBody(map[string]any{"name": "model-review",
		"when":   map[string]any{"kind": "classifier", "classifier": "fake", "label": "csam", "min_score": 0.8},
		"action": map[string]any{"type": "case", "queue": "default", "priority": 75}}), nil); code != 201 {
		t.Fatalf("rule: %d", code)
	}
	must(t, pv.Cases.CreateQueue(ctx, &vigil.Queue{Name: "matches", Roles: []vigil.Role{rev}}))
	if code := pv.do(t, cur, "POST", "/v1/rules", "", jsonBody(map[string]any{"name": "any-match", "when": map[string]any{"kind": "match"},
		"action": map[string]any{"type": "case", "queue": "matches", "priority": 50}}), nil); code != 201 {
		t.Fatalf("match rule: %d", code)
	}
	type matched struct {
		Matched bool                `json:"matched"`
		Results []vigil.MatchResult `json:"results"`
		Actions *vigil.Outcome      `json:"actions"`
	}
	upload := func(contentID string) matched {
		t.Helper()
		var m matched
		if code := pv.do(t, vigil.RoleMatcher, "POST", "/v1/match?user_id=user-9&content_id="+contentID, "image/png", bytes.NewReader(pic), &m); code != 200 {
			t.Fatalf("match %s: %d", contentID, code)
		}
		return m
	}
	first := upload("upload-1")
	if first.Matched || first.Actions == nil || len(first.Actions.Cases) != 1 {
		t.Fatalf("first upload: %+v, want no match and one classifier case", first)
	}
	caseID := first.Actions.Cases[0]
	if code := pv.do(t, rev, "POST", fmt.Sprintf("/v1/cases/%d/decision", caseID), "", jsonBody(map[string]string{"verdict": "confirmed", "category": "A1"}), nil); code != 200 {
		t.Fatalf("decide: %d", code)
	}
	var inc vigil.Incident
	if code := pv.do(t, rev, "POST", "/v1/incidents", "", jsonBody(map[string]any{"case_ids": []int64{caseID}}), &inc); code != 201 {
		t.Fatalf("incident: %d", code)
	}
	if code := pv.do(t, rev, "POST", fmt.Sprintf("/v1/incidents/%d/approve", inc.ID), "", nil, nil); code != 200 {
		t.Fatalf("approve: %d", code)
	}
	var sub vigil.Submission
	if code := pv.do(t, rev, "POST", fmt.Sprintf("/v1/incidents/%d/submit?destination=centre", inc.ID), "", nil, &sub); code != 202 {
		t.Fatalf("submit: %d", code)
	}
	must(t, pv.Submitter.Run(ctx, sub.ID)) // what the submission job does

	// The centre: new material, nothing flagged; its reviewer forwards it,
	// and the forward's job makes the indicator.
	var list struct {
		Reports []vigil.CentreReport `json:"reports"`
	}
	if code := ct.do(t, rev, "GET", "/v1/centre/reports?status=received", "", nil, &list); code != 200 || len(list.Reports) != 1 {
		t.Fatalf("centre reports: %d %+v", code, list)
	}
	got := list.Reports[0]
	if len(got.Flags) != 0 || len(got.Files) != 1 || got.Files[0].SHA256 != sha256Hex(pic) || len(got.Files[0].CentreMatches) != 0 {
		t.Fatalf("received %+v, want one new, unflagged file", got)
	}
	if code := ct.do(t, rev, "POST", fmt.Sprintf("/v1/centre/reports/%d/decision", got.ID), "",
		jsonBody(map[string]string{"status": "forwarded", "forward_to": "police"}), nil); code != 200 {
		t.Fatalf("forward: %d", code)
	}
	must(t, ct.Centre.Outcome.Deliver(ctx, got.ID)) // what the forward job does
	var fwd vigil.CentreReport
	if code := ct.do(t, rev, "GET", fmt.Sprintf("/v1/centre/reports/%d", got.ID), "", nil, &fwd); code != 200 ||
		fwd.Forward != vigil.ForwardDelivered || len(fwd.Indicators) != 1 {
		t.Fatalf("forwarded: %d %+v", code, fwd)
	}

	// The centre publishes its indicator bank (vigil feed keygen, create,
	// cut).
	skey, vkey, err := note.GenerateKey(rand.Reader, "centre.example.org")
	must(t, err)
	signer, err := note.NewSigner(skey)
	must(t, err)
	must(t, ct.Feeds.CreateFeed(ctx, &vigil.Feed{Name: "centre-indicators", Banks: []string{"centre-new"}, VerifierKey: vkey}))
	pub := &feed.Publisher{Feeds: ct.Feeds, Signer: signer}
	if n, err := pub.Cut(ctx, "centre-indicators"); err != nil || n != 1 {
		t.Fatalf("cut: %d batches, %v", n, err)
	}

	// The provider subscribes (vigil feed subscribe … --bank from-centre)
	// and syncs one round as vigil serve --feed-sync does, sending the key
	// the centre registered it with: it holds no key of the centre's own,
	// which would open the centre's banks to it.
	s := &vigil.Subscription{URL: ct.URL() + "/v1/feeds/centre-indicators", Feed: "centre-indicators", Key: vkey}
	must(t, pv.Subscriptions.CreateBankSubscription(ctx, &vigil.Bank{Name: "from-centre", Enabled: true}, s))
	cl := &feed.Client{Subs: pv.Subscriptions, APIKey: prov.Key, Actor: "server", Audit: true}
	sources, err := feed.SubscriptionSources(pv.Subscriptions, cl)(ctx)
	must(t, err)
	if len(sources) != 1 {
		t.Fatalf("%d feed sources, want 1", len(sources))
	}
	if err := sources[0].Sync(ctx); err != nil {
		t.Fatalf("feed sync with the provider's key: %v", err)
	}
	must(t, pv.Matcher.Refresh(ctx)) // the server's matcher refreshes on a timer

	// The same picture now matches at the provider, and the match says
	// where the entry came from: the centre, its report.
	again := upload("upload-2")
	var hit *vigil.Match
	for _, r := range again.Results {
		for i := range r.Matches {
			if r.Matches[i].Bank == "from-centre" {
				hit = &r.Matches[i]
			}
		}
	}
	if !again.Matched || hit == nil {
		t.Fatalf("second upload: %+v, want a match in from-centre", again.Results)
	}
	if hit.SignalType != vigil.SignalSHA256 || hit.Value != sha256Hex(pic) || hit.Source != "centre:eu-centre" ||
		hit.SourceEntryID != fmt.Sprintf("report-%d", got.ID) {
		t.Fatalf("match provenance %+v, want source centre:eu-centre, entry report-%d", hit, got.ID)
	}
	// The provider's reviewer confirms the match; the next round of the
	// sync sends the centre the review counts of its entry, under the
	// provider's name. The provider's key opens nothing else of the
	// centre's.
	if again.Actions == nil || len(again.Actions.Cases) == 0 {
		t.Fatalf("second upload opened no case: %+v", again.Actions)
	}
	for _, id := range again.Actions.Cases {
		if code := pv.do(t, rev, "POST", fmt.Sprintf("/v1/cases/%d/decision", id), "", jsonBody(map[string]string{"verdict": "confirmed", "category": "A1"}), nil); code != 200 {
			t.Fatalf("decide case %d: %d", id, code)
		}
	}
	if err := sources[0].Sync(ctx); err != nil {
		t.Fatalf("second round: %v", err)
	}
	var fbk struct {
		Feedback []vigil.FeedEntryFeedback `json:"feedback"`
	}
	if code := ct.do(t, cur, "GET", "/v1/feeds/centre-indicators/feedback", "", nil, &fbk); code != 200 || len(fbk.Feedback) != 1 ||
		fbk.Feedback[0].EntryID != fwd.Indicators[0] || fbk.Feedback[0].Confirmed < 1 || fbk.Feedback[0].FalsePositives != 0 {
		t.Fatalf("centre's feedback on its indicator: %d %+v", code, fbk)
	}
	recs := auditedAction(t, ct, vigil.AuditFeedFeedback)
	if len(recs) == 0 || recs[len(recs)-1].Actor != prov.Actor() {
		t.Errorf("feedback records %+v, want them by %s", recs, prov.Actor())
	}
	for _, p := range []struct{ method, path string }{{"GET", "/v1/banks"}, {"GET", "/v1/feeds/centre-indicators/feedback"},
		{"POST", "/v1/banks/centre-new/entries"}, {"GET", "/v1/centre/reports"}} {
		if code := doKey(t, ct, prov.Key, p.method, p.path, jsonBody(map[string]any{"entries": []any{}})); code != 401 && code != 403 {
			t.Errorf("provider key on %s %s: %d, want 401 or 403", p.method, p.path, code)
		}
	}
}

// doKey sends a request to ts with secret as its bearer token and
// returns the status.
func doKey(tb testing.TB, ts *testServer, secret, method, path string, body io.Reader) int {
	tb.Helper()
	req, err := http.NewRequest(method, ts.URL()+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
