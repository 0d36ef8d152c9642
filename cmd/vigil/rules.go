package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/rules"
)

// RulesCommand checks rules files: `vigil rules check FILE`, so that a
// change can be tried before `vigil serve --rules` refuses it at start.
type RulesCommand struct{ *Main }

// Run dispatches the rules subcommands.
func (c *RulesCommand) Run(ctx context.Context, args []string) error {
	_, args, err := c.group(args, "Usage: vigil rules check FILE\n\nChecks a rules file (see docs/rules.example.yaml) and lists its rules.", "check")
	if err != nil {
		return err
	}
	fs := c.newFlagSet("vigil rules check", "Usage: vigil rules check FILE\n\nChecks a rules file (see docs/rules.example.yaml) and lists its rules; exits 1 if it has a mistake.")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.nargs(1, 1, "one FILE"); err != nil {
		return err
	}
	rs, err := rules.ReadFile(fs.Arg(0))
	if err != nil {
		return plainError(err)
	}
	tw := tabwriter.NewWriter(c.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tON\tWHEN\tACTION")
	for _, r := range rs {
		on := "yes"
		if !r.Enabled {
			on = "no"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, on, describeWhen(r), describeAction(r.Action))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "ok: %d rules\n", len(rs))
	return nil
}

// describeWhen says in one line what a rule fires on.
func describeWhen(r *vigil.Rule) string {
	w := r.When
	parts := []string{w.Kind}
	list := func(name string, vs []string) {
		if len(vs) > 0 {
			parts = append(parts, name+"="+strings.Join(vs, ","))
		}
	}
	list("banks", w.Banks)
	list("categories", w.Categories)
	var types []string
	for _, t := range w.SignalTypes {
		types = append(types, string(t))
	}
	list("signal_types", types)
	if w.MaxDistance != nil {
		parts = append(parts, fmt.Sprintf("max_distance=%d", *w.MaxDistance))
	}
	if w.Flagged {
		parts = append(parts, "flagged")
	}
	if w.MinScore > 0 {
		parts = append(parts, fmt.Sprintf("min_score=%g", w.MinScore))
	}
	if w.MinLevel != "" {
		parts = append(parts, "min_level="+w.MinLevel)
	}
	if w.Disclosure {
		parts = append(parts, "disclosure")
	}
	if r.Corroboration > 1 {
		parts = append(parts, fmt.Sprintf("corroboration=%d", r.Corroboration))
	}
	return strings.Join(parts, " ")
}

// describeAction says in one line what a rule does.
func describeAction(a vigil.RuleAction) string {
	s := a.Type
	if a.Auto != "" {
		s += " " + a.Auto
	}
	if a.Queue != "" {
		s += fmt.Sprintf(" queue=%s priority=%d", a.Queue, a.Priority)
	}
	if a.Webhook != "" {
		s += " webhook=" + a.Webhook
	}
	return s
}
