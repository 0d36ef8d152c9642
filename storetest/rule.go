package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestRuleService checks storing, replacing and deleting rules, and that
// loading the rules file keeps the rules made through the API.
func TestRuleService(t *testing.T, open Opener) {
	ctx := context.Background()
	newRule := func(name string, prio int) *vigil.Rule {
		return &vigil.Rule{
			Name: name, Enabled: true, Description: "d",
			When:   vigil.RuleConditions{Kind: vigil.CaseKindMatch, Banks: []string{"ncmec"}, MaxDistance: ptr(12)},
			Action: vigil.RuleAction{Type: vigil.ActionCase, Queue: "default", Priority: prio},
		}
	}
	t.Run("CRUD", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		r := newRule("review", 40)
		r.UpdatedBy = "key:curator"
		must(t, s.Rules.CreateRule(ctx, r))
		if r.ID == 0 || r.Source != vigil.RuleSourceAPI || !r.CreatedAt.Equal(clock.Now()) {
			t.Fatalf("created %+v", r)
		}
		wantCode(t, s.Rules.CreateRule(ctx, newRule("review", 1)), vigil.ECONFLICT)
		bad := newRule("loose", 1)
		bad.Action = vigil.RuleAction{Type: vigil.ActionAuto, Auto: "block"}
		wantCode(t, s.Rules.CreateRule(ctx, bad), vigil.EINVALID)
		// A corroborated auto rule without a queue would act with no case
		// to review, notice or complain about: refused on every path in.
		noQueue := newRule("block", 0)
		noQueue.Corroboration, noQueue.Action = 2, vigil.RuleAction{Type: vigil.ActionAuto, Auto: "block", Webhook: "ts"}
		wantCode(t, s.Rules.CreateRule(ctx, noQueue), vigil.EINVALID)
		wantCode(t, s.Rules.ReplaceFileRules(ctx, []*vigil.Rule{noQueue}), vigil.EINVALID)

		got, err := s.Rules.FindRule(ctx, "review")
		must(t, err)
		if got.ID != r.ID || got.Action.Priority != 40 || *got.When.MaxDistance != 12 || got.When.Banks[0] != "ncmec" ||
			got.UpdatedBy != "key:curator" || got.Description != "d" || !got.Enabled {
			t.Errorf("found %+v", got)
		}
		_, err = s.Rules.FindRule(ctx, "nope")
		wantCode(t, err, vigil.ENOTFOUND)

		clock.Advance(time.Minute)
		upd := newRule("review", 70)
		upd.Enabled, upd.Source = false, vigil.RuleSourceFile // the source cannot change
		must(t, s.Rules.UpdateRule(ctx, upd))
		got, err = s.Rules.FindRule(ctx, "review")
		must(t, err)
		if got.Action.Priority != 70 || got.Enabled || got.Source != vigil.RuleSourceAPI || !got.CreatedAt.Equal(r.CreatedAt) || !got.UpdatedAt.After(got.CreatedAt) {
			t.Errorf("updated %+v", got)
		}
		wantCode(t, s.Rules.UpdateRule(ctx, newRule("nope", 1)), vigil.ENOTFOUND)
		invalid := newRule("review", vigil.MaxCasePriority+1)
		wantCode(t, s.Rules.UpdateRule(ctx, invalid), vigil.EINVALID)
		noQueue.Name = "review"
		wantCode(t, s.Rules.UpdateRule(ctx, noQueue), vigil.EINVALID)

		must(t, s.Rules.CreateRule(ctx, newRule("another", 1)))
		list, err := s.Rules.ListRules(ctx)
		must(t, err)
		if len(list) != 2 || list[0].Name != "another" || list[1].Name != "review" {
			t.Fatalf("list %v", list)
		}
		must(t, s.Rules.DeleteRule(ctx, "review"))
		wantCode(t, s.Rules.DeleteRule(ctx, "review"), vigil.ENOTFOUND)
		if list, _ := s.Rules.ListRules(ctx); len(list) != 1 {
			t.Errorf("after delete: %d rules", len(list))
		}
	})
	t.Run("ReplaceFileRules", func(t *testing.T) {
		s := open(t)
		must(t, s.Rules.CreateRule(ctx, newRule("from-api", 1)))
		must(t, s.Rules.ReplaceFileRules(ctx, []*vigil.Rule{newRule("file-a", 1), newRule("file-b", 2)}))
		must(t, s.Rules.ReplaceFileRules(ctx, []*vigil.Rule{newRule("file-b", 3), newRule("file-c", 4)}))
		list, err := s.Rules.ListRules(ctx)
		must(t, err)
		var got []string
		for _, r := range list {
			got = append(got, r.Name+":"+r.Source)
		}
		want := []string{"file-b:file", "file-c:file", "from-api:api"}
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Fatalf("rules %v, want %v", got, want)
		}
		// A file rule may not take an API rule's name; nothing changes.
		err = s.Rules.ReplaceFileRules(ctx, []*vigil.Rule{newRule("file-d", 1), newRule("from-api", 1)})
		wantCode(t, err, vigil.ECONFLICT)
		if list, _ := s.Rules.ListRules(ctx); len(list) != 3 || list[0].Name != "file-b" {
			t.Errorf("failed replace changed rules: %v", list)
		}
		// Invalid rules are refused before anything is written.
		bad := newRule("file-e", 1)
		bad.When.Kind = ""
		wantCode(t, s.Rules.ReplaceFileRules(ctx, []*vigil.Rule{bad}), vigil.EINVALID)
		must(t, s.Rules.ReplaceFileRules(ctx, nil))
		if list, _ := s.Rules.ListRules(ctx); len(list) != 1 || list[0].Name != "from-api" {
			t.Errorf("empty file left %v", list)
		}
	})
	// The built-in default rules are loaded at start like a file's, and
	// keep their own origin, so that a caller is told where a rule came
	// from; loading a file replaces them, and the defaults replace a file.
	t.Run("ReplaceDefaultRules", func(t *testing.T) {
		s := open(t)
		sources := func() []string {
			t.Helper()
			list, err := s.Rules.ListRules(ctx)
			must(t, err)
			var got []string
			for _, r := range list {
				got = append(got, r.Name+":"+r.Source)
			}
			return got
		}
		def := newRule("default-a", 1)
		def.Source = vigil.RuleSourceDefault
		must(t, s.Rules.ReplaceFileRules(ctx, []*vigil.Rule{newRule("file-a", 1)}))
		must(t, s.Rules.ReplaceFileRules(ctx, []*vigil.Rule{def}))
		if got := sources(); !slices.Equal(got, []string{"default-a:default"}) {
			t.Fatalf("after loading the defaults: %v", got)
		}
		must(t, s.Rules.ReplaceFileRules(ctx, []*vigil.Rule{newRule("file-b", 1)}))
		if got := sources(); !slices.Equal(got, []string{"file-b:file"}) {
			t.Fatalf("after loading a file: %v", got)
		}
		api := newRule("from-api", 1)
		api.Source = vigil.RuleSourceAPI
		wantCode(t, s.Rules.ReplaceFileRules(ctx, []*vigil.Rule{api}), vigil.EINVALID)
	})
}
