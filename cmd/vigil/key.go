package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"

	"github.com/vigil-oss/vigil"
)

// KeyCommand manages API keys: `vigil key create|list|revoke|limits`.
type KeyCommand struct{ *Main }

const keyUsage = `Usage:
	vigil key create --role ROLE [--name NAME] [--rate R] [--burst B] [--daily N] [--data DIR]
	vigil key list [--data DIR]
	vigil key revoke [--data DIR] ID
	vigil key limits [--data DIR] (--rate R [--burst B] [--daily N] | --default) ID

create prints the new key's secret alone on stdout, only this once; roles are
admin, curator, matcher, reviewer and lookup (another platform's hosted
lookups: POST /v1/lookup only). --rate (requests per second), --burst and
--daily (signals per UTC day) limit the key's lookups; a lookup key without
them gets vigil serve's --lookup-rate, --lookup-burst and --lookup-daily.
limits replaces a key's limits, or with --default drops them.`

// limitFlags are the flags of a key's own lookup limits.
type limitFlags struct {
	rate  *float64
	burst *int
	daily *int64
}

func addLimitFlags(fs *flagSet) limitFlags {
	l := limitFlags{
		rate:  fs.Float64("rate", 0, "lookup requests per second the key may make (0: no limit)"),
		burst: fs.Int("burst", 0, "lookup requests the key may make at once (0: one second's worth of --rate)"),
		daily: fs.Int64("daily", 0, "signals the key may look up per UTC day (0: no limit)"),
	}
	for _, name := range []string{"rate", "burst", "daily"} {
		fs.limit(name, atLeast(0))
	}
	return l
}

// limits returns the limits given, or nil when no flag was.
func (l limitFlags) limits(fs *flagSet) (*vigil.KeyLimits, error) {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "rate" || f.Name == "burst" || f.Name == "daily" })
	if !set {
		return nil, nil
	}
	lim := &vigil.KeyLimits{Rate: *l.rate, Burst: *l.burst, Daily: *l.daily}
	if err := lim.Validate(); err != nil {
		return nil, fs.usageErrorf("%s", vigil.ErrorMessage(err))
	}
	return lim, nil
}

// Run dispatches to the key subcommands.
func (c *KeyCommand) Run(ctx context.Context, args []string) error {
	sub, args, err := c.group(args, keyUsage, "create", "list", "revoke", "limits")
	if err != nil {
		return err
	}
	fs := c.newFlagSet("vigil key "+sub, synopsis(keyUsage, "vigil key "+sub))
	data := dataFlag(fs)
	switch sub {
	case "create":
		role := fs.String("role", "", "role of the key: admin, curator, matcher, reviewer or lookup (required)")
		name := fs.String("name", "", "a name for the key (default: the role)")
		lf := addLimitFlags(fs)
		if err := fs.parse(args); err != nil {
			return err
		}
		limits, err := lf.limits(fs)
		if err != nil {
			return err
		}
		if err := fs.nargs(0, 0, "no arguments"); err != nil {
			return err
		}
		// Checked before the name defaults to it: a missing role is the mistake.
		if *role == "" {
			return fs.usageErrorf("key create needs --role (admin, curator, matcher, reviewer or lookup)")
		} else if !vigil.Role(*role).Valid() {
			return fs.usageErrorf("unknown role %q (admin, curator, matcher, reviewer or lookup)", *role)
		}
		if *name == "" {
			*name = *role
		}
		db, err := c.openStore(ctx, data)
		if err != nil {
			return err
		}
		defer db.Close()
		k := &vigil.Key{Name: *name, Role: vigil.Role(*role), CreatedBy: "cli", Limits: limits}
		secret, err := db.Keys.CreateKey(vigil.WithAudit(ctx, keyCLIRecord(vigil.AuditKeyCreate, k)), k)
		if err != nil {
			return err
		}
		// The secret alone, so that scripts can capture it.
		fmt.Fprintln(c.Stdout, secret)
		return nil
	case "list":
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
		list, err := db.Keys.ListKeys(ctx)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(c.Stdout)
		for _, k := range list {
			enc.Encode(k)
		}
		return nil
	case "revoke":
		if err := fs.parse(args); err != nil {
			return err
		}
		if err := fs.nargs(1, 1, "one key ID"); err != nil {
			return err
		}
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil {
			return fs.usageErrorf("key id %q is not a number", fs.Arg(0))
		}
		db, err := c.openStore(ctx, data)
		if err != nil {
			return err
		}
		defer db.Close()
		keys := db.Keys
		// A key's name and role never change: read them for the record.
		k, err := keys.FindKeyByID(ctx, id)
		if err != nil {
			return err
		}
		if k, err = keys.RevokeKey(vigil.WithAudit(ctx, keyCLIRecord(vigil.AuditKeyRevoke, k)), id, "cli"); err != nil {
			return err
		}
		return json.NewEncoder(c.Stdout).Encode(k)
	case "limits":
		lf := addLimitFlags(fs)
		def := fs.Bool("default", false, "drop the key's own limits: the server's defaults apply again")
		if err := fs.parse(args); err != nil {
			return err
		}
		if err := fs.nargs(1, 1, "one key ID"); err != nil {
			return err
		}
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil || id <= 0 {
			return fs.usageErrorf("key id %q is not a positive number", fs.Arg(0))
		}
		limits, err := lf.limits(fs)
		if err != nil {
			return err
		}
		if (limits == nil) == !*def {
			return fs.usageErrorf("key limits needs --rate, --burst or --daily, or --default")
		}
		db, err := c.openStore(ctx, data)
		if err != nil {
			return err
		}
		defer db.Close()
		k, err := db.Keys.FindKeyByID(ctx, id)
		if err != nil {
			return err
		}
		rec := cliRecord(vigil.AuditKeyLimits, k.Actor(), map[string]any{"limits": limits})
		if k, err = db.Keys.SetKeyLimits(vigil.WithAudit(ctx, rec), id, limits); err != nil {
			return err
		}
		return json.NewEncoder(c.Stdout).Encode(k)
	}
	panic("unreachable: key " + sub) // group returned a known subcommand
}

// keyCLIRecord returns the record of a change to key k made from the
// command line. The target and detail are filled in with the change, from
// k as the store leaves it: a new key's id is known only then.
func keyCLIRecord(action string, k *vigil.Key) *vigil.AuditRecord {
	rec := cliRecord(action, "key", nil)
	rec.Complete = func(rec *vigil.AuditRecord) error {
		rec.Target = k.Actor()
		detail := map[string]any{"id": k.ID, "role": k.Role}
		if k.Limits != nil {
			detail["limits"] = k.Limits
		}
		return rec.SetDetail(detail)
	}
	return rec
}
