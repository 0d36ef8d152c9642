package http_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

// TestWriteBack writes a confirmed case's hashes into a bank a curator
// names: only once confirmed, only by a curator, with provenance naming
// the case and the reviewer's category, audited, and matching at once
// (a blurred copy of the picture finds the new PDQ entry).
func TestWriteBack(t *testing.T) {
	ts := mustOpenServer(t)
	orig, err := os.ReadFile("../pdq/testdata/bridge-mods/aaa-orig.jpg")
	if err != nil {
		t.Fatal(err)
	}
	blurred, err := os.ReadFile("../pdq/testdata/bridge-mods/blur-a-lot.jpg")
	if err != nil {
		t.Fatal(err)
	}
	adm, cur, rev, mat := vigil.RoleAdmin, vigil.RoleCurator, vigil.RoleReviewer, vigil.RoleMatcher
	if code := ts.do(t, adm, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "default", "roles": []string{"reviewer"}}), nil); code != 201 {
		t.Fatal("create queue")
	}
	for _, b := range []string{"known", "confirmed"} {
		if code := ts.do(t, cur, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": b}), nil); code != 201 {
			t.Fatal("create bank", b)
		}
	}
	md := md5.Sum(orig)
	body := map[string]any{"entries": []map[string]string{{"signal_type": "md5", "value": hex.EncodeToString(md[:]), "source": "hotline"}}}
	if code := ts.do(t, cur, "POST", "/v1/banks/known/entries", "", jsonBody(body), nil); code != 201 {
		t.Fatal("add entry")
	}
	rule := map[string]any{"name": "any-match", "when": map[string]any{"kind": "match"}, "action": map[string]any{"type": "case", "queue": "default"}}
	if code := ts.do(t, cur, "POST", "/v1/rules", "", jsonBody(rule), nil); code != 201 {
		t.Fatal("create rule")
	}
	var m struct{ Actions *actions }
	if code := ts.do(t, mat, "POST", "/v1/match", "image/jpeg", bytes.NewReader(orig), &m); code != 200 || m.Actions == nil || len(m.Actions.Cases) != 1 {
		t.Fatalf("match %d %+v", code, m.Actions)
	}
	id := m.Actions.Cases[0]
	path := fmt.Sprintf("/v1/cases/%d/writeback", id)
	into := func() *strings.Reader { return strings.NewReader(`{"bank":"confirmed"}`) }

	if code := ts.do(t, cur, "POST", path, "", into(), nil); code != 409 {
		t.Fatalf("write-back of an undecided case: %d, want 409", code)
	}
	decision := map[string]any{"verdict": "confirmed", "category": "A1"}
	if code := ts.do(t, rev, "POST", fmt.Sprintf("/v1/cases/%d/decision", id), "", jsonBody(decision), nil); code != 200 {
		t.Fatalf("decide %d", code)
	}
	if code := ts.do(t, rev, "POST", path, "", into(), nil); code != 403 {
		t.Fatalf("write-back by a reviewer: %d, want 403", code)
	}
	var out struct {
		Entries []vigil.Entry
		Result  vigil.ImportResult
	}
	if code := ts.do(t, cur, "POST", path, "", into(), &out); code != 201 {
		t.Fatalf("write-back %d", code)
	}
	types := map[vigil.SignalType]bool{}
	for _, e := range out.Entries {
		types[e.SignalType] = true
		if e.Source != "case" || e.SourceEntryID != fmt.Sprint(id) || e.Category != "A1" {
			t.Errorf("entry provenance %+v", e)
		}
	}
	for _, want := range []vigil.SignalType{vigil.SignalPDQ, vigil.SignalMD5, vigil.SignalSHA1, vigil.SignalSHA256} {
		if !types[want] {
			t.Errorf("no %s entry written back: %+v", want, out.Entries)
		}
	}
	if out.Result.Added != len(out.Entries) {
		t.Errorf("result %+v for %d entries", out.Result, len(out.Entries))
	}

	var blur struct {
		Results []struct{ Matches []vigil.Match }
	}
	if code := ts.do(t, mat, "POST", "/v1/match", "image/jpeg", bytes.NewReader(blurred), &blur); code != 200 {
		t.Fatalf("match blurred %d", code)
	}
	found := false
	for _, r := range blur.Results {
		for _, mm := range r.Matches {
			found = found || (mm.Bank == "confirmed" && mm.SignalType == vigil.SignalPDQ && mm.Source == "case")
		}
	}
	if !found {
		t.Fatalf("a blurred copy does not match the written-back PDQ entry: %+v", blur.Results)
	}

	recs, err := ts.Audit.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var rec *vigil.AuditRecord
	for _, r := range recs {
		if r.Action == vigil.AuditCaseWriteBack {
			rec = r
		}
	}
	if rec == nil || rec.Target != fmt.Sprintf("case:%d", id) || !strings.Contains(rec.Detail, `"bank":"confirmed"`) || !strings.Contains(rec.Detail, `"added":4`) {
		t.Fatalf("audit record %+v", rec)
	}
	if code := ts.do(t, cur, "POST", fmt.Sprintf("/v1/cases/%d/writeback", id+100), "", into(), nil); code != 404 {
		t.Fatalf("write-back of no case: %d, want 404", code)
	}
}
