package rules_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/rules"
)

const goodFile = `# review everything; block what two sources agree on
rules:
  - name: any-match
    when: {kind: match}
    action: {type: case, queue: default, priority: 50}
  - name: corroborated
    description: Two independent lists agree.
    when:
      kind: match
      banks: [ncmec, iwf]
      signal_types: [pdq, md5]
      max_distance: 16
    corroboration: 2
    action:
      type: auto
      auto: block
      webhook: trust-safety
      queue: after
  - name: flagged
    enabled: false
    when: {kind: conversation, flagged: true, min_level: medium}
    action: {type: webhook, webhook: trust-safety}
`

func TestParse(t *testing.T) {
	rs, err := rules.Parse(strings.NewReader(goodFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d rules", len(rs))
	}
	c := rs[1]
	if c.Name != "corroborated" || !c.Enabled || c.Source != vigil.RuleSourceFile || c.Corroboration != 2 ||
		len(c.When.Banks) != 2 || *c.When.MaxDistance != 16 || c.Action.Auto != "block" || c.Action.Webhook != "trust-safety" || c.Action.Queue != "after" {
		t.Errorf("corroborated: %+v", c)
	}
	if rs[2].Enabled || !rs[0].Enabled {
		t.Errorf("enabled: %v %v", rs[0].Enabled, rs[2].Enabled)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // substrings of the message
	}{
		{"empty", "", []string{"empty"}},
		{"unknown top-level field", "rule: []\n", []string{"line 1", "rule"}},
		{"unknown rule field", "rules:\n  - name: x\n    queue: default\n", []string{"line 3", "queue"}},
		{"unknown condition", "rules:\n  - name: x\n    when: {kind: match, bank: [a]}\n    action: {type: none}\n", []string{"line 3", "bank"}},
		{"wrong type", "rules:\n  - name: x\n    corroboration: two\n", []string{"line 3"}},
		{"invalid rule names rule and line", "rules:\n  - name: ok\n    when: {kind: match}\n    action: {type: none}\n  - name: loose\n    when: {kind: match}\n    action: {type: auto, auto: block}\n",
			[]string{"line 5", `rule "loose"`, "corroboration of at least 2"}},
		{"auto without a queue", "rules:\n  - name: block\n    when: {kind: match}\n    corroboration: 2\n    action: {type: auto, auto: block, webhook: trust-safety}\n",
			[]string{"line 2", `rule "block"`, "an auto action must open a case", "queue"}},
		{"duplicate name", "rules:\n  - name: a\n    when: {kind: match}\n    action: {type: none}\n  - name: a\n    when: {kind: match}\n    action: {type: none}\n",
			[]string{"line 5", "already used on line 2"}},
		{"two documents", "rules: []\n---\nrules: []\n", []string{"more than one"}},
		{"not a mapping", "- a\n- b\n", []string{"line 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rules.Parse(strings.NewReader(tt.yaml))
			if vigil.ErrorCode(err) != vigil.EINVALID {
				t.Fatalf("error %v, want EINVALID", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(vigil.ErrorMessage(err), w) {
					t.Errorf("error %q lacks %q", vigil.ErrorMessage(err), w)
				}
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	big := "rules: []\n" + strings.Repeat("#", rules.MaxFileBytes)
	if _, err := rules.Parse(strings.NewReader(big)); vigil.ErrorCode(err) != vigil.ETOOLARGE {
		t.Errorf("oversized file: %v", err)
	}
	var b strings.Builder
	b.WriteString("rules:\n")
	for range rules.MaxFileRules + 1 {
		b.WriteString("  - {}\n")
	}
	if _, err := rules.Parse(strings.NewReader(b.String())); vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(err.Error(), "at most") {
		t.Errorf("too many rules: %v", err)
	}
}

func TestReadFileExample(t *testing.T) {
	// The example shipped with the docs must load.
	rs, err := rules.ReadFile(filepath.Join("..", "docs", "rules.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 {
		t.Fatal("example holds no rules")
	}
	if _, err := rules.ReadFile(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(goodFile))
	f.Add([]byte("rules: [{name: a, when: {kind: match}, action: {type: none}}]"))
	f.Add([]byte("rules: &a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := rules.Parse(strings.NewReader(string(data)))
		if err != nil {
			if c := vigil.ErrorCode(err); c != vigil.EINVALID && c != vigil.ETOOLARGE {
				t.Fatalf("error code %q: %v", c, err)
			}
			return
		}
		// Whatever parses is valid and runs.
		for _, r := range rs {
			if err := r.Validate(); err != nil {
				t.Fatalf("parsed an invalid rule: %v", err)
			}
		}
		rules.New(rs).Match([]vigil.MatchResult{{Matches: []vigil.Match{{EntryID: 1, Bank: "a", Source: "s"}}}})
	})
}
