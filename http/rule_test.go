package http_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/rules"
)

func TestRulesAPI(t *testing.T) {
	ts := mustOpenServer(t)
	cur := vigil.RoleCurator
	hook := map[string]any{"name": "notify", "when": map[string]any{"kind": "match", "banks": []string{"ncmec"}}, "action": map[string]any{"type": "webhook", "webhook": "ts"}}

	var r vigil.Rule
	if code := ts.do(t, cur, "POST", "/v1/rules", "", jsonBody(hook), &r); code != 201 || r.ID == 0 || !r.Enabled || r.Source != vigil.RuleSourceAPI || r.UpdatedBy != "key:2:curator" {
		t.Fatalf("create %d %+v", code, r)
	}
	var e apiError
	for _, tc := range []struct {
		name string
		body any
		code int
		want string
	}{
		{"duplicate", hook, 409, "already exists"},
		{"auto without corroboration", map[string]any{"name": "block", "when": map[string]any{"kind": "match"}, "action": map[string]any{"type": "auto", "auto": "block"}}, 400, "corroboration of at least 2"},
		{"auto without a queue", map[string]any{"name": "block", "when": map[string]any{"kind": "match"}, "corroboration": 2, "action": map[string]any{"type": "auto", "auto": "block", "webhook": "ts"}}, 400, "an auto action must open a case"},
		{"auto in an unknown queue", map[string]any{"name": "block", "when": map[string]any{"kind": "match"}, "corroboration": 2, "action": map[string]any{"type": "auto", "auto": "block", "queue": "nowhere"}}, 400, `queue "nowhere" does not exist`},
		{"unknown queue", map[string]any{"name": "review", "when": map[string]any{"kind": "match"}, "action": map[string]any{"type": "case", "queue": "nowhere"}}, 400, `queue "nowhere" does not exist`},
		{"unknown field", map[string]any{"name": "x", "when": map[string]any{"kind": "match", "bank": "a"}, "action": map[string]any{"type": "none"}}, 400, "bank"},
		{"no kind", map[string]any{"name": "x", "action": map[string]any{"type": "none"}}, 400, "when.kind"},
	} {
		if code := ts.do(t, cur, "POST", "/v1/rules", "", jsonBody(tc.body), &e); code != tc.code || !strings.Contains(e.Error.Message, tc.want) {
			t.Errorf("%s: %d %q", tc.name, code, e.Error.Message)
		}
	}
	for _, role := range []vigil.Role{vigil.RoleMatcher, vigil.RoleReviewer} {
		if code := ts.do(t, role, "POST", "/v1/rules", "", jsonBody(hook), nil); code != 403 {
			t.Errorf("%s creates a rule: %d", role, code)
		}
		if code := ts.do(t, role, "GET", "/v1/rules", "", nil, nil); code != 403 {
			t.Errorf("%s lists rules: %d", role, code)
		}
	}

	// Update: disable and narrow it; the name cannot change.
	upd := map[string]any{"enabled": false, "when": map[string]any{"kind": "match", "banks": []string{"ncmec"}, "max_distance": 10}, "action": map[string]any{"type": "webhook", "webhook": "ts"}}
	if code := ts.do(t, cur, "PUT", "/v1/rules/notify", "", jsonBody(upd), &r); code != 200 || r.Enabled || *r.When.MaxDistance != 10 {
		t.Fatalf("update %d %+v", code, r)
	}
	upd["name"] = "renamed"
	if code := ts.do(t, cur, "PUT", "/v1/rules/notify", "", jsonBody(upd), &e); code != 400 {
		t.Errorf("rename %d", code)
	}
	if code := ts.do(t, cur, "PUT", "/v1/rules/missing", "", jsonBody(upd), nil); code != 404 {
		t.Errorf("update missing %d", code)
	}

	// An auto rule keeps a queue through updates too.
	if code := ts.do(t, vigil.RoleAdmin, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "after", "roles": []string{"reviewer"}}), nil); code != 201 {
		t.Fatalf("create queue %d", code)
	}
	block := map[string]any{"name": "block", "when": map[string]any{"kind": "match"}, "corroboration": 2, "action": map[string]any{"type": "auto", "auto": "block", "queue": "after"}}
	if code := ts.do(t, cur, "POST", "/v1/rules", "", jsonBody(block), &r); code != 201 || r.Action.Queue != "after" {
		t.Fatalf("create auto rule %d %+v", code, r)
	}
	block["action"] = map[string]any{"type": "auto", "auto": "block"}
	if code := ts.do(t, cur, "PUT", "/v1/rules/block", "", jsonBody(block), &e); code != 400 || !strings.Contains(e.Error.Message, "an auto action must open a case") {
		t.Errorf("update drops the auto rule's queue: %d %q", code, e.Error.Message)
	}
	if code := ts.do(t, cur, "DELETE", "/v1/rules/block", "", nil, nil); code != 204 {
		t.Fatalf("delete auto rule %d", code)
	}

	// Rules from the rules file are changed in the file only.
	file := &vigil.Rule{Name: "from-file", Enabled: true, When: vigil.RuleConditions{Kind: vigil.CaseKindMatch}, Action: vigil.RuleAction{Type: vigil.ActionNone}}
	if err := ts.Rules.ReplaceFileRules(context.Background(), []*vigil.Rule{file}); err != nil {
		t.Fatal(err)
	}
	if code := ts.do(t, cur, "DELETE", "/v1/rules/from-file", "", nil, &e); code != 409 || !strings.Contains(e.Error.Message, "rules file") {
		t.Errorf("delete file rule %d %+v", code, e)
	}
	// Lists are in id order, like every paged list.
	var list struct{ Rules []vigil.Rule }
	if code := ts.do(t, cur, "GET", "/v1/rules", "", nil, &list); code != 200 || len(list.Rules) != 2 || list.Rules[1].Name != "from-file" {
		t.Fatalf("list %d %+v", code, list)
	}

	if code := ts.do(t, cur, "DELETE", "/v1/rules/notify", "", nil, nil); code != 204 {
		t.Fatalf("delete %d", code)
	}
	if code := ts.do(t, cur, "DELETE", "/v1/rules/notify", "", nil, nil); code != 404 {
		t.Fatalf("delete again %d", code)
	}

	recs, err := ts.Audit.ListAudit(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, rec := range recs {
		if rec.Action == vigil.AuditRuleChange {
			ops = append(ops, rec.Target+" "+rec.Actor)
		}
	}
	if strings.Join(ops, ",") != "rule:notify key:2:curator,rule:notify key:2:curator,rule:block key:2:curator,rule:block key:2:curator,rule:notify key:2:curator" {
		t.Errorf("audited rule changes: %v", ops)
	}
}

