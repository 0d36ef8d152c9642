package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/jobs"
	"github.com/vigil-oss/vigil/rules"
	"github.com/vigil-oss/vigil/sqlite"
)

func TestLoadRules(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	cases, store := sqlite.NewCaseService(db), sqlite.NewRuleService(db)
	c := &ServeCommand{&Main{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	flags := &rulesFlags{caseRetention: time.Hour}
	hooks := webhookFlags{"trust-safety": "https://platform.example/hook"}
	names := func() string {
		rs, err := store.ListRules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.Name)
		}
		return strings.Join(out, ",")
	}

	// First start without a file: the default queue and rules.
	if err := c.loadRules(ctx, cases, store, flags, hooks); err != nil {
		t.Fatal(err)
	}
	q, err := cases.FindQueue(ctx, rules.DefaultQueue)
	if err != nil || !q.Allows(vigil.RoleReviewer) {
		t.Fatalf("default queue %+v %v", q, err)
	}
	if got := names(); got != "any-match,category-a1,category-a2,category-b1,category-b2,flagged-conversation,victim-disclosure" {
		t.Fatalf("default rules %s", got)
	}
	// A second start finds the queue and replaces the rules alike.
	if err := c.loadRules(ctx, cases, store, flags, hooks); err != nil {
		t.Fatal(err)
	}

	// A rules file replaces the file's rules; API rules stay.
	api := &vigil.Rule{Name: "from-api", Enabled: true, When: vigil.RuleConditions{Kind: vigil.CaseKindMatch}, Action: vigil.RuleAction{Type: vigil.ActionNone}}
	if err := store.CreateRule(ctx, api); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flags.file = write("rules.yaml", "rules:\n  - name: only\n    when: {kind: match, banks: [ncmec]}\n    action: {type: case, queue: default, priority: 70}\n")
	if err := c.loadRules(ctx, cases, store, flags, hooks); err != nil {
		t.Fatal(err)
	}
	if got := names(); got != "from-api,only" {
		t.Fatalf("rules after the file: %s", got)
	}

	for _, tc := range []struct{ name, text, want string }{
		{"missing queue", "rules:\n  - name: senior\n    when: {kind: match}\n    action: {type: case, queue: senior}\n", `queue "senior", which does not exist`},
		{"invalid rule", "rules:\n  - name: loose\n    when: {kind: match}\n    action: {type: auto, auto: block}\n", "line 2: rule \"loose\""},
		{"api name", "rules:\n  - name: from-api\n    when: {kind: match}\n    action: {type: none}\n", "made through the API"},
		{"unknown webhook", "rules:\n  - name: tell\n    when: {kind: match}\n    action: {type: webhook, webhook: nowhere}\n", `webhook "nowhere", which is not configured`},
		{"unknown classifier", "rules:\n  - name: model\n    when: {kind: classifier, classifier: nowhere, min_score: 0.9}\n    action: {type: case, queue: default}\n", `classifier "nowhere", which is not configured`},
		{"auto on a classifier", "rules:\n  - name: model\n    when: {kind: classifier, classifier: pigeon, min_score: 0.9}\n    action: {type: auto, auto: block}\n", "a classifier score alone never does"},
	} {
		flags.file = write(tc.name+".yaml", tc.text)
		err := c.loadRules(ctx, cases, store, flags, hooks)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "code=") {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if got := names(); got != "from-api,only" {
		t.Fatalf("a refused file changed the rules: %s", got)
	}
	// A classifier rule loads once its classifier is configured.
	flags.classifiers = []string{"pigeon"}
	flags.file = write("classifier.yaml", "rules:\n  - name: model\n    when: {kind: classifier, classifier: pigeon, label: csam, min_score: 0.9}\n    action: {type: case, queue: default, priority: 80}\n")
	if err := c.loadRules(ctx, cases, store, flags, hooks); err != nil {
		t.Fatal(err)
	}
	// A disabled rule may name a queue that does not exist yet.
	flags.file = write("disabled.yaml", "rules:\n  - name: senior\n    enabled: false\n    when: {kind: match}\n    action: {type: case, queue: senior}\n")
	if err := c.loadRules(ctx, cases, store, flags, hooks); err != nil {
		t.Fatal(err)
	}
	// The example in docs/ loads once its queues exist.
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "senior", Roles: []vigil.Role{vigil.RoleReviewer}}); err != nil {
		t.Fatal(err)
	}
	flags.file = filepath.Join("..", "..", "docs", "rules.example.yaml")
	if err := c.loadRules(ctx, cases, store, flags, hooks); err != nil {
		t.Fatal(err)
	}
}

