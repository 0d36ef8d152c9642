// Command vigil is the one Vigil binary: serve, hash, match, bank, eval …
// Each subcommand lives in its own file in this package.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain()
	if err := m.Run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errSilent) {
			fmt.Fprintln(m.Stderr, "vigil:", err)
		}
		os.Exit(exitCode(err))
	}
}

// errSilent marks a failure that the subcommand already reported (for
// example per-file errors in `vigil hash`): exit non-zero, print nothing more.
var errSilent = errors.New("failed")

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

// Main holds the process-wide streams so that subcommands can be tested
// without touching os.Stdout and friends.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Logger *slog.Logger
}

// NewMain returns a Main wired to the process's standard streams.
func NewMain() *Main {
	return &Main{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
}

// Run dispatches to a subcommand.
func (m *Main) Run(ctx context.Context, args []string) error {
	var cmd string
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "", "help", "-h", "--help":
		m.usage()
		if cmd == "" {
			return flag.ErrHelp
		}
		return nil
	case "version":
		return (&VersionCommand{m}).Run(ctx, args)
	case "hash":
		return (&HashCommand{m}).Run(ctx, args)
	case "serve":
		return (&ServeCommand{m}).Run(ctx, args)
	case "audit":
		return (&AuditCommand{m}).Run(ctx, args)
	case "bank":
		return (&BankCommand{m}).Run(ctx, args)
	case "match":
		return (&MatchCommand{m}).Run(ctx, args)
	case "scan":
		return (&ScanCommand{m}).Run(ctx, args)
	case "key":
		return (&KeyCommand{m}).Run(ctx, args)
	case "grooming":
		return (&GroomingCommand{m}).Run(ctx, args)
	case "rules":
		return (&RulesCommand{m}).Run(ctx, args)
	case "eval":
		return (&EvalCommand{m}).Run(ctx, args)
	default:
		m.usage()
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func (m *Main) usage() {
	fmt.Fprint(m.Stderr, `Vigil: child-safety detection and reporting.

Usage:

	vigil <command> [arguments]

Commands:

	audit     verify or list the hash-chained audit log
	bank      create, list, import and export banks (hash lists)
	eval      evaluate a detector on a labelled set (eval grooming FILE)
	grooming  score conversations for grooming risk (grooming score FILE)
	hash      hash images and videos: PDQ, vPDQ, MD5, SHA-1, SHA-256
	key       create, list and revoke API keys
	match     hash files and match them against the local banks
	rules     check a rules file (rules check FILE)
	scan      sweep directories for known content, resumably, locally or via a server
	serve     serve the API, the review UI and background jobs on the embedded store
	version   print the version

Run "vigil <command> -h" for a command's flags.
`)
}
