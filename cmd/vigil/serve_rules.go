package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/respond"
	"github.com/vigil-oss/vigil/rules"
)

// rulesFlags are serve's flags for rules.
type rulesFlags struct {
	file          string
	caseRetention time.Duration
	// classifiers are the configured classifiers' names, which
	// classifier rules must name.
	classifiers []string
}

// addRulesFlags registers the rules flags on fs.
func addRulesFlags(fs *flagSet) *rulesFlags {
	r := &rulesFlags{}
	fs.StringVar(&r.file, "rules", "",
		"YAML rules file, loaded at start in place of the previous file's rules (rules made through the API stay); "+
			"without it, the default rules: every match, every flagged conversation and every victim's disclosure opens a case in the \""+rules.DefaultQueue+"\" queue")
	fs.DurationVar(&r.caseRetention, "case-retention", respond.DefaultCaseRetention,
		"how long a case opened by a rule keeps its evidence and media")
	fs.limit("case-retention", positive())
	return r
}

// loadRules creates the default queue on first start and replaces the
// rules that came from a rules file with those of f.file, or with the
// default rules when there is none. An enabled rule that would open cases
// in a queue that does not exist, or call a webhook not among webhooks,
// stops the start: its cases or events would be lost.
func (c *ServeCommand) loadRules(ctx context.Context, cases vigil.CaseService, store vigil.RuleService, f *rulesFlags, webhooks webhookFlags) error {
	if f.caseRetention <= 0 {
		return fmt.Errorf("--case-retention must be positive")
	}
	if _, err := cases.FindQueue(ctx, rules.DefaultQueue); vigil.ErrorCode(err) == vigil.ENOTFOUND {
		q := &vigil.Queue{Name: rules.DefaultQueue, Description: "Cases opened by the default rules.", Roles: []vigil.Role{vigil.RoleReviewer}}
		if err := cases.CreateQueue(ctx, q); err != nil {
			return fmt.Errorf("create the default queue: %w", err)
		}
		c.Logger.Info("created the default review queue", "queue", q.Name)
	} else if err != nil {
		return err
	}

	rs, from := rules.Default(), "default rules"
	if f.file != "" {
		var err error
		if rs, err = rules.ReadFile(f.file); err != nil {
			return plainError(err)
		}
		from = f.file
	}
	for _, r := range rs {
		if !r.Enabled {
			continue
		}
		if wh := r.Action.Webhook; wh != "" {
			if _, ok := webhooks[wh]; !ok {
				return fmt.Errorf("%s: rule %q calls webhook %q, which is not configured; add --webhook %s=URL or disable the rule", from, r.Name, wh, wh)
			}
		}
		if cl := r.When.Classifier; r.When.Kind == vigil.CaseKindClassifier && !slices.Contains(f.classifiers, cl) {
			return fmt.Errorf("%s: rule %q acts on classifier %q, which is not configured; add --classifier %s=KIND:URL or disable the rule", from, r.Name, cl, cl)
		}
		if r.Action.Queue == "" {
			continue
		}
		if _, err := cases.FindQueue(ctx, r.Action.Queue); vigil.ErrorCode(err) == vigil.ENOTFOUND {
			return fmt.Errorf("%s: rule %q opens cases in queue %q, which does not exist; create it (POST /v1/queues) or disable the rule", from, r.Name, r.Action.Queue)
		} else if err != nil {
			return err
		}
	}
	if err := store.ReplaceFileRules(ctx, rs); err != nil {
		return fmt.Errorf("load %s: %w", from, plainError(err))
	}
	c.Logger.Info("rules loaded", "from", from, "rules", len(rs))
	return c.queueAutoRules(ctx, store)
}

// upgradeActor names the server in the audit records of the changes it
// makes by itself at start to data an earlier version stored.
const upgradeActor = "system:upgrade"

// queueAutoRules gives every stored auto rule without a queue the default
// queue, each change audited in its own transaction and logged as a
// warning. Such rules were made through the API before an auto action had
// to open a case (the rules file and the default rules are checked as
// they load, above). Their actions were taken with no case: no reviewer
// saw them afterwards, no user was told, no complaint could name them.
//
// Why not refuse to start instead, as for a mistake in the rules file:
// refusing would stop every detection and block an upgrade over a rule
// the operator cannot fix while the server (its API) is down, and
// disabling the rule would silently stop the protection it gives. The
// trust-and-safety answer is to keep the protection and add the
// accountability the rule lacked: the block goes on, and from now on
// each one opens a case in the default queue (created on first start,
// for reviewers), with its notice and a complaint path. The warning and
// the audit record say what changed; PUT /v1/rules/NAME moves the rule
// to another queue.
func (c *ServeCommand) queueAutoRules(ctx context.Context, store vigil.RuleService) error {
	rs, err := store.ListRules(ctx)
	if err != nil {
		return fmt.Errorf("check stored auto rules: %w", err)
	}
	for _, r := range rs {
		if r.Action.Type != vigil.ActionAuto || r.Action.Queue != "" {
			continue
		}
		was := *r
		upd := *r
		upd.Action.Queue, upd.UpdatedBy = rules.DefaultQueue, upgradeActor
		rec := &vigil.AuditRecord{Actor: upgradeActor, Action: vigil.AuditRuleChange, Target: "rule:" + r.Name}
		rec.Complete = func(rec *vigil.AuditRecord) error {
			return rec.SetDetail(map[string]any{"op": "update", "rule": &upd, "was": &was,
				"why": "an auto action must open a case; this rule had no queue"})
		}
		if err := store.UpdateRule(vigil.WithAudit(ctx, rec), &upd); err != nil {
			return fmt.Errorf("rule %q takes an automatic action without opening a case, and giving it queue %q failed: %w; "+
				"give it a queue (PUT /v1/rules/%s) or delete it", r.Name, rules.DefaultQueue, plainError(err), r.Name)
		}
		c.Logger.Warn("auto rule had no queue: its automatic actions now open cases in the default queue, for review, notice and complaints",
			"rule", r.Name, "queue", rules.DefaultQueue, "enabled", r.Enabled, "change", "PUT /v1/rules/"+r.Name+" to choose another queue")
	}
	return nil
}

// plainError returns err with a vigil error's message alone, as a person
// at a terminal wants it; other errors are returned as they are.
func plainError(err error) error {
	if vigil.ErrorCode(err) == vigil.EINTERNAL {
		return err
	}
	return errors.New(vigil.ErrorMessage(err))
}

// allRematch returns an OnRematch callback that calls each of fns in turn
// and stops at the first error.
func allRematch(fns []func(context.Context, []*vigil.Rematch) error) func(context.Context, []*vigil.Rematch) error {
	return func(ctx context.Context, found []*vigil.Rematch) error {
		for _, fn := range fns {
			if err := fn(ctx, found); err != nil {
				return err
			}
		}
		return nil
	}
}
