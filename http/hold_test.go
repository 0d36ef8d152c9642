package http_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestHolds makes, lists, extends and releases a legal hold through the
// API: curators only, strict JSON, the paging contract, each change
// audited, and holds on cases the caller may not see are not found.
func TestHolds(t *testing.T) {
	ctx := context.Background()
	ts := mustOpenServer(t)
	cur, rev := vigil.RoleCurator, vigil.RoleReviewer
	must(t, ts.Cases.CreateQueue(ctx, &vigil.Queue{Name: "default", Roles: []vigil.Role{rev, cur}}))
	must(t, ts.Cases.CreateQueue(ctx, &vigil.Queue{Name: "legal"}))
	open := func(queue string) int64 {
		c := &vigil.Case{Queue: queue, Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
			Content: vigil.ContentRef{SHA256: strings.Repeat("ab", 32), UserID: "u-1"},
			Matches: []vigil.Match{{BankID: 1, Bank: "b", EntryID: 7, SignalType: vigil.SignalMD5, Value: strings.Repeat("0f", 16), Source: "ncmec"}}}
		must(t, ts.Cases.OpenCase(ctx, c, "rules"))
		return c.ID
	}
	id, legal := open("default"), open("legal")
	until := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)

	for _, tc := range []struct {
		role vigil.Role
		body string
		code int
	}{
		{rev, fmt.Sprintf(`{"case_id":%d,"reason":"court order","until":%q}`, id, until.Format(time.RFC3339)), 403},
		{cur, fmt.Sprintf(`{"case_id":%d,"reason":"court order","until":%q}`, legal, until.Format(time.RFC3339)), 404},
		{cur, fmt.Sprintf(`{"case_id":%d,"reason":"court order","until":%q,"until":%q}`, id, until.Format(time.RFC3339), until.Format(time.RFC3339)), 400},
		{cur, fmt.Sprintf(`{"case_id":%d,"reason":"","until":%q}`, id, until.Format(time.RFC3339)), 400},
		{cur, fmt.Sprintf(`{"case_id":%d,"reason":"x","until":"2001-01-01T00:00:00Z"}`, id), 400},
		{cur, fmt.Sprintf(`{"case_id":%d,"incident_id":1,"reason":"x","until":%q}`, id, until.Format(time.RFC3339)), 400},
		{cur, fmt.Sprintf(`{"case_id":%d,"reason":"x","until":%q,"extra":1}`, id, until.Format(time.RFC3339)), 400},
	} {
		if code := ts.do(t, tc.role, "POST", "/v1/holds", "", strings.NewReader(tc.body), nil); code != tc.code {
			t.Errorf("create %s as %s: %d, want %d", tc.body, tc.role, code, tc.code)
		}
	}
	var h vigil.Hold
	req := fmt.Sprintf(`{"case_id":%d,"reason":"preservation request ref 42","requested_by":"Police","until":%q}`, id, until.Format(time.RFC3339))
	if code := ts.do(t, cur, "POST", "/v1/holds", "", strings.NewReader(req), &h); code != 201 || h.ID == 0 || h.CaseID != id ||
		h.RequestedBy != "Police" || !h.Until.Equal(until) || !strings.HasPrefix(h.CreatedBy, "key:") {
		t.Fatalf("create hold %d %+v", code, h)
	}
	target := vigil.HoldAuditTarget(h.ID)
	if n := audited(t, ts, vigil.AuditHoldCreate, target); n != 1 {
		t.Errorf("%d create records of %s", n, target)
	}
	var second vigil.Hold
	if code := ts.do(t, vigil.RoleAdmin, "POST", "/v1/holds", "", strings.NewReader(req), &second); code != 201 {
		t.Fatalf("admin creates a hold: %d", code)
	}

	var page struct {
		Holds       []vigil.Hold `json:"holds"`
		NextAfterID int64        `json:"next_after_id"`
	}
	if code := ts.do(t, cur, "GET", "/v1/holds?limit=1", "", nil, &page); code != 200 || len(page.Holds) != 1 || page.NextAfterID != h.ID {
		t.Errorf("first page %d %+v", code, page)
	}
	page.Holds, page.NextAfterID = nil, 0
	if code := ts.do(t, cur, "GET", fmt.Sprintf("/v1/holds?active=true&case_id=%d&after_id=%d", id, h.ID), "", nil, &page); code != 200 ||
		len(page.Holds) != 1 || page.Holds[0].ID != second.ID || page.NextAfterID != 0 {
		t.Errorf("second page %d %+v", code, page)
	}
	for _, q := range []string{"active=maybe", "case_id=-1", "limit=0"} {
		if code := ts.do(t, cur, "GET", "/v1/holds?"+q, "", nil, nil); code != 400 {
			t.Errorf("list ?%s: %d, want 400", q, code)
		}
	}

	path := fmt.Sprintf("/v1/holds/%d", h.ID)
	later := until.Add(60 * 24 * time.Hour)
	if code := ts.do(t, cur, "POST", path+"/extend", "", strings.NewReader(`{"until":"`+until.Add(-time.Hour).Format(time.RFC3339)+`"}`), nil); code != 400 {
		t.Errorf("extend to earlier: %d, want 400", code)
	}
	var ext vigil.Hold
	if code := ts.do(t, cur, "POST", path+"/extend", "", strings.NewReader(`{"until":"`+later.Format(time.RFC3339)+`"}`), &ext); code != 200 || !ext.Until.Equal(later) {
		t.Errorf("extend %d %+v", code, ext)
	}
	if n := audited(t, ts, vigil.AuditHoldExtend, target); n != 1 {
		t.Errorf("%d extend records", n)
	}
	if code := ts.do(t, cur, "POST", path+"/release", "", strings.NewReader(`{}`), nil); code != 400 {
		t.Errorf("release without a reason: %d, want 400", code)
	}
	var rel vigil.Hold
	if code := ts.do(t, cur, "POST", path+"/release", "", strings.NewReader(`{"reason":"order lifted"}`), &rel); code != 200 || rel.ReleasedAt == nil || rel.ReleaseReason != "order lifted" {
		t.Errorf("release %d %+v", code, rel)
	}
	if code := ts.do(t, cur, "POST", path+"/release", "", strings.NewReader(`{"reason":"again"}`), nil); code != 409 {
		t.Errorf("release again: %d, want 409", code)
	}
	if n := audited(t, ts, vigil.AuditHoldRelease, target); n != 1 {
		t.Errorf("%d release records", n)
	}
	var got vigil.Hold
	if code := ts.do(t, cur, "GET", path, "", nil, &got); code != 200 || got.ReleasedAt == nil {
		t.Errorf("get %d %+v", code, got)
	}
	if code := ts.do(t, cur, "GET", "/v1/holds/999", "", nil, nil); code != 404 {
		t.Errorf("unknown hold: %d", code)
	}
	if code := ts.do(t, cur, "DELETE", path, "", nil, nil); code != 405 {
		t.Errorf("DELETE: %d, want 405", code)
	}
	// A hold on a case in a queue the caller may not see is not found.
	lh := &vigil.Hold{CaseID: legal, Reason: "x", Until: until}
	must(t, ts.Preservation.CreateHold(ctx, lh, "admin"))
	if code := ts.do(t, cur, "GET", fmt.Sprintf("/v1/holds/%d", lh.ID), "", nil, nil); code != 404 {
		t.Errorf("hold on an unseen case: %d, want 404", code)
	}
}
