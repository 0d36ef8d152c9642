package main

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/vigil-oss/vigil"
)

// HoldCommand manages legal holds: `vigil hold create|list|extend|release`.
type HoldCommand struct{ *Main }

const holdUsage = `Usage:
	vigil hold create (--incident N | --case N) --reason TEXT [--requested-by WHO] --until DAY [--data DIR]
	vigil hold list [--active] [--data DIR]
	vigil hold extend --until DAY [--data DIR] ID
	vigil hold release --reason TEXT [--data DIR] ID

A legal hold keeps an incident (with its cases) or a case, and its evidence,
past its retention (vigil serve --report-retention) until the end of DAY
(YYYY-MM-DD, UTC) or an RFC 3339 time, unless released. Every change is in
the audit log, by "cli". Holds print as JSON, one a line.`

// Run dispatches to the hold subcommands.
func (c *HoldCommand) Run(ctx context.Context, args []string) error {
	sub, args, err := c.group(args, holdUsage, "create", "list", "extend", "release")
	if err != nil {
		return err
	}
	fs := c.newFlagSet("vigil hold "+sub, synopsis(holdUsage, "vigil hold "+sub))
	data := dataFlag(fs)
	var (
		incident, caseID     *int64
		reason, by, untilArg *string
		active               *bool
	)
	switch sub {
	case "create":
		incident = fs.Int64("incident", 0, "the incident to hold, with its cases")
		caseID = fs.Int64("case", 0, "the case to hold")
		fs.limit("incident", positive())
		fs.limit("case", positive())
		by = fs.String("requested-by", "", "who asked for the hold (an authority, a court)")
	case "list":
		active = fs.Bool("active", false, "only holds in force now")
	}
	if sub == "create" || sub == "release" {
		reason = fs.String("reason", "", "why: the request and its reference (required)")
	}
	if sub == "create" || sub == "extend" {
		untilArg = fs.String("until", "", "the hold's end: a day YYYY-MM-DD (to its end, UTC) or an RFC 3339 time (required)")
	}
	if err := fs.parse(args); err != nil {
		return err
	}
	var until time.Time
	if untilArg != nil {
		if until, err = parseHoldUntil(*untilArg); err != nil {
			return fs.usageErrorf("--until: %v", err)
		}
	}
	if reason != nil && *reason == "" {
		return fs.usageErrorf("--reason is required")
	}
	var id int64
	if sub == "extend" || sub == "release" {
		if err := fs.nargs(1, 1, "one hold ID"); err != nil {
			return err
		}
		if id, err = strconv.ParseInt(fs.Arg(0), 10, 64); err != nil || id <= 0 {
			return fs.usageErrorf("hold id %q is not a positive number", fs.Arg(0))
		}
	} else if err := fs.nargs(0, 0, "no arguments"); err != nil {
		return err
	}
	if sub == "create" && (*incident == 0) == (*caseID == 0) {
		return fs.usageErrorf("give one of --incident and --case")
	}
	db, err := c.openStore(ctx, data)
	if err != nil {
		return err
	}
	defer db.Close()
	enc := json.NewEncoder(c.Stdout)
	switch sub {
	case "create":
		h := &vigil.Hold{IncidentID: *incident, CaseID: *caseID, Reason: *reason, RequestedBy: *by, Until: until}
		rec := cliRecord(vigil.AuditHoldCreate, "hold:new", nil)
		rec.Complete = func(rec *vigil.AuditRecord) error {
			rec.Target = vigil.HoldAuditTarget(h.ID)
			return rec.SetDetail(map[string]any{"holds": h.Target(), "reason": h.Reason, "requested_by": h.RequestedBy, "until": h.Until})
		}
		if err := db.Preservation.CreateHold(vigil.WithAudit(ctx, rec), h, "cli"); err != nil {
			return err
		}
		return enc.Encode(h)
	case "list":
		f := vigil.HoldFilter{Limit: vigil.MaxCaseLimit}
		if *active {
			f.Active = active
		}
		for {
			page, err := db.Preservation.ListHolds(ctx, f)
			if err != nil {
				return err
			}
			for _, h := range page {
				if err := enc.Encode(h); err != nil {
					return err
				}
			}
			if len(page) < f.Limit {
				return nil
			}
			f.AfterID = page[len(page)-1].ID
		}
	case "extend":
		old, err := db.Preservation.FindHold(ctx, id)
		if err != nil {
			return err
		}
		rec := cliRecord(vigil.AuditHoldExtend, vigil.HoldAuditTarget(id), map[string]any{"holds": old.Target(), "from": old.Until, "until": until.UTC()})
		h, err := db.Preservation.ExtendHold(vigil.WithAudit(ctx, rec), id, until, "cli")
		if err != nil {
			return err
		}
		return enc.Encode(h)
	case "release":
		old, err := db.Preservation.FindHold(ctx, id)
		if err != nil {
			return err
		}
		rec := cliRecord(vigil.AuditHoldRelease, vigil.HoldAuditTarget(id), map[string]any{"holds": old.Target(), "reason": *reason})
		h, err := db.Preservation.ReleaseHold(vigil.WithAudit(ctx, rec), id, *reason, "cli")
		if err != nil {
			return err
		}
		return enc.Encode(h)
	}
	panic("unreachable: hold " + sub) // group returned a known subcommand
}

// parseHoldUntil reads a hold's end: a day runs to its end, UTC.
func parseHoldUntil(s string) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return d.AddDate(0, 0, 1), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, vigil.Errorf(vigil.EINVALID, "want a day YYYY-MM-DD or an RFC 3339 time, got %q", s)
	}
	return t, nil
}
