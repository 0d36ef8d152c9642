package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlite"
)

// KeyCommand manages API keys: `vigil key create|list|revoke`.
type KeyCommand struct{ *Main }

const keyUsage = `Usage:
	vigil key create --role ROLE [--name NAME] [--data DIR]
	vigil key list [--data DIR]
	vigil key revoke [--data DIR] ID

create prints the new key's secret alone on stdout (it is shown only once);
roles are admin, curator, matcher and reviewer.`

// Run dispatches to the key subcommands.
func (c *KeyCommand) Run(ctx context.Context, args []string) error {
	sub, args, err := c.group(args, keyUsage, "create", "list", "revoke")
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		fs := c.newFlagSet("vigil key create", "Usage: vigil key create --role ROLE [--name NAME] [--data DIR]\n\nCreates an API key and prints its secret alone on stdout; it is shown only this once.")
		data := dataFlag(fs)
		role := fs.String("role", "", "role of the key: admin, curator, matcher or reviewer (required)")
		name := fs.String("name", "", "a name for the key (default: the role)")
		if err := fs.parse(args); err != nil {
			return err
		}
		switch {
		case fs.NArg() > 0:
			return fs.usageErrorf("key create takes no arguments, got %q", fs.Args())
		case *role == "":
			return fs.usageErrorf("key create needs --role (admin, curator, matcher or reviewer)")
		case !vigil.Role(*role).Valid():
			return fs.usageErrorf("unknown role %q (admin, curator, matcher or reviewer)", *role)
		}
		if *name == "" {
			*name = *role
		}
		db, err := c.openStore(ctx, *data)
		if err != nil {
			return err
		}
		defer db.Close()
		k := &vigil.Key{Name: *name, Role: vigil.Role(*role), CreatedBy: "cli"}
		secret, err := sqlite.NewKeyService(db).CreateKey(ctx, k)
		if err != nil {
			return err
		}
		c.auditCLI(ctx, db, vigil.AuditKeyCreate, "key:"+k.Name, map[string]any{"id": k.ID, "role": k.Role})
		// The secret alone, so that scripts can capture it.
		fmt.Fprintln(c.Stdout, secret)
		return nil
	case "list":
		fs := c.newFlagSet("vigil key list", "Usage: vigil key list [--data DIR]\n\nPrints every key (never its secret) as JSON lines.")
		data := dataFlag(fs)
		if err := fs.parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fs.usageErrorf("key list takes no arguments, got %q", fs.Args())
		}
		db, err := c.openStore(ctx, *data)
		if err != nil {
			return err
		}
		defer db.Close()
		list, err := sqlite.NewKeyService(db).ListKeys(ctx)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(c.Stdout)
		for _, k := range list {
			enc.Encode(k)
		}
		return nil
	case "revoke":
		fs := c.newFlagSet("vigil key revoke", "Usage: vigil key revoke [--data DIR] ID\n\nRevokes the key with this id (see vigil key list) and prints it.")
		data := dataFlag(fs)
		if err := fs.parse(args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return fs.usageErrorf("key revoke takes one key id, got %d arguments", fs.NArg())
		}
		id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil {
			return fs.usageErrorf("key id %q is not a number", fs.Arg(0))
		}
		db, err := c.openStore(ctx, *data)
		if err != nil {
			return err
		}
		defer db.Close()
		k, err := sqlite.NewKeyService(db).RevokeKey(ctx, id, "cli")
		if err != nil {
			return err
		}
		c.auditCLI(ctx, db, vigil.AuditKeyRevoke, "key:"+k.Name, map[string]any{"id": k.ID})
		return json.NewEncoder(c.Stdout).Encode(k)
	}
	panic("unreachable: key " + sub)
}
