package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// execResult is what a person at a terminal sees of one command line.
type execResult struct {
	code           int
	stdout, stderr string
}

// runExec runs a command line as main does, exit status included.
func runExec(tb testing.TB, stdin string, args ...string) execResult {
	tb.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	code := m.Exec(context.Background(), args)
	return execResult{code, out.String(), errOut.String()}
}

func TestHelpGoesToStdout(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"help"}, "Commands:"},
		{[]string{"--help"}, "Commands:"},
		{[]string{"help", "hash"}, "-max-bytes"},
		{[]string{"hash", "--help"}, "-max-bytes"},
		{[]string{"hash", "-h"}, "-workers"},
		{[]string{"help", "bank"}, "vigil bank retract"},
		{[]string{"bank", "--help"}, "vigil bank import"},
		{[]string{"bank", "help"}, "vigil bank export"},
		{[]string{"help", "bank", "import"}, "-signal-type"},
		{[]string{"bank", "retract", "-h"}, "-reason"},
		{[]string{"help", "key", "create"}, "-role"},
		{[]string{"help", "serve"}, "-job-workers"},
		{[]string{"help", "init"}, "-data"},
		{[]string{"help", "eval"}, "eval grooming"},
		{[]string{"help", "eval", "grooming"}, "-threshold"},
		{[]string{"grooming", "--help"}, "grooming score"},
		{[]string{"rules", "check", "--help"}, "rules check FILE"},
		{[]string{"audit", "list", "--help"}, "-limit"},
		{[]string{"version", "--help"}, "vigil version"},
	} {
		r := runExec(t, "", tc.args...)
		if r.code != 0 || !strings.Contains(r.stdout, tc.want) || r.stderr != "" {
			t.Errorf("vigil %s: exit %d, stdout %.80q, stderr %q; want exit 0 and %q on stdout", strings.Join(tc.args, " "), r.code, r.stdout, r.stderr, tc.want)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	img := filepath.Join(testImages, "synthetic/synth-smooth-rgb-129x300.png")
	for _, tc := range []struct {
		args []string
		msg  string // in the first line on stderr
	}{
		{nil, "missing command"},
		{[]string{"nonsense"}, `unknown command "nonsense"`},
		{[]string{"help", "nonsense"}, `unknown help topic "nonsense"`},
		{[]string{"hash"}, "at least one PATH"},
		{[]string{"hash", "--nonsense", img}, "flag provided but not defined: -nonsense"},
		{[]string{"hash", "--workers", "0", img}, `invalid value "0" for flag -workers: must be at least 1`},
		{[]string{"hash", "--workers", "-1", img}, `invalid value "-1" for flag -workers`},
		{[]string{"hash", "--max-bytes", "-5", img}, `invalid value "-5" for flag -max-bytes`},
		{[]string{"hash", "--format", "xml", img}, `unknown --format "xml"`},
		{[]string{"match", "--workers", "0", img}, `invalid value "0" for flag -workers`},
		{[]string{"match", "--min-quality", "101", img}, "must be between -1 and 100"},
		{[]string{"scan", "--workers", "-1", img}, `invalid value "-1" for flag -workers`},
		{[]string{"scan", "--keep-signals", "-1h", img}, "must be at least 0s"},
		{[]string{"bank"}, "missing subcommand"},
		{[]string{"bank", "frob"}, `unknown subcommand "frob"`},
		{[]string{"bank", "create"}, "bank create takes a bank NAME, got 0 arguments"},
		{[]string{"bank", "retract", "--reason", "x"}, "ENTRY_ID"},
		{[]string{"bank", "retract", "--reason", "x", "seven"}, `entry id "seven" is not a positive number`},
		{[]string{"bank", "retract", "7"}, "needs --reason"},
		{[]string{"key", "create"}, "key create needs --role (admin, curator"},
		{[]string{"key", "create", "--role", "wizard"}, `unknown role "wizard"`},
		{[]string{"key", "revoke", "x"}, `key id "x" is not a number`},
		{[]string{"audit", "list", "--limit", "0"}, "-limit: must be between 1 and"},
		{[]string{"serve", "--job-workers", "0"}, `invalid value "0" for flag -job-workers`},
		{[]string{"serve", "extra"}, "serve takes no arguments"},
		{[]string{"bank", "list", "--db", "mysql://x"}, "--db must be a postgres:// URL"},
		{[]string{"rules"}, "missing subcommand"},
		{[]string{"rules", "check"}, "rules check takes one FILE, got 0 arguments"},
		{[]string{"version", "extra"}, "version takes no arguments"},
	} {
		r := runExec(t, "", tc.args...)
		first, rest, _ := strings.Cut(r.stderr, "\n")
		if r.code != 2 || !strings.HasPrefix(first, "vigil: ") || !strings.Contains(first, tc.msg) || !strings.Contains(rest, "Usage") || r.stdout != "" {
			t.Errorf("vigil %s: exit %d, stderr %q, stdout %q; want exit 2, %q and the usage on stderr", strings.Join(tc.args, " "), r.code, r.stderr, r.stdout, tc.msg)
		}
	}
}

// TestEveryNumericFlagIsRanged checks, for the flags of every command and
// subcommand, that a value just outside each numeric flag's range is a
// usage error naming the flag.
func TestEveryNumericFlagIsRanged(t *testing.T) {
	lines := [][]string{}
	for _, cmd := range commands {
		switch cmd {
		case "audit":
			lines = append(lines, []string{"audit", "verify"}, []string{"audit", "list"})
		case "bank":
			for _, sub := range []string{"create", "list", "import", "export", "retract"} {
				lines = append(lines, []string{"bank", sub})
			}
		case "key":
			for _, sub := range []string{"create", "list", "revoke"} {
				lines = append(lines, []string{"key", sub})
			}
		case "hold":
			for _, sub := range []string{"create", "list", "extend", "release"} {
				lines = append(lines, []string{"hold", sub})
			}
		case "feed":
			for _, sub := range []string{"keygen", "create", "cut", "rotate", "subscribe", "sync", "list", "stopncii", "ncmec", "threatexchange"} {
				lines = append(lines, []string{"feed", sub})
			}
		case "eval":
			lines = append(lines, []string{"eval", "grooming"})
		case "bench":
			lines = append(lines, []string{"bench", "lookup"})
		case "grooming":
			lines = append(lines, []string{"grooming", "score"})
		case "rules":
			lines = append(lines, []string{"rules", "check"})
		case "phm":
			for _, sub := range append([]string{"keygen", "account", "voucher", "open", "eval"}, phmTableSubcommands...) {
				lines = append(lines, []string{"phm", sub})
			}
		case "report":
			lines = append(lines, []string{"report", "render"}, []string{"report", "submit"})
		case "centre":
			lines = append(lines, []string{"centre", "provider", "add"}, []string{"centre", "provider", "list"},
				[]string{"centre", "provider", "revoke"}, []string{"centre", "provider", "reinstate"}, []string{"centre", "status"})
		default:
			lines = append(lines, []string{cmd})
		}
	}
	checked := 0
	for _, line := range lines {
		var fs *flagSet
		m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Logger: slog.New(slog.DiscardHandler),
			onParse: func(f *flagSet) { fs = f }}
		if err := m.Run(context.Background(), append(line, "--help")); err != nil || fs == nil {
			t.Fatalf("vigil %s --help: %v", strings.Join(line, " "), err)
		}
		fs.VisitAll(func(fl *flag.Flag) {
			if _, ok := numericValue(fl.Value); !ok {
				return
			}
			r, ok := fs.limits[fl.Name]
			if !ok {
				r = atLeast(0)
			}
			var bad []float64
			if r.positive {
				bad = append(bad, 0)
			} else {
				bad = append(bad, r.min-1)
			}
			if !math.IsInf(r.max, 1) {
				bad = append(bad, r.max+1)
			}
			for _, v := range bad {
				arg := "--" + fl.Name + "=" + formatLike(fl.Value, v)
				res := runExec(t, "", append(append([]string{}, line...), arg)...)
				if res.code != 2 || !strings.Contains(res.stderr, "-"+fl.Name+": must be") {
					t.Errorf("vigil %s %s: exit %d, stderr %.200q; want a usage error", strings.Join(line, " "), arg, res.code, res.stderr)
				}
				checked++
			}
		})
	}
	t.Logf("%d out-of-range values refused", checked)
	if checked < 30 {
		t.Fatalf("checked only %d values: the walk over the commands missed some", checked)
	}
}

