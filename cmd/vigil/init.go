package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vigil-oss/vigil/sqlite"
)

// InitCommand creates a data directory: `vigil init [--data DIR]`. It is,
// with serve, the only command that creates a store.
type InitCommand struct{ *Main }

// Run creates the store in the data directory, or brings an existing
// one's schema up to date.
func (c *InitCommand) Run(ctx context.Context, args []string) error {
	fs := c.newFlagSet("vigil init", `Usage: vigil init [--data DIR]

Creates the data directory and its embedded store (the SQLite database), for
bank, key, match, scan and audit to work on before the first "vigil serve".
On an existing directory it only brings the schema up to date.`)
	data := dataFlag(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fs.usageErrorf("init takes no arguments, got %q", fs.Args())
	}
	existed := storeExists(*data)
	db, err := c.createStore(ctx, *data)
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

// storeExists reports whether dir holds a store's database file.
func storeExists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, sqlite.FileName))
	return !errors.Is(err, fs.ErrNotExist)
}
