package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRulesCheckCommand(t *testing.T) {
	out, _, err := runMain(t, "", "rules", "check", filepath.Join("..", "..", "docs", "rules.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"corroborated-block", "auto block queue=default priority=95 webhook=trust-safety", "corroboration=2",
		"high-risk-conversation  no", "banks=ncmec signal_types=pdq,vpdq max_distance=16", "ok: 8 rules",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("rules:\n  - name: loose\n    when: {kind: match}\n    action: {type: auto, auto: block}\n"), 0o600)
	if _, _, err := runMain(t, "", "rules", "check", bad); err == nil || !strings.Contains(err.Error(), `line 2: rule "loose"`) {
		t.Errorf("bad file: %v", err)
	}
	if _, _, err := runMain(t, "", "rules"); err == nil {
		t.Error("no subcommand accepted")
	}
}
