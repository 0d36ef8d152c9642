package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/vigil-oss/vigil"
)

// AuditCommand reads and checks the audit log: `vigil audit verify|list`.
type AuditCommand struct{ *Main }

const auditUsage = `Usage:
	vigil audit verify [--data DIR]
	vigil audit list [--data DIR] [--after SEQ] [--limit N]

verify checks the hash chain of the audit log and names the first record
changed behind the store's back (exit 1); list prints records as JSON lines.`

// Run dispatches the audit subcommands.
func (c *AuditCommand) Run(ctx context.Context, args []string) error {
	sub, args, err := c.group(args, auditUsage, "verify", "list")
	if err != nil {
		return err
	}
	fs := c.newFlagSet("vigil audit "+sub, synopsis(auditUsage, "vigil audit "+sub))
	data := dataFlag(fs)
	var after *int64
	var limit *int
	if sub == "list" {
		after = fs.Int64("after", 0, "list records after this sequence number")
		limit = fs.Int("limit", 100, "list at most this many records")
		fs.limit("limit", between(1, vigil.MaxEntryLimit))
	}
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.nargs(0, 0, "no arguments"); err != nil {
		return err
	}
	db, err := c.openStore(ctx, data)
	if err != nil {
		return err
	}
	defer db.Close()
	audit := db.Audit
	switch sub {
	case "verify":
		n, brk, err := audit.VerifyAudit(ctx)
		if err != nil {
			return err
		}
		if brk != nil {
			fmt.Fprintf(c.Stdout, "BROKEN at record %d: %s (%d records read)\n", brk.Seq, brk.Reason, n)
			return errSilent
		}
		fmt.Fprintf(c.Stdout, "ok: %d records, chain intact\n", n)
		return nil
	case "list":
		recs, err := audit.ListAudit(ctx, *after, *limit)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(c.Stdout)
		for _, r := range recs {
			enc.Encode(r)
		}
		return nil
	}
	panic("unreachable: audit " + sub) // group returned a known subcommand
}

// cliRecord returns the audit record of an action taken from the command
// line. detail, if not nil, is encoded when the record is stored, after the
// change, so that what the store fills in (a new bank's id) is included.
func cliRecord(action, target string, detail any) *vigil.AuditRecord {
	rec := &vigil.AuditRecord{Actor: "cli", Action: action, Target: target}
	if detail != nil {
		rec.Complete = func(rec *vigil.AuditRecord) error { return rec.SetDetail(detail) }
	}
	return rec
}

// auditCLI records an action taken from the command line that changes
// nothing in the store (an export): changes carry their record to the
// store instead (vigil.WithAudit with cliRecord), which writes it with
// the change.
func (m *Main) auditCLI(ctx context.Context, db *store, action, target string, detail any) error {
	if err := db.Audit.AppendAudit(ctx, cliRecord(action, target, detail)); err != nil {
		return fmt.Errorf("audit %s %s: %w", action, target, err)
	}
	return nil
}