func TestRuleVetoAndChangesApplyAtOnce(t *testing.T) {
	ts := mustOpenServer(t)
	const content = "another benign post"
	setupReview(t, ts, content)
	match := func() *actions {
		var m struct{ Actions *actions }
		if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "text/plain", strings.NewReader(content), &m); code != 200 {
			t.Fatalf("match %d", code)
		}
		return m.Actions
	}
	// No notifier: the block is still reported, the webhook's failure too.
	a := match()
	if len(a.Cases) != 2 || len(a.Auto) != 1 || len(a.Errors) != 1 || !strings.Contains(a.Errors[0], "webhook") {
		t.Fatalf("actions %+v", a)
	}
	// A none rule on one bank vetoes every rule for content it matches,
	// from the next request on.
	veto := map[string]any{"name": "test-lists", "when": map[string]any{"kind": "match", "banks": []string{"iwf"}}, "action": map[string]any{"type": "none"}}
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/rules", "", jsonBody(veto), nil); code != 201 {
		t.Fatal("create veto")
	}
	a = match()
	if !a.Vetoed || len(a.Cases) != 0 || len(a.Auto) != 0 || len(a.Rules) != 1 || a.Rules[0].Name != "test-lists" {
		t.Fatalf("vetoed actions %+v", a)
	}
}

// TestDefaultRulesSayWhereTheyComeFrom checks that the API refuses to
// change a built-in default rule and says why: it is no rule file's.
func TestDefaultRulesSayWhereTheyComeFrom(t *testing.T) {
	ts := mustOpenServer(t)
	if code := ts.do(t, vigil.RoleAdmin, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": rules.DefaultQueue}), nil); code != 201 {
		t.Fatal("create queue")
	}
	if err := ts.Rules.ReplaceFileRules(context.Background(), rules.Default()); err != nil {
		t.Fatal(err)
	}
	var list struct{ Rules []vigil.Rule }
	if code := ts.do(t, vigil.RoleCurator, "GET", "/v1/rules", "", nil, &list); code != 200 || len(list.Rules) == 0 {
		t.Fatalf("list %d %+v", code, list)
	}
	for _, r := range list.Rules {
		if r.Source != vigil.RuleSourceDefault {
			t.Errorf("default rule %q has source %q", r.Name, r.Source)
		}
	}
	var e struct{ Error struct{ Message string } }
	for _, method := range []string{"DELETE", "PUT"} {
		body := jsonBody(map[string]any{"when": map[string]any{"kind": "match"}, "action": map[string]any{"type": "none"}})
		code := ts.do(t, vigil.RoleCurator, method, "/v1/rules/any-match", "", body, &e)
		if msg := e.Error.Message; code != 409 || strings.Contains(msg, "comes from the rules file") || !strings.Contains(msg, "default") || !strings.Contains(msg, "--rules") {
			t.Errorf("%s a default rule: %d %q", method, code, msg)
		}
	}
}
