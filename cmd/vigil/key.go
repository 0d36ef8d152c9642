package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/vigil-oss/vigil"
)

// KeyCommand manages API keys: `vigil key create|list|revoke`.
type KeyCommand struct{ *Main }

const keyUsage = `Usage:
	vigil key create --role ROLE [--name NAME] [--data DIR]
	vigil key list [--data DIR]
	vigil key revoke [--data DIR] ID

create prints the new key's secret alone on stdout, only this once; roles are
admin, curator, matcher and reviewer.`

// Run dispatches to the key subcommands.
func (c *KeyCommand) Run(ctx context.Context, args []string) error {
	sub, args, err := c.group(args, keyUsage, "create", "list", "revoke")
	if err != nil {
		return err
	}
	fs := c.newFlagSet("vigil key "+sub, synopsis(keyUsage, "vigil key "+sub))
	data := dataFlag(fs)
	switch sub {
	case "create":
		role := fs.String("role", "", "role of the key: admin, curator, matcher or reviewer (required)")
		name := fs.String("name", "", "a name for the key (default: the role)")
		if err := fs.parse(args); err != nil {
			return err
		}
		if err := fs.nargs(0, 0, "no arguments"); err != nil {
			return err
		}
		// Checked before the name defaults to it: a missing role is the mistake.
		if *role == "" {
			return fs.usageErrorf("key create needs --role (admin, curator, matcher or reviewer)")
		} else if !vigil.Role(*role).Valid() {
			return fs.usageErrorf("unknown role %q (admin, curator, matcher or reviewer)", *role)
		}
		if *name == "" {
			*name = *role
		}
		db, err := c.openStore(ctx, data)
		if err != nil {
			return err
		}
		defer db.Close()
		k := &vigil.Key{Name: *name, Role: vigil.Role(*role), CreatedBy: "cli"}
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
		return rec.SetDetail(map[string]any{"id": k.ID, "role": k.Role})
	}
	return rec
}
