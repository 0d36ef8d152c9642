package main

import (
	"strings"
	"testing"
)

// TestBenchLookup runs a small load through `vigil bench lookup`, with and
// without the default rules, and checks what it reports.
func TestBenchLookup(t *testing.T) {
	for _, rules := range []string{"none", "default"} {
		r := runExec(t, "", "bench", "lookup", "--bank", "500", "--clients", "3", "--requests", "300", "--warmup", "20", "--rules", rules)
		if r.code != 0 {
			t.Fatalf("--rules %s: exit %d, stderr %q", rules, r.code, r.stderr)
		}
		for _, want := range []string{"bank: 500 entries", "requests  300 (", " 0 failed)", "req/s", "p99", "per request"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("--rules %s: output lacks %q:\n%s", rules, want, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "(0 matched") {
			t.Errorf("--rules %s: nothing matched:\n%s", rules, r.stdout)
		}
	}
	if r := runExec(t, "", "bench", "lookup", "--rules", "some"); r.code != 2 {
		t.Errorf("--rules some: exit %d, want 2", r.code)
	}
}