// TestServeRulesEndToEnd runs `vigil serve --rules` and checks the whole
// path: a match opens a case holding the upload in the encrypted media
// store, the rule's webhook gets a signed event, and a reviewer reveals
// the media.
func TestServeRulesEndToEnd(t *testing.T) {
	secret := "rules-test-secret-0123456789abcd"
	t.Setenv("VIGIL_WEBHOOK_SECRET_PLATFORM", secret)
	events := make(chan vigil.Event, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err := jobs.Verify([]byte(secret), r.Header, body, time.Now(), time.Minute); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev vigil.Event
		json.Unmarshal(body, &ev)
		events <- ev
	}))
	t.Cleanup(hook.Close)
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte(`rules:
  - name: review
    when: {kind: match}
    action: {type: case, queue: default, priority: 40}
  - name: tell-platform
    when: {kind: match, banks: [hotline]}
    action: {type: webhook, webhook: platform}
`), 0o600); err != nil {
		t.Fatal(err)
	}

	srv := startServe(t, "--rules", rulesFile, "--webhook", "platform="+hook.URL)

	img, err := os.ReadFile(filepath.Join(testImages, "synthetic/synth-smooth-rgb-129x300.png"))
	if err != nil {
		t.Fatal(err)
	}
	srv.call("POST", "/v1/banks", "application/json", strings.NewReader(`{"name":"hotline"}`))
	if code, _ := srv.call("POST", "/v1/banks/hotline/entries", "application/json",
		strings.NewReader(`{"entries":[{"signal_type":"pdq","value":"`+scanImgPDQ+`","source":"hotline"}]}`)); code != 201 {
		t.Fatalf("add entry: %d", code)
	}
	code, body := srv.call("POST", "/v1/match?user_id=u-77", "image/png", bytes.NewReader(img))
	var mr struct {
		Matched bool
		Actions struct {
			Cases  []int64
			Errors []string
		}
	}
	if json.Unmarshal(body, &mr); code != 200 || !mr.Matched || len(mr.Actions.Cases) != 1 || len(mr.Actions.Errors) != 0 {
		t.Fatalf("match %d %s", code, body)
	}
	select {
	case ev := <-events:
		var data struct {
			Rule    string
			Content vigil.ContentRef
		}
		if json.Unmarshal(ev.Data, &data); ev.Type != vigil.EventRuleMatched || data.Rule != "tell-platform" || data.Content.UserID != "u-77" {
			t.Fatalf("event %+v %s", ev, ev.Data)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no rule.matched event")
	}
	casePath := "/v1/cases/" + strconv.FormatInt(mr.Actions.Cases[0], 10)
	if code, body := srv.call("GET", casePath+"/media", "", nil); code != 200 || !bytes.Equal(body, img) {
		t.Fatalf("media %d, %d bytes", code, len(body))
	}
	if code, body := srv.call("GET", casePath, "", nil); code != 200 || !strings.Contains(string(body), `"revealed"`) {
		t.Fatalf("case %d %s", code, body)
	}

	// A background job runs the same rules and says so in its result.
	code, body = srv.call("POST", "/v1/jobs?user_id=u-88&content_id=video-5", "image/png", bytes.NewReader(img))
	var job vigil.Job
	if json.Unmarshal(body, &job); code != 202 {
		t.Fatalf("submit %d %s", code, body)
	}
	srv.waitJob(&job)
	var res struct {
		Matched bool
		Actions struct{ Cases []int64 }
	}
	if json.Unmarshal(job.Result, &res); job.State != vigil.JobCompleted || !res.Matched || len(res.Actions.Cases) != 1 || res.Actions.Cases[0] == mr.Actions.Cases[0] {
		t.Fatalf("job %+v %s", job, job.Result)
	}
	jobCase := "/v1/cases/" + strconv.FormatInt(res.Actions.Cases[0], 10)
	if code, body := srv.call("GET", jobCase+"/media", "", nil); code != 200 || !bytes.Equal(body, img) {
		t.Fatalf("job case media %d, %d bytes", code, len(body))
	}
	var jc vigil.Case
	if code, body := srv.call("GET", jobCase, "", nil); code != 200 || json.Unmarshal(body, &jc) != nil ||
		jc.Content.UserID != "u-88" || jc.Content.ContentID != "video-5" {
		t.Fatalf("job case %d %s: want the platform ids given with the job", code, body)
	}
	select {
	case ev := <-events:
		var data struct{ Content vigil.ContentRef }
		if json.Unmarshal(ev.Data, &data); ev.Type != vigil.EventRuleMatched || data.Content.UserID != "u-88" {
			t.Fatalf("job's event %+v %s", ev, ev.Data)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no rule.matched event for the job")
	}
}

// TestLoadRulesQueuesOldAutoRules: a database from before an auto action
// had to open a case may hold an auto rule without a queue, made through
// the API. The start gives it the default queue, audited and logged, so
// that its blocks go on and each one now has a case; a second start
// changes nothing.
func TestLoadRulesQueuesOldAutoRules(t *testing.T) {
	ctx := context.Background()
	db, _ := mustOpenDB(t)
	cases, store, audit := sqlite.NewCaseService(db), sqlite.NewRuleService(db), sqlite.NewAuditService(db)
	var logs bytes.Buffer
	c := &ServeCommand{&Main{Logger: slog.New(slog.NewTextHandler(&logs, nil))}}
	flags := &rulesFlags{caseRetention: time.Hour}
	if err := c.loadRules(ctx, cases, store, flags, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*vigil.Rule{
		{Name: "block-known", Enabled: true, When: vigil.RuleConditions{Kind: vigil.CaseKindMatch}, Corroboration: 2,
			Action: vigil.RuleAction{Type: vigil.ActionAuto, Auto: "block", Queue: rules.DefaultQueue}, UpdatedBy: "key:2:curator"},
		{Name: "suspend-off", When: vigil.RuleConditions{Kind: vigil.CaseKindMatch}, Corroboration: 3,
			Action: vigil.RuleAction{Type: vigil.ActionAuto, Auto: "suspend", Queue: rules.DefaultQueue}, UpdatedBy: "key:2:curator"},
	} {
		if err := store.CreateRule(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	// What an earlier version stored: the store refuses such rules now,
	// so they are written past it.
	raw, err := sql.Open("sqlite", "file:"+db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if res, err := raw.ExecContext(ctx, `UPDATE rules SET action = json_remove(action, '$.queue') WHERE source = 'api'`); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 2 {
		t.Fatalf("%d rules made old", n)
	}
	if r, err := store.FindRule(ctx, "block-known"); err != nil || r.Action.Queue != "" {
		t.Fatalf("old rule %+v %v", r, err)
	}

	if err := c.loadRules(ctx, cases, store, flags, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"block-known", "suspend-off"} {
		r, err := store.FindRule(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if r.Action.Queue != rules.DefaultQueue || r.UpdatedBy != upgradeActor || r.Action.Auto == "" || r.Corroboration < 2 || r.Source != vigil.RuleSourceAPI {
			t.Errorf("%s after the start: %+v", name, r)
		}
		if !strings.Contains(logs.String(), "rule="+name) {
			t.Errorf("no warning names %s: %s", name, logs.String())
		}
	}
	changes := func() []string {
		recs, err := audit.ListAudit(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, rec := range recs {
			if rec.Action == vigil.AuditRuleChange && rec.Actor == upgradeActor {
				out = append(out, rec.Target)
				if !strings.Contains(rec.Detail, `"was"`) || !strings.Contains(rec.Detail, "had no queue") {
					t.Errorf("audit detail %s", rec.Detail)
				}
			}
		}
		return out
	}
	if got := changes(); strings.Join(got, ",") != "rule:block-known,rule:suspend-off" {
		t.Fatalf("audited changes %v", got)
	}
	if err := c.loadRules(ctx, cases, store, flags, nil); err != nil {
		t.Fatal(err)
	}
	if got := changes(); len(got) != 2 {
		t.Fatalf("a second start changed the rules again: %v", got)
	}
}
