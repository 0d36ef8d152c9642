package main

import (
	"bufio"
	"context"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/transparency"
)

// TransparencyCommand prints the transparency figures of a period:
// `vigil transparency --from DAY --to DAY [--format json|csv|html]`.
type TransparencyCommand struct{ *Main }

const transparencyUsage = `Usage:
	vigil transparency --from DAY --to DAY [--format json|csv|html] [--data DIR]

Prints the transparency figures of the period from the start of --from to
the end of --to (days YYYY-MM-DD, UTC, or RFC 3339 times, the end
excluded): items checked, matches by bank and by entry source, cases
opened and decided, confirmed and false-positive rates with 95% Wilson
intervals per bank and per source, quarantined entries, incidents and
reports by destination and outcome, complaints and their outcomes, median
and 90th-percentile time from detection to decision and to report, and
grooming detections with their confirmation rate. html is one
self-contained file with SVG charts, to publish as it is:

	vigil transparency --from 2026-01-01 --to 2026-06-30 --format html > report.html`

// Run prints the figures.
func (c *TransparencyCommand) Run(ctx context.Context, args []string) error {
	fs := c.newFlagSet("vigil transparency", transparencyUsage)
	data := dataFlag(fs)
	fromArg := fs.String("from", "", "the first day of the period (required)")
	toArg := fs.String("to", "", "the last day of the period, included (required)")
	format := fs.String("format", "json", "json, csv or html")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.nargs(0, 0, "no arguments"); err != nil {
		return err
	}
	from, err := vigil.ParsePeriodBound(*fromArg, false)
	if err != nil {
		return fs.usageErrorf("--from: %s", vigil.ErrorMessage(err))
	}
	to, err := vigil.ParsePeriodBound(*toArg, true)
	if err != nil {
		return fs.usageErrorf("--to: %s", vigil.ErrorMessage(err))
	}
	switch *format {
	case transparency.FormatJSON, transparency.FormatCSV, transparency.FormatHTML:
	default:
		return fs.usageErrorf("--format must be json, csv or html, not %q", *format)
	}
	db, err := c.openStore(ctx, data)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := db.Transparency.Transparency(ctx, from, to)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(c.Stdout)
	if err := transparency.Write(w, t, *format); err != nil {
		return err
	}
	return w.Flush()
}
