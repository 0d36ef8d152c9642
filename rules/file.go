package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-oss/vigil"
)

// Limits on a rules file. Rules are written by people; a file near these
// sizes is a mistake or an attack.
const (
	MaxFileBytes = 1 << 20
	MaxFileRules = 1000
)

// file is the YAML form of a rules file:
//
//	rules:
//	  - name: known-material
//	    when: {kind: match, banks: [ncmec]}
//	    action: {type: case, queue: default, priority: 80}
type file struct {
	Rules []fileRule `yaml:"rules"`
}

type fileRule struct {
	Name          string         `yaml:"name"`
	Description   string         `yaml:"description"`
	Enabled       *bool          `yaml:"enabled"` // default true: a rule written down is meant to run
	When          fileConditions `yaml:"when"`
	Action        fileAction     `yaml:"action"`
	Corroboration int            `yaml:"corroboration"`
}

type fileConditions struct {
	Kind        string             `yaml:"kind"`
	Banks       []string           `yaml:"banks"`
	Categories  []string           `yaml:"categories"`
	SignalTypes []vigil.SignalType `yaml:"signal_types"`
	MaxDistance *int               `yaml:"max_distance"`
	Flagged     bool               `yaml:"flagged"`
	MinScore    float64            `yaml:"min_score"`
	MinLevel    string             `yaml:"min_level"`
	Disclosure  bool               `yaml:"disclosure"`
	Classifier  string             `yaml:"classifier"`
	Label       string             `yaml:"label"`
}

type fileAction struct {
	Type     string `yaml:"type"`
	Queue    string `yaml:"queue"`
	Priority int    `yaml:"priority"`
	Webhook  string `yaml:"webhook"`
	Auto     string `yaml:"auto"`
}

// rule converts f; fileConditions and fileAction mirror vigil's types
// field for field, with YAML names, so they convert directly.
func (f *fileRule) rule() *vigil.Rule {
	return &vigil.Rule{
		Name:          f.Name,
		Description:   f.Description,
		Enabled:       f.Enabled == nil || *f.Enabled,
		Source:        vigil.RuleSourceFile,
		When:          vigil.RuleConditions(f.When),
		Action:        vigil.RuleAction(f.Action),
		Corroboration: f.Corroboration,
	}
}

// ReadFile reads and checks a rules file.
func ReadFile(path string) ([]*vigil.Rule, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	defer f.Close()
	rules, err := Parse(f)
	if err != nil {
		if code := vigil.ErrorCode(err); code != vigil.EINTERNAL {
			return nil, vigil.Errorf(code, "rules file %s: %s", path, vigil.ErrorMessage(err))
		}
		return nil, fmt.Errorf("read rules file %s: %w", path, err)
	}
	return rules, nil
}

// Parse reads a rules file of at most MaxFileBytes: YAML with a top-level
// "rules" list. It is strict: unknown fields, a second document, duplicate
// names and invalid rules are errors, EINVALID, naming the rule and its
// line.
func Parse(r io.Reader) ([]*vigil.Rule, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "rules file is larger than %d bytes", MaxFileBytes)
	}

	// Decode twice: into the structs, strictly, for the values; and into
	// nodes, for the line of each rule to name in validation errors.
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, vigil.Errorf(vigil.EINVALID, "rules file is empty")
		}
		return nil, vigil.Errorf(vigil.EINVALID, "%s", yamlError(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, vigil.Errorf(vigil.EINVALID, "rules file holds more than one YAML document")
	}
	if len(f.Rules) > MaxFileRules {
		return nil, vigil.Errorf(vigil.EINVALID, "rules file holds %d rules, at most %d", len(f.Rules), MaxFileRules)
	}
	lines := ruleLines(data)

	out := make([]*vigil.Rule, 0, len(f.Rules))
	seen := map[string]int{}
	for i := range f.Rules {
		line := 0
		if i < len(lines) {
			line = lines[i]
		}
		r := f.Rules[i].rule()
		if err := r.Validate(); err != nil {
			return nil, vigil.Errorf(vigil.EINVALID, "line %d: %s", line, vigil.ErrorMessage(err))
		}
		if first, ok := seen[r.Name]; ok {
			return nil, vigil.Errorf(vigil.EINVALID, "line %d: rule %q: name already used on line %d", line, r.Name, first)
		}
		seen[r.Name] = line
		out = append(out, r)
	}
	return out, nil
}

// yamlError shortens the YAML library's messages ("yaml: unmarshal
// errors:\n  line 3: …") to their lines, which is what a person needs.
func yamlError(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0]
		if n := len(te.Errors) - 1; n > 0 {
			msg += fmt.Sprintf(" (and %d more)", n)
		}
		return msg
	}
	return err.Error()
}

// ruleLines returns the line of each item of the top-level rules list.
func ruleLines(data []byte) []int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "rules" || root.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		var lines []int
		for _, item := range root.Content[i+1].Content {
			lines = append(lines, item.Line)
		}
		return lines
	}
	return nil
}
