package http_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/report"
)

// TestUIIncidents works an incident through the UI as a reviewer: the
// list, the page with what will be sent and its validation, media blurred,
// approval (confirmed, CSRF-checked, audited), submission through the
// API's logic and the submission's attempts; then legal holds as a
// curator: made, shown on the incident, released, all audited.
func TestUIIncidents(t *testing.T) {
	ctx := context.Background()
	queue := &recordingQueue{}
	ts := mustOpenServer(t, func(s *vhttp.Server) {
		s.NCMEC = &report.NCMECConfig{ReporterEmail: "safety@example.org", Platform: "Example"}
		s.Submitter.Destinations[0].(*report.NCMEC).Config, s.SubmissionQueue = *s.NCMEC, queue
		s.Submitter.Destinations = append(s.Submitter.Destinations, &report.DSA{DB: &report.TransparencyDB{BaseURL: "http://127.0.0.1:9"},
			Config: report.DSAConfig{PUIDPrefix: "example", DecisionGround: "DECISION_GROUND_ILLEGAL_CONTENT",
				IllegalContentLegalGround: "Directive 2011/93/EU", IllegalContentExplanation: "illegal in every Member State",
				DecisionVisibility: []string{"DECISION_VISIBILITY_CONTENT_REMOVED"}, TerritorialScope: []string{"DE"}}})
	})
	rev, cur := vigil.RoleReviewer, vigil.RoleCurator
	must(t, ts.Cases.CreateQueue(ctx, &vigil.Queue{Name: "default", Roles: []vigil.Role{rev, cur}}))
	blob, err := ts.Media.Put(ctx, []byte("stand-in bytes"))
	must(t, err)
	c := &vigil.Case{Queue: "default", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
		Content: vigil.ContentRef{SHA256: strings.Repeat("ab", 32), UserID: "u-1", MediaID: blob, MediaType: "image/png"},
		Matches: []vigil.Match{{BankID: 1, Bank: "b", EntryID: 7, SignalType: vigil.SignalMD5, Value: strings.Repeat("0f", 16), Source: "ncmec"}}}
	must(t, ts.Cases.OpenCase(ctx, c, "rules"))
	if code := ts.do(t, rev, "POST", fmt.Sprintf("/v1/cases/%d/decision", c.ID), "", jsonBody(map[string]string{"verdict": "confirmed", "category": "A2"}), nil); code != 200 {
		t.Fatalf("decide %d", code)
	}
	var inc vigil.Incident
	if code := ts.do(t, rev, "POST", "/v1/incidents", "", jsonBody(map[string]any{"case_ids": []int64{c.ID}}), &inc); code != 201 {
		t.Fatalf("create incident %d", code)
	}
	path := fmt.Sprintf("/ui/incidents/%d", inc.ID)

	ui := newUIClient(t, ts)
	ui.login(t, ts.keys[rev])
	code, _, body := ui.get(t, "/ui/incidents")
	if code != 200 || !strings.Contains(body, `href="`+path+`"`) || !strings.Contains(body, `href="/ui/incidents" aria-current="page"`) {
		t.Fatalf("incidents list %d %s", code, body)
	}
	if strings.Contains(body, `href="/ui/holds"`) {
		t.Error("a reviewer is offered the legal holds page")
	}
	if code, _, _ := ui.get(t, "/ui/incidents?state=sent"); code != 400 {
		t.Errorf("unknown state: %d, want 400", code)
	}
	code, _, body = ui.get(t, path)
	for _, want := range []string{
		`id="validation"`, "valid against NCMEC", `id="report-xml"`, "&lt;report", // the rendering, escaped
		`class="media blurred" src="/ui/cases/` + fmt.Sprint(c.ID) + `/preview"`, // media only blurred
		`id="approve-form"`, "A2", "age:pre-pubescent", "A draft: kept with its cases&#39; evidence, and discarded at",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	if code != 200 || strings.Contains(body, `id="submit-form"`) {
		t.Errorf("draft page %d offers submission", code)
	}

	// Approval needs the confirmation box and the session's CSRF token.
	if code, _, _ := ui.post(t, path+"/approve", nil); code != 400 {
		t.Errorf("approve without confirming: %d, want 400", code)
	}
	if code, _, _ := ui.post(t, path+"/approve", url.Values{"confirm": {"yes"}, "csrf": {"stale"}}); code != 403 {
		t.Errorf("approve with a bad CSRF token: %d, want 403", code)
	}
	if code, loc, _ := ui.post(t, path+"/approve", url.Values{"confirm": {"yes"}}); code != http.StatusSeeOther || loc != path+"?done=approved" {
		t.Fatalf("approve: %d %q", code, loc)
	}
	if n := audited(t, ts, vigil.AuditIncidentApprove, vigil.IncidentAuditTarget(inc.ID)); n != 1 {
		t.Errorf("%d approve records", n)
	}
	code, _, body = ui.get(t, path+"?done=approved")
	if code != 200 || !strings.Contains(body, `id="submit-form"`) || strings.Contains(body, `id="approve-form"`) || !strings.Contains(body, "Incident approved") {
		t.Errorf("approved page %d: %s", code, body)
	}
	if code, loc, _ := ui.post(t, path+"/submit", nil); code != http.StatusSeeOther || loc != path+"?done=submitted" {
		t.Fatalf("submit: %d %q", code, loc)
	}
	if n := audited(t, ts, vigil.AuditReportSubmit, vigil.IncidentAuditTarget(inc.ID)); n != 1 || len(queue.ids) != 1 {
		t.Errorf("%d submit records, %d queued", n, len(queue.ids))
	}
	// What the destination replied shows on the page.
	code200 := 0
	_, err = ts.Submitter.Submissions.UpdateSubmission(ctx, queue.ids[0], func(sub *vigil.Submission) error {
		sub.State, sub.ReportID = vigil.SubmissionSubmitted, 4242
		sub.Attempts = append(sub.Attempts, vigil.SubmissionAttempt{Step: "submit", Started: time.Now(), Replied: true, HTTPStatus: 200,
			ResponseCode: &code200, Reply: "<reportResponse><responseCode>0</responseCode></reportResponse>"})
		return nil
	})
	must(t, err)
	// Every destination the server sends to is offered, each on its own.
	if code, loc, _ := ui.post(t, path+"/submit", url.Values{"destination": {"dsa"}}); code != http.StatusSeeOther || loc != path+"?done=submitted" {
		t.Fatalf("submit to dsa: %d %q", code, loc)
	}
	if len(queue.ids) != 2 {
		t.Errorf("%d queued after the dsa submission, want 2", len(queue.ids))
	}
	if code, _, _ := ui.post(t, path+"/submit", url.Values{"destination": {"pigeon"}}); code != http.StatusBadRequest {
		t.Errorf("submit to an unknown destination: %d, want 400", code)
	}
	code, _, body = ui.get(t, path)
	for _, want := range []string{"Submission 1 to ncmec: submitted", "4242", "&lt;reportResponse&gt;", "Queue submission 1 again",
		`id="submit-form-dsa"`, "Queue submission 2 again"} {
		if !strings.Contains(body, want) {
			t.Errorf("page after submission lacks %q", want)
		}
	}
	if code, _, _ := ui.get(t, "/ui/holds"); code != 403 {
		t.Errorf("a reviewer opens the holds page: %d, want 403", code)
	}

	// Holds, as a curator.
	cu := newUIClient(t, ts)
	cu.login(t, ts.keys[cur])
	code, _, body = cu.get(t, "/ui/holds")
	if code != 200 || !strings.Contains(body, `id="hold-form"`) || !strings.Contains(body, "No legal holds") {
		t.Fatalf("holds page %d %s", code, body)
	}
	day := time.Now().UTC().AddDate(0, 3, 0).Format(time.DateOnly)
	form := url.Values{"kind": {"incident"}, "id": {fmt.Sprint(inc.ID)}, "reason": {"preservation request ref 9"}, "requested_by": {"Police"}, "until": {day}}
	for field, bad := range map[string]string{"kind": "user", "id": "x", "until": "soon", "reason": ""} {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set(field, bad)
		if code, _, _ := cu.post(t, "/ui/holds", f); code != 400 {
			t.Errorf("hold with %s=%q: %d, want 400", field, bad, code)
		}
	}
	if code, loc, _ := cu.post(t, "/ui/holds", form); code != http.StatusSeeOther || loc != "/ui/holds?done=hold" {
		t.Fatalf("make hold: %d %q", code, loc)
	}
	holds, err := ts.Preservation.ListHolds(ctx, vigil.HoldFilter{IncidentID: inc.ID})
	must(t, err)
	if len(holds) != 1 || holds[0].RequestedBy != "Police" || holds[0].Until.Format(time.DateOnly) != time.Now().UTC().AddDate(0, 3, 1).Format(time.DateOnly) {
		t.Fatalf("holds %+v", holds)
	}
	h := holds[0]
	if n := audited(t, ts, vigil.AuditHoldCreate, vigil.HoldAuditTarget(h.ID)); n != 1 {
		t.Errorf("%d hold records", n)
	}
	code, _, body = cu.get(t, path)
	if code != 200 || !strings.Contains(body, "preservation request ref 9") || !strings.Contains(body, "A legal hold keeps it longer") ||
		strings.Contains(body, "media blurred") || strings.Contains(body, `href="/ui/cases/`) {
		t.Errorf("incident page for a curator (%d): hold shown, no media and no case links expected: %s", code, body)
	}
	if code, loc, _ := cu.post(t, fmt.Sprintf("/ui/holds/%d/extend", h.ID), url.Values{"until": {time.Now().UTC().AddDate(0, 6, 0).Format(time.DateOnly)}}); code != http.StatusSeeOther {
		t.Errorf("extend: %d %q", code, loc)
	}
	if code, _, _ := cu.post(t, fmt.Sprintf("/ui/holds/%d/release", h.ID), url.Values{"reason": {""}}); code != 400 {
		t.Errorf("release without a reason: %d, want 400", code)
	}
	if code, loc, _ := cu.post(t, fmt.Sprintf("/ui/holds/%d/release", h.ID), url.Values{"reason": {"order lifted"}}); code != http.StatusSeeOther || loc != "/ui/holds?done=released" {
		t.Errorf("release: %d %q", code, loc)
	}
	code, _, body = cu.get(t, "/ui/holds?active=false")
	if code != 200 || !strings.Contains(body, "released") || !strings.Contains(body, "order lifted") {
		t.Errorf("released holds %d %s", code, body)
	}
	for _, action := range []string{vigil.AuditHoldExtend, vigil.AuditHoldRelease} {
		if n := audited(t, ts, action, vigil.HoldAuditTarget(h.ID)); n != 1 {
			t.Errorf("%d %s records", n, action)
		}
	}
	// A hold on one of its cases keeps the incident too, and shows on it.
	code, _, body = cu.get(t, path)
	if code != 200 || strings.Contains(body, "A legal hold keeps it longer") {
		t.Errorf("incident page after release (%d) still says it is held", code)
	}
	must(t, ts.Preservation.CreateHold(ctx, &vigil.Hold{CaseID: c.ID, Reason: "case request", Until: time.Now().Add(48 * time.Hour)}, "admin"))
	code, _, body = cu.get(t, path)
	if code != 200 || !strings.Contains(body, fmt.Sprintf("on case %d", c.ID)) || !strings.Contains(body, "A legal hold keeps it longer") {
		t.Errorf("incident page with a held case (%d): %s", code, body)
	}
}
