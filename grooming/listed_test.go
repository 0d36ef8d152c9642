package grooming

import (
	"encoding/json"
	"testing"
)

// TestListedEvidence checks that a curated list match raises its family
// with the list's span, and that streaming still equals scoring whole.
func TestListedEvidence(t *testing.T) {
	d := NewDetector(Options{})
	msgs := []Message{
		{From: "x", Text: "how old are you"},
		{From: "y", Text: "12"},
		{From: "x", Text: "dont tell your mom we talk ok"},
		{From: "x", Text: "get zorblechat, its better"}, // a made-up app name the lexicon cannot know
	}
	plain := d.Score(Conversation{Messages: msgs})
	listed := append([]Message(nil), msgs...)
	listed[3].Listed = []Listed{{Family: PlatformMove, Score: 0.6, Span: Span{4, 14}}}
	got := d.Score(Conversation{Messages: listed})
	if got.Score <= plain.Score {
		t.Fatalf("listed platform move did not raise the score: %v → %v", plain.Score, got.Score)
	}
	found := false
	for _, ind := range got.Indicators {
		if ind.Family == PlatformMove {
			for _, ev := range ind.Evidence {
				for _, sp := range ev.Spans {
					found = found || (ev.Message == 3 && sp == Span{4, 14})
				}
			}
		}
	}
	if !found {
		t.Fatalf("listed span not in the explanation: %+v", got.Indicators)
	}
	// Streaming through JSON state gives the same result.
	st := NewState(nil)
	var r Risk
	for _, m := range listed {
		b, _ := json.Marshal(st)
		st = new(State)
		json.Unmarshal(b, st)
		r = d.Append(st, m)
	}
	a, _ := json.Marshal(r)
	b, _ := json.Marshal(got)
	if string(a) != string(b) {
		t.Fatalf("streamed %s\nwhole %s", a, b)
	}
	// Out-of-range spans and non-indicator families are ignored.
	bad := append([]Message(nil), msgs...)
	bad[3].Listed = []Listed{{Family: PlatformMove, Score: 1, Span: Span{0, 999}}, {Family: CueCaregiver, Score: 1, Span: Span{0, 3}}}
	if r := d.Score(Conversation{Messages: bad}); r.Score != plain.Score {
		t.Fatalf("invalid listed evidence changed the score: %v → %v", plain.Score, r.Score)
	}
}
