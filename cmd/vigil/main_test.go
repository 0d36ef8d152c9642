package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// runMain runs the CLI with args and stdin, returning stdout, stderr and
// the error.
func runMain(tb testing.TB, stdin string, args ...string) (string, string, error) {
	tb.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err := m.Run(context.Background(), args)
	return out.String(), errOut.String(), err
}

// newDataDir returns a new data directory made by `vigil init`.
func newDataDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if _, errOut, err := runMain(tb, "", "init", "--data", dir); err != nil {
		tb.Fatalf("init: %v %s", err, errOut)
	}
	return dir
}

func TestVersionAndHelp(t *testing.T) {
	out, _, err := runMain(t, "", "version")
	if err != nil || !strings.HasPrefix(out, "vigil ") {
		t.Fatalf("version: %q %v", out, err)
	}
	if out, _, err := runMain(t, "", "help"); err != nil || !strings.Contains(out, "hash") {
		t.Fatalf("help: %q %v", out, err)
	}
	if _, _, err := runMain(t, "", "nonsense"); err == nil {
		t.Fatal("unknown command accepted")
	}
}
