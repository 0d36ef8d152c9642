package sqlite

import (
	"context"
	"log/slog"
)

// OpenWithBarrier is Open with the sync barrier (options.barrier), for the
// contract tests of package sqlite_test.
func OpenWithBarrier(ctx context.Context, dir string, logger *slog.Logger) (*DB, error) {
	return open(ctx, dir, logger, options{barrier: true})
}
