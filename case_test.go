package vigil_test

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

func TestFalsePositiveTrigger(t *testing.T) {
	p := vigil.QuarantinePolicy{MinFalsePositives: 3, MaxPrecision: 0.5}
	tests := []struct {
		name          string
		policy        vigil.QuarantinePolicy
		confirmed, fp int
		sinceRelease  int
		want          bool
	}{
		{"below minimum", p, 0, 2, 2, false},
		{"at minimum, never confirmed", p, 0, 3, 3, true},
		{"precision at the maximum", p, 3, 3, 3, true},
		{"precision above the maximum", p, 4, 3, 3, false},
		{"released since: too few new", p, 0, 5, 2, false},
		{"released since: enough new", p, 0, 6, 3, true},
		{"zero policy", vigil.QuarantinePolicy{}, 0, 100, 100, false},
		{"max precision 0: one confirmation saves it", vigil.QuarantinePolicy{MinFalsePositives: 2}, 1, 5, 5, false},
		{"max precision 0: none confirmed", vigil.QuarantinePolicy{MinFalsePositives: 2}, 0, 2, 2, true},
	}
	for _, tt := range tests {
		s := &vigil.EntryStats{Confirmed: tt.confirmed, FalsePositives: tt.fp}
		reason, got := tt.policy.FalsePositiveTrigger(s, tt.sinceRelease)
		if got != tt.want {
			t.Errorf("%s: trigger %v, want %v", tt.name, got, tt.want)
		}
		if got && !strings.Contains(reason, "false positives") {
			t.Errorf("%s: reason %q does not say why", tt.name, reason)
		}
	}
}

func TestSpikeTrigger(t *testing.T) {
	day := 24 * time.Hour
	p := vigil.QuarantinePolicy{SpikeFactor: 5, SpikeMin: 10, Window: day}
	spare := p
	spare.SpareConfirmed, spare.MaxPrecision = 3, 0.5
	confirmed := &vigil.EntryStats{Confirmed: 3, FalsePositives: 1} // precision 0.75
	tests := []struct {
		name          string
		policy        vigil.QuarantinePolicy
		recent, older int
		span          time.Duration
		stats         *vigil.EntryStats
		want          bool
	}{
		{"new entry under the minimum", p, 9, 0, 0, nil, false},
		{"new entry at the minimum", p, 10, 0, 0, nil, true},
		{"steady rate", p, 10, 100, 10 * day, nil, false}, // usual 10 a day
		{"five times usual is not more", p, 50, 100, 10 * day, nil, false},
		{"above five times usual", p, 51, 100, 10 * day, nil, true},
		{"short history counts as one window", p, 20, 5, time.Hour, nil, false}, // usual 5
		{"short history, spike", p, 26, 5, time.Hour, nil, true},
		{"spike off", vigil.QuarantinePolicy{SpikeMin: 1, Window: day}, 1000, 0, 0, nil, false},
		{"no minimum means one", vigil.QuarantinePolicy{SpikeFactor: 2, Window: day}, 1, 0, 0, nil, true},
		{"confirmed entry spared", spare, 51, 100, 10 * day, confirmed, false},
		{"too few confirmations", spare, 51, 100, 10 * day, &vigil.EntryStats{Confirmed: 2}, true},
		{"confirmed but imprecise", spare, 51, 100, 10 * day, &vigil.EntryStats{Confirmed: 3, FalsePositives: 3}, true},
		{"sparing off", p, 51, 100, 10 * day, confirmed, true},
	}
	for _, tt := range tests {
		reason, got := tt.policy.SpikeTrigger(tt.recent, tt.older, tt.span, tt.stats)
		if got != tt.want {
			t.Errorf("%s: trigger %v, want %v", tt.name, got, tt.want)
		}
		if got && !strings.Contains(reason, "distinct items in") {
			t.Errorf("%s: reason %q does not say why", tt.name, reason)
		}
	}
}

func TestQuarantinePolicyValidate(t *testing.T) {
	valid := []vigil.QuarantinePolicy{
		{},
		{MinFalsePositives: 3, MaxPrecision: 0.5, SpikeFactor: 10, SpikeMin: 20, Window: time.Hour},
	}
	for _, p := range valid {
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", p, err)
		}
	}
	invalid := []vigil.QuarantinePolicy{
		{MinFalsePositives: -1},
		{MaxPrecision: 1.5},
		{SpikeFactor: -1},
		{SpikeFactor: 2},
		{SpikeMin: -1},
	}
	for _, p := range invalid {
		if code := vigil.ErrorCode(p.Validate()); code != vigil.EINVALID {
			t.Errorf("%+v: code %q, want invalid", p, code)
		}
	}
}

