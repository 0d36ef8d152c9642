package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vigil-oss/vigil/postgres"
	"github.com/vigil-oss/vigil/sqlite"
)

// InitCommand creates a data directory: `vigil init [--data DIR]`. It is,
// with serve, the only command that creates a store.
type InitCommand struct{ *Main }

// Run creates the store in the data directory, or brings an existing
// one's schema up to date.
func (c *InitCommand) Run(ctx context.Context, args []string) error {
	fs := c.newFlagSet("vigil init", `Usage: vigil init [--data DIR] [--db postgres://…]

Creates the data directory and its embedded store (the SQLite database), or
with --db the store's tables in a PostgreSQL database, for bank, key, match,
scan and audit to work on before the first "vigil serve". On an existing
store it only brings the schema up to date.`)
	data := dataFlag(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fs.usageErrorf("init takes no arguments, got %q", fs.Args())
	}
	existed, err := c.storeExists(ctx, data)
	if err != nil {
		return err
	}
	db, err := c.createStore(ctx, data)
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	if existed {
		fmt.Fprintln(c.Stderr, "vigil: the data directory already held a store; its schema is up to date")
	} else {
		fmt.Fprintln(c.Stderr, "vigil: created the store")
	}
	return nil
}

// storeExists reports whether the store f names exists: the data
// directory's database file, or the --db database's schema.
func (c *InitCommand) storeExists(ctx context.Context, f *storeFlags) (bool, error) {
	u, err := f.postgresURL()
	if err != nil || u == "" {
		return storeExists(f.dir()), err
	}
	return postgres.Initialized(ctx, u)
}

// storeExists reports whether dir holds a store's database file.
func storeExists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, sqlite.FileName))
	return !errors.Is(err, fs.ErrNotExist)
}
