package main

import (
	"context"
	"fmt"
	"runtime"

	"github.com/vigil-oss/vigil"
)

// VersionCommand prints the build version.
type VersionCommand struct{ *Main }

// Run prints "vigil VERSION (go VERSION)".
func (c *VersionCommand) Run(ctx context.Context, args []string) error {
	fmt.Fprintf(c.Stdout, "vigil %s (%s)\n", vigil.Version, runtime.Version())
	return nil
}
