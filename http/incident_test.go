package http_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/report"
)

// TestIncidentFlow builds an incident from a confirmed case through the
// API, with the platform's account facts, edits, renders and approves it,
// and checks that every change is audited and that an approved incident
// can no longer change.
func TestIncidentFlow(t *testing.T) {
	ctx := context.Background()
	queue := &recordingQueue{}
	ts := mustOpenServer(t, func(s *vhttp.Server) {
		s.NCMEC = &report.NCMECConfig{ReporterEmail: "safety@example.org", Platform: "Example", IndustryMOU: true}
		s.Submitter.Destinations[0].(*report.NCMEC).Config, s.SubmissionQueue = *s.NCMEC, queue
		s.DSA = &report.DSAConfig{PUIDPrefix: "example", DecisionGround: "DECISION_GROUND_ILLEGAL_CONTENT",
			IllegalContentLegalGround: "Directive 2011/93/EU", IllegalContentExplanation: "illegal in every Member State",
			DecisionVisibility: []string{"DECISION_VISIBILITY_CONTENT_REMOVED"}, TerritorialScope: []string{"DE"}}
	})
	rev, cur := vigil.RoleReviewer, vigil.RoleCurator
	must(t, ts.Cases.CreateQueue(ctx, &vigil.Queue{Name: "default", Roles: []vigil.Role{rev, cur}}))
	must(t, ts.Cases.CreateQueue(ctx, &vigil.Queue{Name: "legal"}))
	open := func(queue, user string) int64 {
		c := &vigil.Case{Queue: queue, Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
			Content: vigil.ContentRef{SHA256: strings.Repeat("ab", 32), UserID: user, ContentID: "p-1"},
			Matches: []vigil.Match{{BankID: 1, Bank: "b", EntryID: 7, SignalType: vigil.SignalMD5, Value: strings.Repeat("0f", 16), Source: "ncmec"}}}
		must(t, ts.Cases.OpenCase(ctx, c, "rules"))
		return c.ID
	}
	id := open("default", "u-1")
	unconfirmed := open("default", "u-1")
	legal := open("legal", "u-1")
	if code := ts.do(t, rev, "POST", fmt.Sprintf("/v1/cases/%d/decision", id), "", jsonBody(map[string]string{"verdict": "confirmed", "category": "A2"}), nil); code != 200 {
		t.Fatalf("decide %d", code)
	}
	// Confirmed in a queue reviewers do not see: never listed to them.
	if code := ts.do(t, vigil.RoleAdmin, "POST", fmt.Sprintf("/v1/cases/%d/decision", legal), "", jsonBody(map[string]string{"verdict": "confirmed"}), nil); code != 200 {
		t.Fatalf("decide the legal queue's case: %d", code)
	}

	var facts vigil.AccountFacts
	body := `{"screen_name":"sun","ips":[{"ip":"192.0.2.1","event":"Login","time":"2026-11-01T10:00:00Z"}]}`
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/accounts/u-1/facts", "", strings.NewReader(body), &facts); code != 200 || facts.ScreenName != "sun" || len(facts.IPs) != 1 {
		t.Fatalf("add facts %d %+v", code, facts)
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/accounts/u-1/facts", "", strings.NewReader(`{"ips":[{"ip":"x","event":"Dance"}]}`), nil); code != 400 {
		t.Errorf("bad facts: %d, want 400", code)
	}

	for _, tc := range []struct {
		cases []int64
		code  int
	}{
		{[]int64{unconfirmed}, 409}, // not confirmed
		{[]int64{legal}, 404},       // a queue the reviewer may not see
		{nil, 400},
	} {
		if code := ts.do(t, rev, "POST", "/v1/incidents", "", jsonBody(map[string]any{"case_ids": tc.cases}), nil); code != tc.code {
			t.Errorf("incident of %v: %d, want %d", tc.cases, code, tc.code)
		}
	}
	// Before: the confirmed case is still to be reported; after, it is not.
	unreported := func() []int64 {
		t.Helper()
		var page struct {
			Cases []*vigil.Case `json:"cases"`
		}
		if code := ts.do(t, rev, "GET", "/v1/incidents/unreported", "", nil, &page); code != 200 {
			t.Fatalf("unreported cases: %d", code)
		}
		var ids []int64
		for _, c := range page.Cases {
			ids = append(ids, c.ID)
		}
		return ids
	}
	if got := unreported(); !slices.Contains(got, id) || slices.Contains(got, legal) || slices.Contains(got, unconfirmed) {
		t.Errorf("unreported before the incident: %v, want %d and not %d (unseen queue) nor %d (not confirmed)", got, id, legal, unconfirmed)
	}
	var inc vigil.Incident
	if code := ts.do(t, rev, "POST", "/v1/incidents", "", jsonBody(map[string]any{"case_ids": []int64{id}}), &inc); code != 201 ||
		inc.ReportedUser != "u-1" || len(inc.Files) != 1 || inc.Files[0].Classification != "A2" || inc.State != vigil.IncidentDraft || inc.Files[0].Viewed {
		t.Fatalf("create incident %d %+v", code, inc)
	}
	if code := ts.do(t, rev, "POST", "/v1/incidents", "", jsonBody(map[string]any{"case_ids": []int64{id}}), nil); code != 409 {
		t.Errorf("second incident of one case: %d, want 409", code)
	}
	if got := unreported(); slices.Contains(got, id) {
		t.Errorf("unreported after the incident: %v still holds %d", got, id)
	}
	path := fmt.Sprintf("/v1/incidents/%d", inc.ID)
	if code := ts.do(t, cur, "PATCH", path, "", strings.NewReader(`{"urgent":"ongoing","files":[{"case_id":`+fmt.Sprint(id)+`,"annotations":["generativeAi"]}]}`), &inc); code != 200 ||
		inc.Urgent != "ongoing" || len(inc.Files[0].Annotations) != 1 {
		t.Fatalf("edit %d %+v", code, inc)
	}
	// Labels are the INHOPE-style vocabulary: an unknown one is refused,
	// named; a bare value is read as its dimension's.
	var refused map[string]any
	if code := ts.do(t, cur, "PATCH", path, "", strings.NewReader(`{"labels":["legality:baseline","sparkly"]}`), &refused); code != 400 ||
		!strings.Contains(fmt.Sprint(refused), `"sparkly"`) {
		t.Errorf("unknown label: %d %v, want 400 naming it", code, refused)
	}
	if code := ts.do(t, cur, "PATCH", path, "", strings.NewReader(`{"labels":["baseline","age:pre-pubescent","content:image"]}`), &inc); code != 200 ||
		strings.Join(inc.Labels, ",") != "legality:baseline,age:pre-pubescent,content:image" {
		t.Errorf("labels %d %v", code, inc.Labels)
	}
	var rend report.Rendering
	if code := ts.do(t, rev, "GET", path+"/render?format=ncmec", "", nil, &rend); code != 200 || !rend.Valid || len(rend.Files) != 1 ||
		!strings.Contains(rend.Report, "<screenName>sun</screenName>") || !strings.Contains(rend.Files[0], "<generativeAi>true</generativeAi>") {
		t.Fatalf("render %d %+v", code, rend)
	}
	// DSA statements of reasons: a draft's application day must be given.
	if code := ts.do(t, rev, "GET", path+"/render?format=dsa", "", nil, nil); code != 400 {
		t.Errorf("dsa render of a draft without applied: %d, want 400", code)
	}
	for _, q := range []string{"?format=dsa&applied=4.11.2026", "?format=pdf"} {
		if code := ts.do(t, rev, "GET", path+"/render"+q, "", nil, nil); code != 400 {
			t.Errorf("render%s: %d, want 400", q, code)
		}
	}
	var dsa report.Rendering
	if code := ts.do(t, rev, "GET", path+"/render?format=dsa&applied=2026-11-04", "", nil, &dsa); code != 200 || !dsa.Valid || dsa.Format != "dsa" ||
		!strings.Contains(dsa.Report, `"KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE"`) || !strings.Contains(dsa.Report, `"application_date": "2026-11-04"`) {
		t.Fatalf("dsa render %d %+v", code, dsa)
	}
	if code := ts.do(t, rev, "POST", path+"/submit", "", nil, nil); code != 409 {
		t.Errorf("submit a draft: %d, want 409", code)
	}
	if code := ts.do(t, rev, "POST", path+"/approve", "", nil, &inc); code != 200 || inc.State != vigil.IncidentApproved || inc.ApprovedBy != "key:4:reviewer" {
		t.Fatalf("approve %d %+v", code, inc)
	}
	if code := ts.do(t, cur, "PATCH", path, "", strings.NewReader(`{"urgent":"x"}`), nil); code != 409 {
		t.Errorf("edit after approval: %d, want 409", code)
	}
	if code := ts.do(t, rev, "GET", path+"/render?format=dsa", "", nil, &dsa); code != 200 || !dsa.Valid ||
		!strings.Contains(dsa.Report, `"application_date": "`+inc.ApprovedAt.UTC().Format(time.DateOnly)) {
		t.Errorf("dsa render of an approved incident %d %+v", code, dsa)
	}
	if code := ts.do(t, vigil.RoleMatcher, "GET", path, "", nil, nil); code != 403 {
		t.Errorf("matcher reads an incident: %d, want 403", code)
	}
	var list struct{ Incidents []vigil.Incident }
	if code := ts.do(t, rev, "GET", "/v1/incidents?state=approved", "", nil, &list); code != 200 || len(list.Incidents) != 1 {
		t.Errorf("list %d %+v", code, list)
	}

	var sub vigil.Submission
	if code := ts.do(t, rev, "POST", path+"/submit", "", nil, &sub); code != 202 || sub.State != vigil.SubmissionPending || sub.IncidentID != inc.ID {
		t.Fatalf("submit %d %+v", code, sub)
	}
	var again vigil.Submission
	if code := ts.do(t, rev, "POST", path+"/submit", "", nil, &again); code != 202 || again.ID != sub.ID {
		t.Errorf("submit again %d %+v, want submission %d", code, again, sub.ID)
	}
	queue.mu.Lock()
	defer queue.mu.Unlock()
	if len(queue.ids) != 2 || queue.ids[0] != sub.ID || queue.ids[1] != sub.ID {
		t.Errorf("queued %v", queue.ids)
	}
	var subs struct{ Submissions []vigil.Submission }
	if code := ts.do(t, rev, "GET", path+"/submissions", "", nil, &subs); code != 200 || len(subs.Submissions) != 1 {
		t.Errorf("submissions %d %+v", code, subs)
	}

	recs, err := ts.Audit.ListAudit(ctx, 0, 100)
	must(t, err)
	want := map[string]string{vigil.AuditReportSubmit: "", vigil.AuditIncidentCreate: "", vigil.AuditIncidentUpdate: "", vigil.AuditIncidentApprove: "", vigil.AuditAccountFacts: ""}
	for _, r := range recs {
		if _, ok := want[r.Action]; ok {
			want[r.Action] = r.Target
		}
	}
	target := vigil.IncidentAuditTarget(inc.ID)
	if want[vigil.AuditIncidentCreate] != target || want[vigil.AuditIncidentUpdate] != target || want[vigil.AuditIncidentApprove] != target || want[vigil.AuditAccountFacts] != "account:u-1" ||
		want[vigil.AuditReportSubmit] != target {
		t.Errorf("audit targets %v", want)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// recordingQueue is a SubmissionQueue that keeps the ids it is given.
type recordingQueue struct {
	mu  sync.Mutex
	ids []int64
}

func (q *recordingQueue) QueueSubmission(ctx context.Context, id int64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ids = append(q.ids, id)
	return nil
}

// QueueCentreForward makes it a CentreForwardQueue too.
func (q *recordingQueue) QueueCentreForward(ctx context.Context, id int64, retry int) error {
	return q.QueueSubmission(ctx, id)
}

// queued returns the ids queued so far.
func (q *recordingQueue) queued() []int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.ids)
}

