package http_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

func TestAuditRecordsChanges(t *testing.T) {
	ts := mustOpenServer(t)
	cur := vigil.RoleCurator
	ts.do(t, cur, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": "audited"}), nil)
	ts.do(t, cur, "POST", "/v1/banks/audited/import?signal_type=md5", "text/plain", strings.NewReader(strings.Repeat("0", 32)+"\n"), nil)
	ts.do(t, cur, "GET", "/v1/banks/audited/export", "", nil, nil)
	ts.do(t, cur, "DELETE", "/v1/banks/audited", "", nil, nil)
	ts.do(t, vigil.RoleAdmin, "POST", "/v1/keys", "", jsonBody(map[string]string{"name": "new", "role": "matcher"}), nil)
	ts.do(t, vigil.RoleAdmin, "GET", "/v1/keys", "", nil, nil)
	// Reads and refused requests by other roles leave no record.
	ts.do(t, vigil.RoleMatcher, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": "nope"}), nil)

	recs, err := ts.Audit.ListAudit(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Action+" "+r.Target+" by "+r.Actor)
	}
	want := []string{
		"bank.create bank:audited by key:2:curator",
		"entries.import bank:audited by key:2:curator",
		"bank.export bank:audited by key:2:curator",
		"bank.disable bank:audited by key:2:curator",
		"key.create key:5:new by key:1:admin",
		"admin.request POST /v1/keys by key:1:admin",
		"admin.request GET /v1/keys by key:1:admin",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n, brk, err := ts.Audit.VerifyAudit(context.Background()); err != nil || brk != nil || n != int64(len(want)) {
		t.Fatalf("verify: %d %+v %v", n, brk, err)
	}
}
