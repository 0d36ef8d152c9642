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
	fs := c.newFlagSet("vigil version", "Usage: vigil version\n\nPrints the version of Vigil and of the Go it was built with.")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.nargs(0, 0, "no arguments"); err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "vigil %s (%s)\n", vigil.Version, runtime.Version())
	return nil
}
