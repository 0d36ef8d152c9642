package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/rules"
	"github.com/vigil-oss/vigil/sqlite"
)

func TestLoadRules(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cases, store := sqlite.NewCaseService(db), sqlite.NewRuleService(db)
	c := &ServeCommand{&Main{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	flags := &rulesFlags{caseRetention: time.Hour}
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
	if err := c.loadRules(ctx, cases, store, flags); err != nil {
		t.Fatal(err)
	}
	q, err := cases.FindQueue(ctx, rules.DefaultQueue)
	if err != nil || !q.Allows(vigil.RoleReviewer) {
		t.Fatalf("default queue %+v %v", q, err)
	}
	if got := names(); got != "any-match,category-a1,category-a2,category-b1,category-b2,flagged-conversation" {
		t.Fatalf("default rules %s", got)
	}
	// A second start finds the queue and replaces the rules alike.
	if err := c.loadRules(ctx, cases, store, flags); err != nil {
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
	if err := c.loadRules(ctx, cases, store, flags); err != nil {
		t.Fatal(err)
	}
	if got := names(); got != "from-api,only" {
		t.Fatalf("rules after the file: %s", got)
	}

	for _, tc := range []struct{ name, text, want string }{
		{"missing queue", "rules:\n  - name: senior\n    when: {kind: match}\n    action: {type: case, queue: senior}\n", `queue "senior", which does not exist`},
		{"invalid rule", "rules:\n  - name: loose\n    when: {kind: match}\n    action: {type: auto, auto: block}\n", "line 2: rule \"loose\""},
		{"api name", "rules:\n  - name: from-api\n    when: {kind: match}\n    action: {type: none}\n", "made through the API"},
	} {
		flags.file = write(tc.name+".yaml", tc.text)
		err := c.loadRules(ctx, cases, store, flags)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "code=") {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if got := names(); got != "from-api,only" {
		t.Fatalf("a refused file changed the rules: %s", got)
	}
	// A disabled rule may name a queue that does not exist yet.
	flags.file = write("disabled.yaml", "rules:\n  - name: senior\n    enabled: false\n    when: {kind: match}\n    action: {type: case, queue: senior}\n")
	if err := c.loadRules(ctx, cases, store, flags); err != nil {
		t.Fatal(err)
	}
	// The example in docs/ loads once its queues exist.
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "senior", Roles: []vigil.Role{vigil.RoleReviewer}}); err != nil {
		t.Fatal(err)
	}
	flags.file = filepath.Join("..", "..", "docs", "rules.example.yaml")
	if err := c.loadRules(ctx, cases, store, flags); err != nil {
		t.Fatal(err)
	}
}
