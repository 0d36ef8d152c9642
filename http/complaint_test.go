package http_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

// TestComplaintFlow: the platform forwards a complaint about a confirmed
// case; the reviewer who confirmed it is refused; another reviewer upholds
// it; the entry's precision turns and the case's history shows it; the
// transparency figures count the false positive and the complaint.
func TestComplaintFlow(t *testing.T) {
	ts := mustOpenServer(t)
	f := seedReview(t, ts)
	ctx := context.Background()
	var c vigil.Case
	if code := ts.do(t, vigil.RoleReviewer, "POST", fmt.Sprintf("/v1/cases/%d/decision", f.imageCase), "application/json",
		jsonBody(map[string]string{"verdict": "confirmed"}), &c); code != 200 {
		t.Fatalf("decide: %d", code)
	}
	// Nothing to complain of on an undecided case, and no key but the
	// platform's forwards complaints.
	var e apiError
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/complaints", "application/json",
		jsonBody(map[string]string{"reference": fmt.Sprint(f.convCase), "text": "no"}), &e); code != 409 {
		t.Fatalf("complaint on undecided case: %d %+v", code, e)
	}
	if code := ts.do(t, vigil.RoleReviewer, "POST", "/v1/complaints", "application/json",
		jsonBody(map[string]string{"reference": fmt.Sprint(f.imageCase), "text": "no"}), nil); code != 403 {
		t.Fatalf("complaint by a reviewer key: %d", code)
	}
	var created struct {
		ID     int64  `json:"id"`
		CaseID int64  `json:"case_id"`
		State  string `json:"state"`
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/complaints", "application/json",
		jsonBody(map[string]string{"reference": fmt.Sprintf("case:%d", f.imageCase), "user_id": "user-9", "text": "This is a photo of my garden."}), &created); code != 201 ||
		created.CaseID != f.imageCase || created.State != "open" {
		t.Fatalf("create: %d %+v", code, created)
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/complaints", "application/json",
		jsonBody(map[string]string{"reference": fmt.Sprint(f.imageCase), "text": strings.Repeat("x", vigil.MaxComplaintTextLen+1)}), nil); code != 400 {
		t.Fatalf("oversized complaint: %d", code)
	}

	var page struct {
		Complaints []struct {
			vigil.Complaint
			AgeSeconds int64 `json:"age_seconds"`
		} `json:"complaints"`
	}
	if code := ts.do(t, vigil.RoleReviewer, "GET", "/v1/complaints?state=open", "", nil, &page); code != 200 || len(page.Complaints) != 1 ||
		page.Complaints[0].OriginalDecider != "key:4:reviewer" || page.Complaints[0].AgeSeconds < 0 {
		t.Fatalf("queue: %d %+v", code, page)
	}

	decide := fmt.Sprintf("/v1/complaints/%d/decide", created.ID)
	body := func() any { return map[string]string{"outcome": "upheld", "reasons": "a garden; the entry is wrong"} }
	if code := ts.do(t, vigil.RoleReviewer, "POST", decide, "application/json", jsonBody(body()), &e); code != 403 || !strings.Contains(e.Error.Message, "another reviewer") {
		t.Fatalf("the original reviewer decides: %d %+v", code, e)
	}
	// A second reviewer.
	secret, err := ts.Keys.CreateKey(ctx, &vigil.Key{Name: "second-reviewer", Role: vigil.RoleReviewer, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	first := ts.keys[vigil.RoleReviewer]
	ts.keys[vigil.RoleReviewer] = secret
	var k struct {
		vigil.Complaint
		AgeSeconds int64 `json:"age_seconds"`
	}
	if code := ts.do(t, vigil.RoleReviewer, "POST", decide, "application/json", jsonBody(map[string]string{"outcome": "maybe", "reasons": "x"}), nil); code != 400 {
		t.Fatalf("unknown outcome: %d", code)
	}
	if code := ts.do(t, vigil.RoleReviewer, "POST", decide, "application/json", jsonBody(body()), &k); code != 200 || k.State != vigil.ComplaintUpheld {
		t.Fatalf("upheld: %d %+v", code, k)
	}
	ts.keys[vigil.RoleReviewer] = first

	st, err := ts.Cases.EntryStats(ctx, []int64{f.entryID})
	if err != nil || len(st) != 1 || st[0].Confirmed != 0 || st[0].FalsePositives != 1 {
		t.Fatalf("entry stats after upheld complaint: %+v %v", st, err)
	}
	hist, err := ts.Cases.CaseHistory(ctx, f.imageCase)
	if err != nil {
		t.Fatal(err)
	}
	if last := hist[len(hist)-1]; last.Kind != vigil.CaseEventComplaintDecided || !strings.Contains(last.Detail, "upheld") {
		t.Fatalf("history ends with %+v", last)
	}
	recs, err := ts.Audit.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Action)
	}
	if got := strings.Join(actions, " "); !strings.Contains(got, vigil.AuditComplaintCreate) || !strings.HasSuffix(got, vigil.AuditComplaintDecide) {
		t.Fatalf("audit: %s", got)
	}

	var tr vigil.Transparency
	if code := ts.do(t, vigil.RoleCurator, "GET", "/v1/transparency", "", nil, &tr); code != 200 {
		t.Fatalf("transparency: %d", code)
	}
	if len(tr.RatesByBank) != 1 || tr.RatesByBank[0].FalsePositives != 1 || tr.RatesByBank[0].Confirmed != 0 ||
		len(tr.Complaints) != 1 || tr.Complaints[0] != (vigil.Count{Name: "upheld", N: 1}) {
		t.Fatalf("transparency: %+v", tr)
	}
	for _, q := range []string{"?from=2026-13-01", "?from=2026-02-01&to=2026-01-01", "?from=2000-01-01&to=2026-01-01"} {
		if code := ts.do(t, vigil.RoleCurator, "GET", "/v1/transparency"+q, "", nil, nil); code != 400 {
			t.Errorf("transparency%s: %d, want 400", q, code)
		}
	}
	if code := ts.do(t, vigil.RoleMatcher, "GET", "/v1/transparency", "", nil, nil); code != 403 {
		t.Errorf("transparency as matcher: %d", code)
	}
}