// Without --dsa-config the server does not render statements of reasons.
func TestRenderDSAUnconfigured(t *testing.T) {
	ts := mustOpenServer(t)
	if code := ts.do(t, vigil.RoleReviewer, "GET", "/v1/incidents/1/render?format=dsa&applied=2026-11-04", "", nil, nil); code != 415 {
		t.Errorf("dsa render without a config: %d, want 415", code)
	}
}

// The EU Centre rendering and submission to every destination: one
// submission per destination, all listed on the incident.
func TestIncidentEURenderAndDestinations(t *testing.T) {
	ctx := context.Background()
	queue := &recordingQueue{}
	euCfg := report.EUConfig{Provider: report.EUProvider{Name: "Example", Address: "Street 1", MemberState: "NL", ContactPoint: "Safety", ContactEmail: "s@example.org"},
		ContentAction: "removed"}
	ts := mustOpenServer(t, func(s *vhttp.Server) {
		s.EU = &report.EU{Config: euCfg}
		s.SubmissionQueue = queue
		s.Submitter.Destinations[0].(*report.NCMEC).Config = report.NCMECConfig{ReporterEmail: "safety@example.org", Platform: "Example"}
		s.Submitter.Destinations = append(s.Submitter.Destinations,
			&report.DSA{DB: &report.TransparencyDB{BaseURL: "http://127.0.0.1:9"}},
			&report.Webhook{URL: "http://127.0.0.1:9/intake", Secret: []byte("0123456789abcdef"), EU: s.EU})
		s.Submitter.Destinations[1].(*report.DSA).Config = report.DSAConfig{PUIDPrefix: "example", DecisionGround: "DECISION_GROUND_ILLEGAL_CONTENT",
			IllegalContentLegalGround: "Directive 2011/93/EU", IllegalContentExplanation: "illegal in every Member State",
			DecisionVisibility: []string{"DECISION_VISIBILITY_CONTENT_REMOVED"}, TerritorialScope: []string{"DE"}}
	})
	rev := vigil.RoleReviewer
	must(t, ts.Cases.CreateQueue(ctx, &vigil.Queue{Name: "default", Roles: []vigil.Role{rev}}))
	c := &vigil.Case{Queue: "default", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
		Content: vigil.ContentRef{SHA256: strings.Repeat("ab", 32), UserID: "u-1"},
		Matches: []vigil.Match{{BankID: 1, Bank: "b", EntryID: 7, SignalType: vigil.SignalMD5, Value: strings.Repeat("0f", 16)}}}
	must(t, ts.Cases.OpenCase(ctx, c, "rules"))
	if code := ts.do(t, rev, "POST", fmt.Sprintf("/v1/cases/%d/decision", c.ID), "", jsonBody(map[string]string{"verdict": "confirmed"}), nil); code != 200 {
		t.Fatalf("decide %d", code)
	}
	var inc vigil.Incident
	if code := ts.do(t, rev, "POST", "/v1/incidents", "", jsonBody(map[string]any{"case_ids": []int64{c.ID}}), &inc); code != 201 {
		t.Fatalf("create %d", code)
	}
	path := fmt.Sprintf("/v1/incidents/%d", inc.ID)
	var eu report.Rendering
	if code := ts.do(t, rev, "GET", path+"/render?format=eu", "", nil, &eu); code != 200 || eu.Valid || !strings.Contains(eu.Error, "report.approved_by") {
		t.Errorf("eu render of a draft %d %+v", code, eu)
	}
	if code := ts.do(t, rev, "POST", path+"/approve", "", nil, &inc); code != 200 {
		t.Fatalf("approve %d", code)
	}
	if code := ts.do(t, rev, "GET", path+"/render?format=eu", "", nil, &eu); code != 200 || !eu.Valid || eu.Format != "eu" || !strings.Contains(eu.Report, `"known_csam"`) {
		t.Fatalf("eu render %d %+v", code, eu)
	}
	if code := ts.do(t, rev, "POST", path+"/submit?destination=pigeon", "", nil, nil); code != 400 {
		t.Errorf("unknown destination: %d, want 400", code)
	}
	ids := map[string]int64{}
	for _, d := range []string{report.DestinationDSA, report.DestinationWebhook, report.DestinationNCMEC} {
		var sub vigil.Submission
		if code := ts.do(t, rev, "POST", path+"/submit?destination="+d, "", nil, &sub); code != 202 || sub.Destination != d {
			t.Fatalf("submit to %s: %d %+v", d, code, sub)
		}
		ids[d] = sub.ID
		if (d == report.DestinationWebhook) != (sub.IdempotencyKey != "") {
			t.Errorf("%s: idempotency key %q", d, sub.IdempotencyKey)
		}
	}
	var subs struct{ Submissions []vigil.Submission }
	if code := ts.do(t, rev, "GET", path+"/submissions", "", nil, &subs); code != 200 || len(subs.Submissions) != 3 || len(ids) != 3 {
		t.Errorf("submissions %d %+v", code, subs)
	}
	recs, err := ts.Audit.ListAudit(ctx, 0, 100)
	must(t, err)
	audited := map[string]bool{}
	for _, r := range recs {
		if r.Action == vigil.AuditReportSubmit {
			audited[r.Detail] = true
		}
	}
	if len(audited) != 3 {
		t.Errorf("submissions audited for %v", audited)
	}
}
