package main

import (
	"strings"
	"testing"
)

func TestTransparencyCommand(t *testing.T) {
	data := newDataDir(t)
	out, _, err := runMain(t, "", "transparency", "--data", data, "--from", "2026-01-01", "--to", "2026-03-31", "--format", "csv")
	if err != nil {
		t.Fatal(err)
	}
	// An empty store has figures too: zeros, and no rate where nothing
	// was decided. --to is the end of its day.
	for _, want := range []string{"section,name,measure,value\n", "period,to,,2026-04-01T00:00:00Z\n", "incidents,,n,0\n", "grooming,grooming,confirmed_rate,\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("csv lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runMain(t, "", "transparency", "--data", data, "--from", "2026-01-01", "--to", "2026-03-31", "--format", "html")
	if err != nil || !strings.HasPrefix(out, "<!doctype html>") || !strings.Contains(out, "<svg") {
		t.Fatalf("html: %v\n%.300s", err, out)
	}
	for _, args := range [][]string{
		{"--from", "2026-03-01", "--to", "2026-01-01"},
		{"--from", "yesterday", "--to", "2026-01-01"},
		{"--from", "2026-01-01", "--to", "2026-02-01", "--format", "pdf"},
	} {
		if _, _, err := runMain(t, "", append([]string{"transparency", "--data", data}, args...)...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
