package http_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

func TestQuarantineAPI(t *testing.T) {
	ts := mustOpenServer(t)
	cur, rev := vigil.RoleCurator, vigil.RoleReviewer
	md5 := strings.Repeat("3c", 16)
	if code := ts.do(t, cur, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": "list"}), nil); code != 201 {
		t.Fatalf("create bank %d", code)
	}
	var added struct{ Entries []vigil.Entry }
	body := map[string]any{"entries": []map[string]string{{"signal_type": "md5", "value": md5}}}
	if code := ts.do(t, cur, "POST", "/v1/banks/list/entries", "", jsonBody(body), &added); code != 201 {
		t.Fatalf("add entry %d", code)
	}
	id := itoa(added.Entries[0].ID)
	matches := func() int {
		t.Helper()
		var lr struct{ Results []vigil.MatchResult }
		if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/lookup", "", jsonBody(map[string]any{"signals": []map[string]string{{"type": "md5", "value": md5}}}), &lr); code != 200 {
			t.Fatalf("lookup %d", code)
		}
		return len(lr.Results[0].Matches)
	}
	if n := matches(); n != 1 {
		t.Fatalf("%d matches before quarantine", n)
	}

	for _, tc := range []struct {
		role vigil.Role
		path string
		body any
		code int
	}{
		{rev, "/v1/entries/" + id + "/quarantine", map[string]string{"reason": "x"}, 403},
		{cur, "/v1/entries/" + id + "/quarantine", map[string]string{"reason": " "}, 400},
		{cur, "/v1/entries/" + id + "/quarantine", map[string]string{"why": "x"}, 400},
		{cur, "/v1/entries/999/quarantine", map[string]string{"reason": "x"}, 404},
		{cur, "/v1/entries/abc/quarantine", map[string]string{"reason": "x"}, 400},
		{cur, "/v1/entries/" + id + "/release", nil, 409},
	} {
		if code := ts.do(t, tc.role, "POST", tc.path, "", jsonBody(tc.body), nil); code != tc.code {
			t.Errorf("%s as %s: %d, want %d", tc.path, tc.role, code, tc.code)
		}
	}

	var e vigil.Entry
	if code := ts.do(t, cur, "POST", "/v1/entries/"+id+"/quarantine", "", jsonBody(map[string]string{"reason": "matches memes"}), &e); code != 200 ||
		e.QuarantinedAt == nil || e.QuarantineReason != "matches memes" {
		t.Fatalf("quarantine %d %+v", code, e)
	}
	// The answer comes after the index refresh: the entry no longer matches.
	if n := matches(); n != 0 {
		t.Errorf("%d matches of a quarantined entry", n)
	}
	// Nor is it shared: an export leaves it out until it is released.
	exported := func() string {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL()+"/v1/banks/list/export", nil)
		req.Header.Set("Authorization", "Bearer "+ts.keys[cur])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if csv := exported(); strings.Contains(csv, md5) {
		t.Errorf("export holds the quarantined entry: %q", csv)
	}
	if code := ts.do(t, cur, "POST", "/v1/entries/"+id+"/quarantine", "", jsonBody(map[string]string{"reason": "again"}), nil); code != 409 {
		t.Errorf("quarantine twice: %d", code)
	}
	var list struct {
		Entries []struct {
			Entry vigil.Entry
			Stats vigil.EntryStats
		}
	}
	if code := ts.do(t, cur, "GET", "/v1/quarantine", "", nil, &list); code != 200 || len(list.Entries) != 1 ||
		list.Entries[0].Entry.ID != added.Entries[0].ID || list.Entries[0].Stats.Quarantine != "matches memes" ||
		list.Entries[0].Entry.BankName != "list" {
		t.Fatalf("quarantine list %d %+v", code, list)
	}
	if code := ts.do(t, rev, "GET", "/v1/quarantine", "", nil, nil); code != 403 {
		t.Errorf("reviewer listed the quarantine: %d", code)
	}

	var released vigil.Entry
	if code := ts.do(t, cur, "POST", "/v1/entries/"+id+"/release", "", nil, &released); code != 200 || released.QuarantinedAt != nil || released.Seq <= e.Seq {
		t.Fatalf("release %d %+v", code, released)
	}
	if n := matches(); n != 1 {
		t.Errorf("%d matches after release, want 1", n)
	}
	if csv := exported(); !strings.Contains(csv, md5) {
		t.Errorf("export after release lacks the entry: %q", csv)
	}
	if code := ts.do(t, cur, "GET", "/v1/quarantine", "", nil, &list); code != 200 || len(list.Entries) != 0 {
		t.Errorf("quarantine list after release %d %+v", code, list)
	}

	recs, err := ts.Audit.ListAudit(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range recs {
		if r.Target == "entry:"+id {
			actions = append(actions, r.Action)
		}
	}
	if strings.Join(actions, ",") != vigil.AuditEntryQuarantine+","+vigil.AuditEntryRelease {
		t.Errorf("audit of the entry: %v", actions)
	}
}
