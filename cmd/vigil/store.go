package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/sqlite"
)

// defaultDataDir is where the embedded store lives unless --data says.
const defaultDataDir = "./vigil-data"

// dataFlag registers the --data flag shared by every command that opens the
// store.
func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", defaultDataDir, "data directory of the embedded SQLite store")
}

// localMatcher loads the indexes of every bank in db.
func (m *Main) localMatcher(ctx context.Context, db *sqlite.DB) (*matcher.Matcher, error) {
	mt := matcher.New(sqlite.NewBankService(db), sqlite.NewEntryService(db), m.Logger)
	if err := mt.Load(ctx); err != nil {
		return nil, fmt.Errorf("load indexes: %w", err)
	}
	return mt, nil
}

// openStore opens the SQLite store in dir.
func (m *Main) openStore(ctx context.Context, dir string) (*sqlite.DB, error) {
	return sqlite.Open(ctx, dir, m.Logger)
}
