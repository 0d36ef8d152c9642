package respond

import (
	"testing"

	"github.com/vigil-oss/vigil"
)

// TestRuleEventID checks that a rule event's id repeats for the same rule,
// webhook and item, and only then.
func TestRuleEventID(t *testing.T) {
	base := ruleEvent{Rule: "block", Content: vigil.ContentRef{SHA256: "ab", ContentID: "post-1", UserID: "u-1"}}
	id := base.id("platform")
	if len(id) != len("evt_")+32 {
		t.Fatalf("id %q", id)
	}
	same := base
	same.CaseID, same.Matches = 7, []vigil.Match{{EntryID: 1}}
	if got := same.id("platform"); got != id {
		t.Errorf("same rule, webhook and item: id %q, want %q", got, id)
	}
	for name, ev := range map[string]ruleEvent{
		"rule":       {Rule: "other", Content: base.Content},
		"content":    {Rule: "block", Content: vigil.ContentRef{SHA256: "cd", ContentID: "post-1", UserID: "u-1"}},
		"content id": {Rule: "block", Content: vigil.ContentRef{SHA256: "ab", ContentID: "post-2", UserID: "u-1"}},
		"user":       {Rule: "block", Content: vigil.ContentRef{SHA256: "ab", ContentID: "post-1", UserID: "u-2"}},
		"convo":      {Rule: "block", Risk: &conversationEventRisk{ConversationID: "c-1"}},
	} {
		if got := ev.id("platform"); got == id || got == "" {
			t.Errorf("different %s: id %q", name, got)
		}
	}
	if got := base.id("legal"); got == id {
		t.Error("different webhook: same id")
	}
	if got := (&ruleEvent{Rule: "block"}).id("platform"); got != "" {
		t.Errorf("no known item: id %q, want none (the notifier picks one)", got)
	}
}
