package main

import (
	"context"
	"flag"

	"github.com/vigil-oss/vigil/sqlite"
)

// defaultDataDir is where the embedded store lives unless --data says.
const defaultDataDir = "./vigil-data"

// dataFlag registers the --data flag shared by every command that opens the
// store.
func dataFlag(fs *flag.FlagSet) *string {
	return fs.String("data", defaultDataDir, "data directory of the embedded SQLite store")
}

// openStore opens the SQLite store in dir.
func (m *Main) openStore(ctx context.Context, dir string) (*sqlite.DB, error) {
	return sqlite.Open(ctx, dir, m.Logger)
}
