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
	var full struct {
		Scorer        string
		Contributions []struct {
			Feature  string
			Messages []int
		}
	}
	json.Unmarshal([]byte(lines[0]), &full)
	if full.Scorer != "learned" || len(full.Contributions) == 0 {
		t.Errorf("learned score without contributions: %s", lines[0])
	}
	hand, _, err := runMain(t, in, "grooming", "score", "--scorer", "hand", "-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(hand, `"scorer":"hand"`) || strings.Contains(hand, `"contributions"`) {
		t.Errorf("hand scorer output: %s", hand)
	}
	if _, _, err := runMain(t, in, "grooming", "score", "--scorer", "magic", "-"); err == nil {
		t.Error("unknown scorer accepted")
	}
}

func TestEvalGroomingScorersAndCV(t *testing.T) {
	for _, sc := range []string{"hand", "learned"} {
		out, _, err := runMain(t, "", "eval", "grooming", "--scorer", sc, "../../grooming/testdata/dev_hand.jsonl")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"scorer " + sc, "recall @ FPR<=0.1%", "precision @0.1% prev", "reliability"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s report lacks %q:\n%s", sc, want, out)
			}
		}
	}
	model := t.TempDir() + "/model.json"
	files := []string{"../../grooming/testdata/dev_hand.jsonl", "../../grooming/testdata/dev_sextortion.jsonl", "../../grooming/testdata/dev_lang.jsonl"}
	out, _, err := runMain(t, "", append([]string{"eval", "grooming", "--train", "--out", model}, files...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"trained on 3 batches", "leave-one-batch-out", "Platt", "largest weights"} {
		if !strings.Contains(out, want) {
			t.Errorf("train report lacks %q:\n%s", want, out)
		}
	}
	out, _, err = runMain(t, "", append([]string{"eval", "grooming", "--cv", "--baseline=false", "--workers", "2"}, files...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"leave-one-batch-out over", "held-out batch", "dev_sextortion.jsonl", "cross-validated", "hand scorer, same records", "reliability"} {
		if !strings.Contains(out, want) {
			t.Errorf("cv report lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := runMain(t, "", append([]string{"eval", "grooming", "--cv"}, files[:2]...)...); err == nil {
		t.Error("--cv over two batches accepted: holding one out leaves nothing to tune on")
	}
	if _, _, err := runMain(t, "", "eval", "grooming", "--model", model, "../../grooming/testdata/dev_hand.jsonl"); err != nil {
		t.Errorf("trained model does not load: %v", err)
	}
	if _, _, err := runMain(t, "", "eval", "grooming", "--train", "../../grooming/testdata/dev_hand.jsonl"); err == nil {
		t.Error("--train without --out accepted")
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
