package http_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
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

// failingAudit is an audit log that cannot be written.
type failingAudit struct{ vigil.AuditService }

func (failingAudit) AppendAudit(context.Context, *vigil.AuditRecord) error {
	return errors.New("disk full")
}

// TestUnrecordedActionsRefused: what changes nothing in the store but must
// be on record (an export) does not happen when the record cannot be
// written; a login is recorded with its session.
func TestUnrecordedActionsRefused(t *testing.T) {
	ts := mustOpenServer(t, func(s *vhttp.Server) { s.Audit = failingAudit{s.Audit} })
	ts.do(t, vigil.RoleCurator, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": "kept"}), nil)
	var e apiError
	if code := ts.do(t, vigil.RoleCurator, "GET", "/v1/banks/kept/export", "", nil, &e); code != 500 || e.Error.Code != vigil.EINTERNAL {
		t.Fatalf("export without a record: %d %+v", code, e)
	}
	// A login's record is stored by the session store in the session's own
	// transaction, not through Server.Audit: the two commit together or
	// not at all (storetest's AuditedLogin), so there is no unrecorded
	// login for the failing log above to allow.
	c := newUIClient(t, ts)
	if code, _, _ := c.post(t, "/ui/login", url.Values{"key": {ts.keys[vigil.RoleReviewer]}}); code != 303 {
		t.Fatalf("login: %d", code)
	}
	recs, err := ts.Audit.ListAudit(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	logins := 0
	for _, r := range recs {
		if r.Action == vigil.AuditLogin {
			logins++
		}
	}
	if logins != 1 {
		t.Fatalf("%d login records after one login, want 1", logins)
	}
}
