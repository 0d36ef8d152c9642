package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/sqlite"
)

// defaultDataDir is where the embedded store lives unless --data says.
const defaultDataDir = "./vigil-data"

// dataFlag registers the --data flag shared by every command that opens the
// store.
func dataFlag(fs *flagSet) *string {
	return fs.String("data", defaultDataDir, "data directory of the embedded SQLite store, made by vigil init or vigil serve")
}

// localMatcher loads the indexes of every bank in db.
func (m *Main) localMatcher(ctx context.Context, db *sqlite.DB) (*matcher.Matcher, error) {
	mt := matcher.New(sqlite.NewBankService(db), sqlite.NewEntryService(db), m.Logger)
	if err := mt.Load(ctx); err != nil {
		return nil, fmt.Errorf("load indexes: %w", err)
	}
	return mt, nil
}

// openStore opens the existing SQLite store in dir and says on stderr which
// directory it is. It never creates one: a command run from the wrong
// directory would otherwise work on a new, empty store (print a key the
// server does not know, verify an empty audit log) and say nothing.
func (m *Main) openStore(ctx context.Context, dir string) (*sqlite.DB, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if !storeExists(abs) {
		return nil, fmt.Errorf("no Vigil data directory at %s: give the right one with --data DIR, or create it with \"vigil init --data %s\"", abs, dir)
	}
	return m.openData(ctx, abs)
}

// createStore opens the SQLite store in dir, creating it if needed; only
// init and serve do.
func (m *Main) createStore(ctx context.Context, dir string) (*sqlite.DB, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	return m.openData(ctx, abs)
}

func (m *Main) openData(ctx context.Context, abs string) (*sqlite.DB, error) {
	fmt.Fprintf(m.Stderr, "vigil: data directory %s\n", abs)
	return sqlite.Open(ctx, abs, m.Logger)
}
