// Command vigil is the one Vigil binary: serve, hash, match, bank, eval …
// Each subcommand lives in its own file in this package.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := NewMain().Exec(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// errSilent marks a failure that the subcommand already reported (for
// example per-file errors in `vigil hash`): exit 1, print nothing more.
var errSilent = errors.New("failed")

// Main holds the process-wide streams so that subcommands can be tested
// without touching os.Stdout and friends.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Logger *slog.Logger

	// onParse, when set, sees every flag set just before it parses; tests
	// use it to check every command's flags.
	onParse func(*flagSet)
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

// commands are the subcommands, for dispatch and for "vigil help TOPIC".
var commands = []string{"audit", "bank", "bench", "centre", "classify", "eval", "feed", "grooming", "hash", "hold", "init", "key", "match", "phm", "report", "rules", "scan", "serve", "transparency", "version"}

// Run runs a command line and returns its error: nil also when help was
// asked for and printed, a *usageError for a mistake in the command line.
// Exec prints it and turns it into an exit status.
func (m *Main) Run(ctx context.Context, args []string) error {
	if err := m.run(ctx, args); !errors.Is(err, errHelpShown) {
		return err
	}
	return nil
}

func (m *Main) run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return &usageError{msg: "missing command", usage: m.usage}
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "help", "-h", "-help", "--help":
		if len(args) == 0 {
			m.usage(m.Stdout)
			return nil
		}
		// "vigil help bank import" is "vigil bank import --help".
		if !slices.Contains(commands, args[0]) {
			return &usageError{msg: fmt.Sprintf("unknown help topic %q", args[0]), usage: m.usage}
		}
		return m.run(ctx, append(slices.Clone(args), "--help"))
	case "version":
		return (&VersionCommand{m}).Run(ctx, args)
	case "hash":
		return (&HashCommand{m}).Run(ctx, args)
	case "classify":
		return (&ClassifyCommand{m}).Run(ctx, args)
	case "init":
		return (&InitCommand{m}).Run(ctx, args)
	case "serve":
		return (&ServeCommand{m}).Run(ctx, args)
	case "audit":
		return (&AuditCommand{m}).Run(ctx, args)
	case "bank":
		return (&BankCommand{m}).Run(ctx, args)
	case "bench":
		return (&BenchCommand{m}).Run(ctx, args)
	case "match":
		return (&MatchCommand{m}).Run(ctx, args)
	case "feed":
		return (&FeedCommand{m}).Run(ctx, args)
	case "scan":
		return (&ScanCommand{m}).Run(ctx, args)
	case "key":
		return (&KeyCommand{m}).Run(ctx, args)
	case "hold":
		return (&HoldCommand{m}).Run(ctx, args)
	case "centre":
		return (&CentreCommand{m}).Run(ctx, args)
	case "grooming":
		return (&GroomingCommand{m}).Run(ctx, args)
	case "rules":
		return (&RulesCommand{m}).Run(ctx, args)
	case "phm":
		if len(args) > 0 && slices.Contains(phmTableSubcommands, args[0]) {
			return (&PHMTableCommand{m}).Run(ctx, args)
		}
		if len(args) > 0 && args[0] == "eval" {
			return (&PHMEvalCommand{m}).Run(ctx, args[1:])
		}
		return (&PHMCommand{Main: m, tables: phmTableDirs{}}).Run(ctx, args)
	case "report":
		return (&ReportCommand{m}).Run(ctx, args)
	case "eval":
		return (&EvalCommand{m}).Run(ctx, args)
	case "transparency":
		return (&TransparencyCommand{m}).Run(ctx, args)
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q", cmd), usage: m.usage}
}

func (m *Main) usage(w io.Writer) {
	fmt.Fprint(w, `Vigil: child-safety detection and reporting.

Usage:

	vigil <command> [arguments]

Commands:

	audit     verify or list the hash-chained audit log
	bank      create, list, import, export banks (hash lists) and retract entries
	bench     measure the server under load on loopback (bench lookup)
	centre    register a centre's providers; poll a centre for the outcome of reports sent to it
	classify  run the configured classifiers on files: scores that rank for review, JSON lines
	eval      evaluate a detector on a labelled set (eval grooming FILE)
	feed      publish banks as signed feeds and subscribe to other instances' feeds
	grooming  score conversations for grooming risk (grooming score FILE)
	hash      hash images and videos: PDQ, vPDQ, MD5, SHA-1, SHA-256
	hold      create, list, extend and release legal holds (keep incidents and cases past retention)
	init      create a data directory: the embedded store the commands below use
	key       create, list and revoke API keys
	match     hash files and match them against the local banks
	phm       private hash matching for E2EE messaging: build and verify the blinded table, make vouchers as a device would, open them as the service would
	report    render an incident as an NCMEC CyberTipline report, validated (report render --incident N)
	rules     check a rules file (rules check FILE)
	scan      sweep directories for known content, resumably, locally or via a server
	serve     serve the API, the review UI and background jobs on the embedded store
	transparency  the transparency figures of a period: rates with intervals, reports, complaints (json, csv, html)
	version   print the version

audit, bank, feed, hold, key, match, report, transparency and scan (without --server) work on a data directory
(--data, default ./vigil-data) made by "vigil init" or "vigil serve"; they
never create one.

Run "vigil help <command>" for a command's flags.
`)
}