func TestCaseValidate(t *testing.T) {
	match := []vigil.Match{{BankID: 1, EntryID: 1}}
	conv := &vigil.CaseConversation{ConversationID: "c1", Messages: []vigil.CaseMessage{{Speaker: "a", Text: "hi"}}}
	tests := []struct {
		name string
		c    vigil.Case
		code string
	}{
		{"match case", vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, Matches: match}, ""},
		{"conversation case", vigil.Case{Queue: "q", Kind: vigil.CaseKindConversation, Conversation: conv}, ""},
		{"no queue", vigil.Case{Kind: vigil.CaseKindMatch, Matches: match}, vigil.EINVALID},
		{"unknown kind", vigil.Case{Queue: "q", Kind: "image", Matches: match}, vigil.EINVALID},
		{"match case without matches", vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch}, vigil.EINVALID},
		{"conversation case without conversation", vigil.Case{Queue: "q", Kind: vigil.CaseKindConversation}, vigil.EINVALID},
		{"priority too high", vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, Matches: match, Priority: 101}, vigil.EINVALID},
		{"too many matches", vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, Matches: make([]vigil.Match, vigil.MaxCaseMatches+1)}, vigil.ETOOLARGE},
		{"control character", vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, Matches: match, Content: vigil.ContentRef{UserID: "a\nb"}}, vigil.EINVALID},
		{"long message", vigil.Case{Queue: "q", Kind: vigil.CaseKindConversation, Conversation: &vigil.CaseConversation{
			Messages: []vigil.CaseMessage{{Text: strings.Repeat("x", vigil.MaxCaseTextLen+1)}}}}, vigil.ETOOLARGE},
	}
	for _, tt := range tests {
		if code := vigil.ErrorCode(tt.c.Validate()); code != tt.code {
			t.Errorf("%s: code %q, want %q", tt.name, code, tt.code)
		}
	}
}

func TestDecisionValidate(t *testing.T) {
	tests := []struct {
		d    vigil.Decision
		code string
	}{
		{vigil.Decision{Verdict: vigil.VerdictConfirmed, Category: "A1", DecidedBy: "r"}, ""},
		{vigil.Decision{Verdict: "maybe", DecidedBy: "r"}, vigil.EINVALID},
		{vigil.Decision{Verdict: vigil.VerdictEscalate}, vigil.EINVALID},
		{vigil.Decision{Verdict: vigil.VerdictFalsePositive, DecidedBy: "r", Notes: strings.Repeat("n", vigil.MaxCaseNoteLen+1)}, vigil.EINVALID},
	}
	for _, tt := range tests {
		if code := vigil.ErrorCode(tt.d.Validate()); code != tt.code {
			t.Errorf("%+v: code %q, want %q", tt.d, code, tt.code)
		}
	}
}

func TestQueueAllows(t *testing.T) {
	q := &vigil.Queue{Name: "q", Roles: []vigil.Role{vigil.RoleReviewer}}
	if err := q.Validate(); err != nil {
		t.Fatal(err)
	}
	if !q.Allows(vigil.RoleReviewer) || !q.Allows(vigil.RoleAdmin) || q.Allows(vigil.RoleMatcher) {
		t.Error("queue roles not applied")
	}
	if code := vigil.ErrorCode((&vigil.Queue{Name: "q", Roles: []vigil.Role{"boss"}}).Validate()); code != vigil.EINVALID {
		t.Errorf("unknown role: code %q", code)
	}
}

func TestQueueValidateName(t *testing.T) {
	for _, tt := range []struct {
		name string
		code string
	}{
		{"reviews", ""},
		{"", vigil.EINVALID},
		{"Upper", vigil.EINVALID},
		{"a/b", vigil.EINVALID},
		{strings.Repeat("q", vigil.MaxBankNameLen), ""},
		{strings.Repeat("q", vigil.MaxBankNameLen+1), vigil.EINVALID},
	} {
		if code := vigil.ErrorCode((&vigil.Queue{Name: tt.name}).Validate()); code != tt.code {
			t.Errorf("queue name %q: code %q, want %q", tt.name, code, tt.code)
		}
	}
}

func TestPrecision(t *testing.T) {
	for _, tt := range []struct {
		confirmed, fp int
		want          float64
	}{
		{0, 0, -1},
		{3, 1, 0.75},
		{0, 2, 0},
		{5, 0, 1},
	} {
		e := &vigil.EntryStats{Confirmed: tt.confirmed, FalsePositives: tt.fp}
		b := &vigil.BankStats{Confirmed: tt.confirmed, FalsePositives: tt.fp}
		if e.Precision() != tt.want || b.Precision() != tt.want {
			t.Errorf("%d confirmed, %d false positives: precision %v (entry), %v (bank), want %v",
				tt.confirmed, tt.fp, e.Precision(), b.Precision(), tt.want)
		}
	}
}
