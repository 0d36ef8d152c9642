package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	p := newProgress(&out, 10, clock)
	for range 5 {
		now = now.Add(time.Second)
		p.add(1)
	}
	if got := out.String(); !strings.Contains(got, "5/10 1.0/s ETA 5s") || !strings.Contains(got, "[===============               ]") {
		t.Fatalf("half way: %q", got)
	}
	for range 5 {
		p.add(1)
	}
	p.done()
	if got := out.String(); !strings.Contains(got, "10/10") || !strings.HasSuffix(got, "\n") {
		t.Fatalf("done: %q", got)
	}
	var nilBar *progress
	nilBar.add(1) // a nil bar (not a terminal) does nothing
	nilBar.done()
	if isTerminal(&out) {
		t.Fatal("a buffer is not a terminal")
	}
}
