package http_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/respond"
	"github.com/vigil-oss/vigil/sqlite"
)

// TestAutomaticActionHasCase follows an automatic action from end to end
// through the API: an auto rule is refused without a queue; with one, it
// fires on content two sources hold, the block is reported, a case exists
// in the rule's queue with the action recorded on it, the user's notice
// falls due without any reviewer, and the platform's complaint naming the
// action reaches the complaints queue.
func TestAutomaticActionHasCase(t *testing.T) {
	ts := mustOpenServer(t)
	ctx := context.Background()
	notices := sqlite.NewNoticeService(ts.db)
	ts.Flow().AutoActions = notices // as vigil serve wires it; no request has run yet
	adm, cur := vigil.RoleAdmin, vigil.RoleCurator
	if code := ts.do(t, adm, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "after", "roles": []string{"reviewer"}}), nil); code != 201 {
		t.Fatalf("create queue %d", code)
	}
	const content = "a benign post two test lists hold"
	md := md5.Sum([]byte(content))
	sh := sha256.Sum256([]byte(content))
	for _, b := range []struct{ bank, typ, value string }{
		{"ncmec", "md5", hex.EncodeToString(md[:])},
		{"iwf", "sha256", hex.EncodeToString(sh[:])},
	} {
		if code := ts.do(t, cur, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": b.bank}), nil); code != 201 {
			t.Fatalf("create bank %d", code)
		}
		body := map[string]any{"entries": []map[string]string{{"signal_type": b.typ, "value": b.value, "source": b.bank}}}
		if code := ts.do(t, cur, "POST", "/v1/banks/"+b.bank+"/entries", "", jsonBody(body), nil); code != 201 {
			t.Fatalf("add entry %d", code)
		}
	}
	rule := map[string]any{"name": "block-known", "when": map[string]any{"kind": "match"}, "corroboration": 2,
		"action": map[string]any{"type": "auto", "auto": "block"}}
	var e apiError
	if code := ts.do(t, cur, "POST", "/v1/rules", "", jsonBody(rule), &e); code != 400 || !strings.Contains(e.Error.Message, "must open a case") {
		t.Fatalf("auto rule without a queue: %d %q", code, e.Error.Message)
	}
	rule["action"] = map[string]any{"type": "auto", "auto": "block", "queue": "after", "priority": 90}
	if code := ts.do(t, cur, "POST", "/v1/rules", "", jsonBody(rule), nil); code != 201 {
		t.Fatalf("create auto rule %d", code)
	}

	// The rule fires: the block is reported with its case.
	var m struct {
		Matched bool
		Actions *actions
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match?user_id=u-1&content_id=post-1", "text/plain", strings.NewReader(content), &m); code != 200 || !m.Matched {
		t.Fatalf("match %d %+v", code, m)
	}
	a := m.Actions
	if a == nil || !slices.Equal(a.Auto, []string{"block"}) || len(a.Cases) != 1 || len(a.Errors) != 0 || len(a.Rules) != 1 || a.Rules[0].CaseID != a.Cases[0] {
		t.Fatalf("actions %+v", a)
	}
	caseID := a.Cases[0]
	var c caseWithHistory
	if code := ts.do(t, vigil.RoleReviewer, "GET", fmt.Sprintf("/v1/cases/%d", caseID), "", nil, &c); code != 200 {
		t.Fatalf("get case %d", code)
	}
	if c.Queue != "after" || c.Rule != "block-known" || c.Priority != 90 || c.Content.ContentID != "post-1" || len(c.Matches) != 2 {
		t.Fatalf("the action's case %+v", c.Case)
	}

	// Its notice falls due from the action, with no reviewer's decision.
	nf := &recordingNotifier{}
	taken := time.Now()
	n := &respond.Notices{Store: notices, Notifier: nf, Webhook: "ts", Delay: time.Hour, Now: func() time.Time { return taken.Add(30 * time.Minute) }}
	if sent, err := n.SendDue(ctx); err != nil || sent != 0 {
		t.Fatalf("before the delay: sent %d, %v", sent, err)
	}
	n.Now = func() time.Time { return taken.Add(2 * time.Hour) }
	if sent, err := n.SendDue(ctx); err != nil || sent != 1 {
		t.Fatalf("after the delay: sent %d, %v", sent, err)
	}
	var ev struct {
		CaseID int64             `json:"case_id"`
		Auto   *vigil.AutoAction `json:"auto"`
	}
	if err := json.Unmarshal(nf.events[0].Data, &ev); err != nil {
		t.Fatal(err)
	}
	if nf.events[0].Type != vigil.EventUserNotice || ev.CaseID != caseID || ev.Auto == nil || ev.Auto.CaseID != caseID ||
		ev.Auto.Rule != "block-known" || !slices.Equal(ev.Auto.Actions, []string{"block"}) {
		t.Fatalf("notice %s: %s", nf.events[0].Type, nf.events[0].Data)
	}

	// The platform forwards the user's complaint naming the action; it
	// waits in the complaints queue.
	var k vigil.Complaint
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/complaints", "application/json",
		jsonBody(map[string]string{"reference": fmt.Sprintf("case:%d", caseID), "user_id": "u-1", "text": "My post was blocked by mistake."}), &k); code != 201 || k.CaseID != caseID {
		t.Fatalf("complaint: %d %+v", code, k)
	}
	var page struct{ Complaints []vigil.Complaint }
	if code := ts.do(t, vigil.RoleReviewer, "GET", "/v1/complaints?state=open", "", nil, &page); code != 200 ||
		len(page.Complaints) != 1 || page.Complaints[0].ID != k.ID || page.Complaints[0].CaseID != caseID {
		t.Fatalf("complaints queue: %d %+v", code, page)
	}
}
