package http_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/vigil-oss/vigil"
)

func TestRetroactiveMatchOverAPI(t *testing.T) {
	ts := mustOpenServer(t)
	img, err := os.ReadFile("testdata/smooth-129x300.png")
	if err != nil {
		t.Fatal(err)
	}
	var m struct{ Matched bool }
	// Seen while no bank lists it.
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "image/png", bytes.NewReader(img), &m); code != 200 || m.Matched {
		t.Fatalf("first match: %d %+v", code, m)
	}
	ts.do(t, vigil.RoleCurator, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": "later"}), nil)
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/banks/later/entries", "", jsonBody(map[string]any{"entries": []map[string]string{{"signal_type": "pdq", "value": imagePDQ, "source_entry_id": "L-1"}}}), nil); code != 201 {
		t.Fatal("add entry")
	}
	var rs struct{ Rematches []vigil.Rematch }
	if code := ts.do(t, vigil.RoleReviewer, "GET", "/v1/rematches", "", nil, &rs); code != 200 || len(rs.Rematches) != 1 {
		t.Fatalf("rematches: %d %+v", code, rs)
	}
	if r := rs.Rematches[0]; r.Match.SourceEntryID != "L-1" || len(r.ContentSHA256) != 64 {
		t.Fatalf("rematch: %+v", r)
	}
	if code := ts.do(t, vigil.RoleMatcher, "GET", "/v1/rematches", "", nil, nil); code != 403 {
		t.Fatalf("matcher listing rematches: %d", code)
	}
}
