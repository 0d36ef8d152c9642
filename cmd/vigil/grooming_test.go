package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestGroomingScoreCommand(t *testing.T) {
	in := `{"id":"c1","messages":[{"from":"a","text":"how old r u? what grade"},{"from":"b","text":"13"},{"from":"a","text":"dont tell your parents we talk, this stays between us"},{"from":"a","text":"add me on snap, this app watches everything"},{"from":"a","text":"meet me at the park after school, just you, tell your mom youre at a friends"}]}
{"id":"c2","messages":[{"from":"mom","text":"dont tell dad about the surprise party on friday 🤫"},{"from":"kid","text":"ok i wont!!"}]}
`
	out, _, err := runMain(t, in, "grooming", "score", "-")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", out)
	}
	var r1, r2 struct {
		ID         string
		Score      float64
		Level      string
		Suspect    string
		Indicators []struct {
			Family   string
			Messages []int
		}
	}
	json.Unmarshal([]byte(lines[0]), &r1)
	json.Unmarshal([]byte(lines[1]), &r2)
	if r1.ID != "c1" || r1.Suspect != "a" || r1.Score <= r2.Score || len(r1.Indicators) < 3 {
		t.Errorf("grooming pattern: %+v", r1)
	}
	if r2.ID != "c2" || r2.Level == "high" {
		t.Errorf("surprise party: %+v", r2)
	}
}

func TestEvalGroomingCommand(t *testing.T) {
	out, _, err := runMain(t, "", "eval", "grooming", "../../grooming/testdata/heldout.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"AUC", "1%", "5%", "suspect", "keyword"} {
		if !strings.Contains(strings.ToLower(out), strings.ToLower(want)) {
			t.Errorf("eval report lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := runMain(t, "not json\n", "eval", "grooming", "-"); err == nil {
		t.Error("malformed input accepted")
	}
}