// formatLike writes v as a value of the flag's type.
func formatLike(value flag.Value, v float64) string {
	switch value.(flag.Getter).Get().(type) {
	case time.Duration:
		return time.Duration(v).String()
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatInt(int64(v), 10)
}

// TestErrorsPrintedOnce checks that an error from the store reads
// "vigil: MESSAGE", without the code and prefix of its Error method.
func TestErrorsPrintedOnce(t *testing.T) {
	data := newDataDir(t)
	r := runExec(t, "", "key", "revoke", "--data", data, "999")
	if r.code != 1 || !strings.HasSuffix(r.stderr, "\nvigil: key 999 not found\n") || strings.Contains(r.stderr, "code=") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = runExec(t, "", "bank", "import", "--data", data, "--signal-type", "pdq", "nosuchbank", "-")
	if r.code != 1 || strings.Count(r.stderr, "vigil") != 2 || strings.Contains(r.stderr, "code=") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestCommandsDoNotCreateAStore checks that only init and serve create a
// data directory, and that commands name the one they opened.
func TestCommandsDoNotCreateAStore(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, args := range [][]string{
		{"key", "create", "--role", "admin"},
		{"key", "list"},
		{"audit", "verify"},
		{"bank", "list"},
		{"bank", "create", "x"},
		{"match", filepath.Join("..", "nothing.png")},
		{"scan", "."},
	} {
		r := runExec(t, "", args...)
		if r.code != 1 || !strings.Contains(r.stderr, "no Vigil data directory at ") || !strings.Contains(r.stderr, "vigil init") || r.stdout != "" {
			t.Errorf("vigil %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		if _, err := os.Stat(defaultDataDir); err == nil {
			t.Fatalf("vigil %s created %s", strings.Join(args, " "), defaultDataDir)
		}
	}
	r := runExec(t, "", "init")
	abs, _ := filepath.Abs(defaultDataDir)
	if r.code != 0 || !strings.Contains(r.stderr, "data directory "+abs) {
		t.Fatalf("init: %+v", r)
	}
	r = runExec(t, "", "key", "create", "--role", "admin")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "vgl_") || r.stderr != "vigil: data directory "+abs+"\n" {
		t.Fatalf("key create after init: %+v", r)
	}
	r = runExec(t, "", "audit", "verify")
	if r.code != 0 || r.stdout != "ok: 1 records, chain intact\n" {
		t.Fatalf("audit verify: %+v", r)
	}
	if r := runExec(t, "", "init"); r.code != 0 || !strings.Contains(r.stderr, "already held a store") {
		t.Fatalf("init again: %+v", r)
	}
}

// TestHashVPDQOfImageFails: --format vpdq of an image prints nothing on
// stdout, says so and exits 1.
func TestHashVPDQOfImageFails(t *testing.T) {
	r := runExec(t, "", "hash", "--format", "vpdq", filepath.Join(testImages, "synthetic/synth-smooth-rgb-129x300.png"))
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "not a video") {
		t.Fatalf("%+v", r)
	}
}
