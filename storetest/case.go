package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestCaseService tests a vigil.CaseService: queues, cases and their
// history, decisions and what they say about entries, quarantine and
// retention.
func TestCaseService(t *testing.T, open Opener) {
	ctx := context.Background()

	t.Run("Queues", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		q := &vigil.Queue{Name: "urgent", Description: "known material", Roles: []vigil.Role{vigil.RoleReviewer}}
		must(t, s.Cases.CreateQueue(ctx, q))
		if q.ID == 0 || !q.CreatedAt.Equal(clock.Now()) {
			t.Errorf("queue not filled in: %+v", q)
		}
		wantCode(t, s.Cases.CreateQueue(ctx, &vigil.Queue{Name: "urgent"}), vigil.ECONFLICT)
		wantCode(t, s.Cases.CreateQueue(ctx, &vigil.Queue{Name: "Bad Name"}), vigil.EINVALID)
		wantCode(t, s.Cases.CreateQueue(ctx, &vigil.Queue{Name: "x", Roles: []vigil.Role{"boss"}}), vigil.EINVALID)
		must(t, s.Cases.CreateQueue(ctx, &vigil.Queue{Name: "general"}))

		got, err := s.Cases.FindQueue(ctx, "urgent")
		must(t, err)
		if got.ID != q.ID || got.Description != q.Description || len(got.Roles) != 1 || got.Roles[0] != vigil.RoleReviewer ||
			!got.CreatedAt.Equal(q.CreatedAt) {
			t.Errorf("found queue %+v, want %+v", got, q)
		}
		_, err = s.Cases.FindQueue(ctx, "nope")
		wantCode(t, err, vigil.ENOTFOUND)
		list, err := s.Cases.ListQueues(ctx)
		must(t, err)
		if len(list) != 2 || list[0].Name != "general" || list[1].Name != "urgent" {
			t.Errorf("queues %v, want general and urgent by name", queueNames(list))
		}
	})

	t.Run("OpenAndFind", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 2)
		c := f.matchCase(clock, f.entries[0], f.entries[0]) // two matches of one entry count once
		c.Priority, c.Rule = 70, "known-pdq"
		c.Content = vigil.ContentRef{SHA256: strings.Repeat("ab", 32), MediaType: "image/png", MediaID: "m1", ContentID: "post-9", UserID: "user-4"}
		// A negative bank's entry in the evidence is not counted.
		c.Matches = append(c.Matches, vigil.Match{BankID: f.bank.ID, EntryID: f.entries[1].ID, Negative: true})
		must(t, s.Cases.OpenCase(ctx, c, "rules"))
		if c.ID == 0 || c.State != vigil.CaseOpen || !c.CreatedAt.Equal(clock.Now()) || !c.UpdatedAt.Equal(clock.Now()) {
			t.Errorf("opened case not filled in: %+v", c)
		}
		got, err := s.Cases.FindCase(ctx, c.ID)
		must(t, err)
		if got.Queue != "q" || got.Kind != vigil.CaseKindMatch || got.State != vigil.CaseOpen || got.Priority != 70 ||
			got.Rule != "known-pdq" || got.Content != c.Content || len(got.Matches) != 3 ||
			got.Matches[0].EntryID != f.entries[0].ID || got.Matches[0].Bank != "b" || got.Matches[0].Distance != 4 ||
			got.Conversation != nil || got.Decision != nil || got.AssignedTo != "" ||
			!got.RetainUntil.Equal(c.RetainUntil) || !got.CreatedAt.Equal(c.CreatedAt) {
			t.Errorf("found case\n got %+v\nwant %+v", got, c)
		}
		history, err := s.Cases.CaseHistory(ctx, c.ID)
		must(t, err)
		if len(history) != 1 || history[0].Kind != vigil.CaseEventOpened || history[0].Actor != "rules" ||
			history[0].CaseID != c.ID || !history[0].Time.Equal(clock.Now()) {
			t.Errorf("history after opening: %v", events(history))
		}
		stats, err := s.Cases.EntryStats(ctx, []int64{f.entries[0].ID, f.entries[1].ID})
		must(t, err)
		if len(stats) != 2 || stats[0].Matches != 1 || stats[0].BankID != f.bank.ID || stats[1].Matches != 0 {
			t.Errorf("entry stats after opening: %v", statsValues(stats))
		}

		conv := &vigil.Case{Queue: "q", Kind: vigil.CaseKindConversation, RetainUntil: clock.Now().Add(time.Hour),
			Conversation: &vigil.CaseConversation{ConversationID: "chat-1", Score: 0.8, Suspect: "u2", Messages: []vigil.CaseMessage{
				{Index: 0, Speaker: "u2", Text: "how old are you?", Time: clock.Now(), Indicators: []string{"age_probe"}},
				{Index: 1, Speaker: "u2", Text: "don't tell your parents", Indicators: []string{"secrecy"}},
			}}}
		must(t, s.Cases.OpenCase(ctx, conv, "rules"))
		got, err = s.Cases.FindCase(ctx, conv.ID)
		must(t, err)
		if got.Conversation == nil || got.Conversation.ConversationID != "chat-1" || len(got.Conversation.Messages) != 2 ||
			got.Conversation.Messages[1].Indicators[0] != "secrecy" || !got.Conversation.Messages[0].Time.Equal(clock.Now()) ||
			got.Matches != nil {
			t.Errorf("conversation case: %+v", got)
		}

		wantCode(t, s.Cases.OpenCase(ctx, &vigil.Case{Queue: "nope", Kind: vigil.CaseKindMatch, Matches: c.Matches,
			RetainUntil: clock.Now()}, "rules"), vigil.ENOTFOUND)
		wantCode(t, s.Cases.OpenCase(ctx, &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, Matches: c.Matches}, "rules"), vigil.EINVALID)
		wantCode(t, s.Cases.OpenCase(ctx, f.matchCase(clock, f.entries[0]), ""), vigil.EINVALID)
		wantCode(t, s.Cases.OpenCase(ctx, &vigil.Case{Queue: "q", Kind: "photo", RetainUntil: clock.Now()}, "rules"), vigil.EINVALID)
		_, err = s.Cases.FindCase(ctx, 9999)
		wantCode(t, err, vigil.ENOTFOUND)
		_, err = s.Cases.CaseHistory(ctx, 9999)
		wantCode(t, err, vigil.ENOTFOUND)
	})

	t.Run("List", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		must(t, s.Cases.CreateQueue(ctx, &vigil.Queue{Name: "other"}))
		var ids []int64
		for i := range 5 {
			c := f.matchCase(clock, f.entries[0])
			if i%2 == 1 {
				c.Queue = "other"
			}
			must(t, s.Cases.OpenCase(ctx, c, "rules"))
			ids = append(ids, c.ID)
		}
		_, err := s.Cases.AssignCase(ctx, ids[0], "rita", "lead")
		must(t, err)
		_, err = s.Cases.DecideCase(ctx, ids[2], vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "rita"})
		must(t, err)

		tests := []struct {
			name   string
			filter vigil.CaseFilter
			want   []int64
		}{
			{"all", vigil.CaseFilter{}, ids},
			{"one queue", vigil.CaseFilter{Queues: []string{"other"}}, []int64{ids[1], ids[3]}},
			{"both queues", vigil.CaseFilter{Queues: []string{"q", "other"}}, ids},
			{"unknown queue", vigil.CaseFilter{Queues: []string{"nope"}}, nil},
			{"open", vigil.CaseFilter{States: []vigil.CaseState{vigil.CaseOpen}}, []int64{ids[1], ids[3], ids[4]}},
			{"assigned or decided", vigil.CaseFilter{States: []vigil.CaseState{vigil.CaseAssigned, vigil.CaseDecided}}, []int64{ids[0], ids[2]}},
			{"assigned to", vigil.CaseFilter{AssignedTo: "rita"}, []int64{ids[0]}},
			{"page", vigil.CaseFilter{AfterID: ids[1], Limit: 2}, []int64{ids[2], ids[3]}},
			{"queue and state", vigil.CaseFilter{Queues: []string{"q"}, States: []vigil.CaseState{vigil.CaseOpen}}, []int64{ids[4]}},
		}
		for _, tt := range tests {
			got, err := s.Cases.ListCases(ctx, tt.filter)
			must(t, err)
			var gotIDs []int64
			for _, c := range got {
				gotIDs = append(gotIDs, c.ID)
			}
			if !slices.Equal(gotIDs, tt.want) {
				t.Errorf("%s: got %v, want %v", tt.name, gotIDs, tt.want)
			}
		}
	})

	t.Run("QueueStats", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		must(t, s.Cases.CreateQueue(ctx, &vigil.Queue{Name: "empty"}))
		start := clock.Now()
		var ids []int64
		for range 4 {
			c := f.matchCase(clock, f.entries[0])
			must(t, s.Cases.OpenCase(ctx, c, "rules"))
			ids = append(ids, c.ID)
			clock.Advance(time.Minute)
		}
		_, err := s.Cases.AssignCase(ctx, ids[0], "rita", "lead")
		must(t, err)
		_, err = s.Cases.DecideCase(ctx, ids[1], vigil.Decision{Verdict: vigil.VerdictFalsePositive, DecidedBy: "rita"})
		must(t, err)
		_, err = s.Cases.DecideCase(ctx, ids[2], vigil.Decision{Verdict: vigil.VerdictEscalate, DecidedBy: "rita"})
		must(t, err)
		stats := func() map[string]vigil.QueueStats {
			t.Helper()
			list, err := s.Cases.QueueStats(ctx)
			must(t, err)
			m := map[string]vigil.QueueStats{}
			for _, st := range list {
				m[st.Queue] = *st
			}
			return m
		}
		got := stats()
		if e := got["empty"]; len(got) != 2 || e.Open+e.Assigned+e.Escalated+e.Decided != 0 || e.OldestWaiting != nil {
			t.Errorf("queue stats %+v, want q and an empty queue", got)
		}
		q := got["q"]
		if q.Open != 1 || q.Assigned != 1 || q.Escalated != 1 || q.Decided != 1 || q.OldestWaiting == nil || !q.OldestWaiting.Equal(start) {
			t.Errorf("queue q: %+v, want one case in each state, the oldest waiting opened at %v", q, start)
		}
		// Once the assigned case is decided, the oldest waiting is the last.
		_, err = s.Cases.DecideCase(ctx, ids[0], vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "rita"})
		must(t, err)
		if q := stats()["q"]; q.Assigned != 0 || q.Decided != 2 || q.OldestWaiting == nil || !q.OldestWaiting.Equal(start.Add(3*time.Minute)) {
			t.Errorf("queue q after a decision: %+v", q)
		}
	})

	t.Run("NextCase", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		must(t, s.Cases.CreateQueue(ctx, &vigil.Queue{Name: "other"}))
		open := func(queue string, prio int) int64 {
			c := f.matchCase(clock, f.entries[0])
			c.Queue, c.Priority = queue, prio
			must(t, s.Cases.OpenCase(ctx, c, "rules"))
			return c.ID
		}
		a, b, c := open("q", 50), open("q", 90), open("q", 50)
		d, e, done := open("q", 90), open("q", 70), open("q", 100)
		elsewhere := open("other", 100)
		_, err := s.Cases.AssignCase(ctx, d, "bob", "lead")
		must(t, err)
		_, err = s.Cases.AssignCase(ctx, e, "rita", "lead")
		must(t, err)
		_, err = s.Cases.DecideCase(ctx, done, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "rita"})
		must(t, err)

		// For rita: b (90), e (70, hers), a and c (50, oldest first); not
		// bob's d, not the decided case, not the other queue's.
		for _, tt := range []struct{ after, want int64 }{
			{0, b}, {b, e}, {e, a}, {a, c}, {c, b}, {9999, b}, {d, e}, // after a case not hers: its place in the order
		} {
			got, err := s.Cases.NextCase(ctx, "q", "rita", tt.after)
			must(t, err)
			if got.ID != tt.want {
				t.Errorf("next after %d: case %d, want %d", tt.after, got.ID, tt.want)
			}
		}
		for _, tt := range []struct{ after, want int64 }{{b, d}, {d, a}} { // bob's own d, not rita's e
			if got, err := s.Cases.NextCase(ctx, "q", "bob", tt.after); err != nil || got.ID != tt.want {
				t.Errorf("bob's next after %d: %v %v, want %d", tt.after, got, err, tt.want)
			}
		}
		_, err = s.Cases.NextCase(ctx, "empty", "rita", 0)
		wantCode(t, err, vigil.ENOTFOUND)
		only := open("other", 1)
		_, err = s.Cases.DecideCase(ctx, elsewhere, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "rita"})
		must(t, err)
		_, err = s.Cases.NextCase(ctx, "other", "rita", only)
		wantCode(t, err, vigil.ENOTFOUND)
	})

	t.Run("AssignAndNotes", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		c := f.matchCase(clock, f.entries[0])
		must(t, s.Cases.OpenCase(ctx, c, "rules"))

		clock.Advance(time.Minute)
		got, err := s.Cases.AssignCase(ctx, c.ID, "rita", "lead")
		must(t, err)
		if got.State != vigil.CaseAssigned || got.AssignedTo != "rita" || !got.UpdatedAt.Equal(clock.Now()) {
			t.Errorf("assigned case: %+v", got)
		}
		clock.Advance(time.Minute)
		ev := &vigil.CaseEvent{CaseID: c.ID, Actor: "rita", Kind: vigil.CaseEventNote, Detail: "looks like a known series"}
		must(t, s.Cases.AddCaseEvent(ctx, ev))
		if ev.ID == 0 || !ev.Time.Equal(clock.Now()) {
			t.Errorf("event not filled in: %+v", ev)
		}
		must(t, s.Cases.AddCaseEvent(ctx, &vigil.CaseEvent{CaseID: c.ID, Actor: "rita", Kind: vigil.CaseEventRevealed}))
		// The store records the other kinds itself; a caller cannot fake them.
		wantCode(t, s.Cases.AddCaseEvent(ctx, &vigil.CaseEvent{CaseID: c.ID, Actor: "rita", Kind: vigil.CaseEventDecided}), vigil.EINVALID)
		wantCode(t, s.Cases.AddCaseEvent(ctx, &vigil.CaseEvent{CaseID: c.ID, Actor: "rita", Kind: vigil.CaseEventNote}), vigil.EINVALID)
		wantCode(t, s.Cases.AddCaseEvent(ctx, &vigil.CaseEvent{CaseID: c.ID, Kind: vigil.CaseEventNote, Detail: "x"}), vigil.EINVALID)
		wantCode(t, s.Cases.AddCaseEvent(ctx, &vigil.CaseEvent{CaseID: c.ID, Actor: "rita", Kind: vigil.CaseEventNote,
			Detail: strings.Repeat("n", vigil.MaxCaseNoteLen+1)}), vigil.EINVALID)
		wantCode(t, s.Cases.AddCaseEvent(ctx, &vigil.CaseEvent{CaseID: 9999, Actor: "rita", Kind: vigil.CaseEventNote, Detail: "x"}), vigil.ENOTFOUND)

		got, err = s.Cases.AssignCase(ctx, c.ID, "", "lead")
		must(t, err)
		if got.State != vigil.CaseOpen || got.AssignedTo != "" {
			t.Errorf("unassigned case: %+v", got)
		}
		history, err := s.Cases.CaseHistory(ctx, c.ID)
		must(t, err)
		want := []string{"opened", "assigned to rita", "note looks like a known series", "revealed", "assigned unassigned"}
		if got := events(history); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("history %q, want %q", got, want)
		}
		_, err = s.Cases.AssignCase(ctx, 9999, "rita", "lead")
		wantCode(t, err, vigil.ENOTFOUND)
	})

	t.Run("Decide", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 2)
		c := f.matchCase(clock, f.entries[0], f.entries[1])
		must(t, s.Cases.OpenCase(ctx, c, "rules"))
		_, err := s.Cases.AssignCase(ctx, c.ID, "rita", "lead")
		must(t, err)

		clock.Advance(time.Minute)
		_, err = s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: "maybe", DecidedBy: "rita"})
		wantCode(t, err, vigil.EINVALID)
		got, err := s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, Category: "B1", Notes: "known", DecidedBy: "rita"})
		must(t, err)
		if got.State != vigil.CaseDecided || got.Decision == nil || got.Decision.Verdict != vigil.VerdictConfirmed ||
			got.Decision.Category != "B1" || !got.Decision.DecidedAt.Equal(clock.Now()) || got.AssignedTo != "rita" {
			t.Errorf("decided case: %+v (decision %+v)", got, got.Decision)
		}
		found, err := s.Cases.FindCase(ctx, c.ID)
		must(t, err)
		if found.State != vigil.CaseDecided || found.Decision == nil || found.Decision.Notes != "known" || found.Decision.DecidedBy != "rita" {
			t.Errorf("stored decision: %+v", found.Decision)
		}
		_, err = s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictFalsePositive, DecidedBy: "sam"})
		wantCode(t, err, vigil.ECONFLICT)
		_, err = s.Cases.AssignCase(ctx, c.ID, "sam", "lead")
		wantCode(t, err, vigil.ECONFLICT)
		_, err = s.Cases.DecideCase(ctx, 9999, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "rita"})
		wantCode(t, err, vigil.ENOTFOUND)

		// Escalation keeps the case in review and counts nothing; a senior
		// decides it later.
		esc := f.matchCase(clock, f.entries[0])
		must(t, s.Cases.OpenCase(ctx, esc, "rules"))
		got, err = s.Cases.DecideCase(ctx, esc.ID, vigil.Decision{Verdict: vigil.VerdictEscalate, DecidedBy: "rita", Notes: "unsure"})
		must(t, err)
		if got.State != vigil.CaseEscalated {
			t.Errorf("escalated case in state %q", got.State)
		}
		_, err = s.Cases.DecideCase(ctx, esc.ID, vigil.Decision{Verdict: vigil.VerdictEscalate, DecidedBy: "rita"})
		wantCode(t, err, vigil.ECONFLICT)
		got, err = s.Cases.AssignCase(ctx, esc.ID, "senior", "lead")
		must(t, err)
		if got.State != vigil.CaseEscalated || got.AssignedTo != "senior" {
			t.Errorf("assigned escalated case: %+v", got)
		}
		got, err = s.Cases.DecideCase(ctx, esc.ID, vigil.Decision{Verdict: vigil.VerdictFalsePositive, DecidedBy: "senior"})
		must(t, err)
		if got.State != vigil.CaseDecided || got.Decision.DecidedBy != "senior" {
			t.Errorf("senior's decision: %+v", got)
		}
		history, err := s.Cases.CaseHistory(ctx, esc.ID)
		must(t, err)
		want := []string{"opened", "decided escalate: unsure", "assigned to senior", "decided false_positive"}
		if got := events(history); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("history %q, want %q", got, want)
		}

		stats, err := s.Cases.EntryStats(ctx, nil)
		must(t, err)
		if len(stats) != 2 || stats[0].EntryID != f.entries[0].ID || stats[0].Matches != 2 || stats[0].Confirmed != 1 ||
			stats[0].FalsePositives != 1 || stats[0].Precision() != 0.5 ||
			stats[1].Matches != 1 || stats[1].Confirmed != 1 || stats[1].FalsePositives != 0 {
			t.Errorf("entry stats: %v", statsValues(stats))
		}
		banks, err := s.Cases.BankPrecision(ctx)
		must(t, err)
		if len(banks) != 1 || banks[0].BankID != f.bank.ID || banks[0].Bank != "b" || banks[0].Confirmed != 2 ||
			banks[0].FalsePositives != 1 || banks[0].Matches != 3 || banks[0].Quarantined != 0 {
			t.Errorf("bank precision: %+v", banks)
		}
		_, err = s.Cases.EntryStats(ctx, make([]int64, vigil.MaxEntryStatsIDs+1))
		if vigil.ErrorCode(err) == "" {
			t.Error("EntryStats took more than MaxEntryStatsIDs ids")
		}
	})

	t.Run("Quarantine", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 2)
		e := f.entries[0]
		before, err := s.Banks.FindBankByID(ctx, f.bank.ID)
		must(t, err)

		clock.Advance(time.Minute)
		wantCode(t, s.Cases.QuarantineEntry(ctx, e.ID, " "), vigil.EINVALID)
		must(t, s.Cases.QuarantineEntry(ctx, e.ID, "matches too much"))
		got, err := s.Entries.FindEntryByID(ctx, e.ID)
		must(t, err)
		if !got.Quarantined() || got.Active() || !got.QuarantinedAt.Equal(clock.Now()) || got.QuarantineReason != "matches too much" ||
			got.Seq <= e.Seq || got.Retracted() {
			t.Errorf("quarantined entry: %+v", got)
		}
		// Matchers follow the change: the entry comes back from the change
		// feed as not active, and a fresh load leaves it out.
		changed, err := s.Entries.EntriesChangedSince(ctx, vigil.SignalPDQ, f.entries[1].Seq, 10)
		must(t, err)
		if len(changed) != 1 || changed[0].ID != e.ID || changed[0].Active() {
			t.Errorf("changes after quarantine: %+v", changed)
		}
		if ids := activeIDs(t, s); len(ids) != 1 || ids[0] != f.entries[1].ID {
			t.Errorf("active entries %v, want only %d", ids, f.entries[1].ID)
		}
		bank, err := s.Banks.FindBankByID(ctx, f.bank.ID)
		must(t, err)
		if bank.Version <= before.Version || bank.ActiveEntries != 2 {
			t.Errorf("bank after quarantine: version %d (was %d), %d active", bank.Version, before.Version, bank.ActiveEntries)
		}
		// Curators find it among the entries and in the statistics.
		stats, err := s.Cases.EntryStats(ctx, nil)
		must(t, err)
		if len(stats) != 1 || stats[0].EntryID != e.ID || stats[0].QuarantinedAt == nil || stats[0].Quarantine != "matches too much" {
			t.Errorf("stats of quarantined entry: %v", statsValues(stats))
		}
		banks, err := s.Cases.BankPrecision(ctx)
		must(t, err)
		if len(banks) != 1 || banks[0].Quarantined != 1 {
			t.Errorf("bank precision: %+v", banks)
		}
		wantCode(t, s.Cases.QuarantineEntry(ctx, e.ID, "again"), vigil.ECONFLICT)
		wantCode(t, s.Cases.QuarantineEntry(ctx, 9999, "x"), vigil.ENOTFOUND)

		must(t, s.Cases.ReleaseEntry(ctx, e.ID))
		released, err := s.Entries.FindEntryByID(ctx, e.ID)
		must(t, err)
		if !released.Active() || released.QuarantineReason != "" || released.Seq <= got.Seq {
			t.Errorf("released entry: %+v", released)
		}
		changed, err = s.Entries.EntriesChangedSince(ctx, vigil.SignalPDQ, got.Seq, 10)
		must(t, err)
		if len(changed) != 1 || changed[0].ID != e.ID || !changed[0].Active() {
			t.Errorf("changes after release: %+v", changed)
		}
		if ids := activeIDs(t, s); len(ids) != 2 {
			t.Errorf("active entries after release: %v", ids)
		}
		wantCode(t, s.Cases.ReleaseEntry(ctx, e.ID), vigil.ECONFLICT)
		wantCode(t, s.Cases.ReleaseEntry(ctx, 9999), vigil.ENOTFOUND)

		_, err = s.Entries.RetractEntry(ctx, f.entries[1].ID, "curator", "wrong")
		must(t, err)
		wantCode(t, s.Cases.QuarantineEntry(ctx, f.entries[1].ID, "x"), vigil.ECONFLICT)
	})

	t.Run("FalsePositiveTrigger", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		s.SetQuarantinePolicy(vigil.QuarantinePolicy{MinFalsePositives: 2, MaxPrecision: 0.5})
		f := newCaseFixture(t, s, 2)
		bad, good := f.entries[0], f.entries[1]
		decide := func(v vigil.Verdict, es ...*vigil.Entry) *vigil.Case {
			t.Helper()
			c := f.matchCase(clock, es...)
			must(t, s.Cases.OpenCase(ctx, c, "rules"))
			_, err := s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: v, DecidedBy: "rita"})
			must(t, err)
			return c
		}
		decide(vigil.VerdictConfirmed, good)
		decide(vigil.VerdictFalsePositive, bad)
		if quarantined(t, s, bad) {
			t.Fatal("quarantined after one false positive")
		}
		second := decide(vigil.VerdictFalsePositive, bad, good)
		if !quarantined(t, s, bad) {
			t.Fatal("not quarantined after two false positives")
		}
		// good has 1 confirmed, 1 false positive: precision 0.5, but only
		// one false positive.
		if quarantined(t, s, good) {
			t.Error("entry with one false positive quarantined")
		}
		e, err := s.Entries.FindEntryByID(ctx, bad.ID)
		must(t, err)
		if !strings.Contains(e.QuarantineReason, "false positives") {
			t.Errorf("reason %q does not say why", e.QuarantineReason)
		}
		history, err := s.Cases.CaseHistory(ctx, second.ID)
		must(t, err)
		last := history[len(history)-1]
		if last.Kind != vigil.CaseEventQuarantined || !strings.Contains(last.Detail, "false positives") {
			t.Errorf("history does not record the quarantine: %q", events(history))
		}

		// After a release, the old false positives do not quarantine the
		// entry again at once; two new ones do.
		must(t, s.Cases.ReleaseEntry(ctx, bad.ID))
		decide(vigil.VerdictFalsePositive, bad)
		if quarantined(t, s, bad) {
			t.Error("quarantined again by one false positive after release")
		}
		decide(vigil.VerdictFalsePositive, bad)
		if !quarantined(t, s, bad) {
			t.Error("not quarantined after two false positives since release")
		}

		// Off with the zero policy.
		s.SetQuarantinePolicy(vigil.QuarantinePolicy{})
		for range 3 {
			decide(vigil.VerdictFalsePositive, good)
		}
		if quarantined(t, s, good) {
			t.Error("zero policy quarantined an entry")
		}
	})

	t.Run("SpikeTrigger", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 2)
		steady, spiky := f.entries[0], f.entries[1]
		openCase := func(e *vigil.Entry) *vigil.Case {
			t.Helper()
			c := f.matchCase(clock, e)
			must(t, s.Cases.OpenCase(ctx, c, "rules"))
			return c
		}
		// steady matches three cases an hour for ten hours, which makes
		// that its usual rate (going from none to three an hour is a
		// spike, so the policy starts after that); ten more hours at that
		// rate are no spike.
		for range 30 {
			clock.Advance(20 * time.Minute)
			openCase(steady)
		}
		s.SetQuarantinePolicy(vigil.QuarantinePolicy{SpikeFactor: 4, SpikeMin: 3, Window: time.Hour})
		for range 30 {
			clock.Advance(20 * time.Minute)
			openCase(steady)
		}
		if quarantined(t, s, steady) {
			t.Error("entry with a steady rate quarantined")
		}
		// spiky never matched in those ten hours; then, within minutes,
		// under the minimum of three cases nothing happens, at three it is
		// quarantined.
		openCase(spiky)
		clock.Advance(time.Minute)
		openCase(spiky)
		if quarantined(t, s, spiky) {
			t.Fatal("quarantined under the spike minimum")
		}
		clock.Advance(time.Minute)
		third := openCase(spiky)
		if !quarantined(t, s, spiky) {
			t.Fatal("spike not quarantined")
		}
		history, err := s.Cases.CaseHistory(ctx, third.ID)
		must(t, err)
		if last := history[len(history)-1]; last.Kind != vigil.CaseEventQuarantined || last.Actor == "" {
			t.Errorf("history does not record the quarantine: %q", events(history))
		}
		// A release starts the count afresh.
		must(t, s.Cases.ReleaseEntry(ctx, spiky.ID))
		openCase(spiky)
		if quarantined(t, s, spiky) {
			t.Error("quarantined again at once after release")
		}
	})

	t.Run("QuarantinedEntries", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 5)
		// Entry 1 has review statistics, 2 none; 3 was released; 4 and
		// 5 never quarantined.
		c := f.matchCase(clock, f.entries[0])
		must(t, s.Cases.OpenCase(ctx, c, "rules"))
		_, err := s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictFalsePositive, DecidedBy: "rita"})
		must(t, err)
		for _, e := range f.entries[:3] {
			must(t, s.Cases.QuarantineEntry(ctx, e.ID, "checking"))
		}
		must(t, s.Cases.ReleaseEntry(ctx, f.entries[2].ID))
		ids := func(stats []*vigil.EntryStats) []int64 {
			var out []int64
			for _, st := range stats {
				if st.QuarantinedAt == nil || st.Quarantine != "checking" {
					t.Errorf("listed entry not quarantined: %+v", st)
				}
				out = append(out, st.EntryID)
			}
			return out
		}
		all, err := s.Cases.QuarantinedEntries(ctx, 0, 0)
		must(t, err)
		if got, want := ids(all), []int64{f.entries[0].ID, f.entries[1].ID}; !slices.Equal(got, want) {
			t.Fatalf("quarantined %v, want %v", got, want)
		}
		if all[0].FalsePositives != 1 || all[1].FalsePositives != 0 || all[1].BankID != f.bank.ID {
			t.Errorf("statistics: %v", statsValues(all))
		}
		first, err := s.Cases.QuarantinedEntries(ctx, 0, 1)
		must(t, err)
		rest, err := s.Cases.QuarantinedEntries(ctx, f.entries[0].ID, 1)
		must(t, err)
		after, err := s.Cases.QuarantinedEntries(ctx, f.entries[1].ID, 10)
		must(t, err)
		if !slices.Equal(ids(first), ids(all[:1])) || !slices.Equal(ids(rest), ids(all[1:])) || len(after) != 0 {
			t.Errorf("pages %v %v %v", ids(first), ids(rest), ids(after))
		}
	})

	// The spike trigger stands for a faulty entry: one that suddenly
	// matches much different content (a hash of a blank image). Repeats
	// of one file are one piece of content, however often and by whomever
	// it is uploaded; otherwise anyone could switch detection of a file
	// off by uploading it SpikeMin times.
	t.Run("SpikeCountsDistinctContent", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 3)
		repeated, shared, faulty := f.entries[0], f.entries[1], f.entries[2]
		s.SetQuarantinePolicy(vigil.QuarantinePolicy{SpikeFactor: 10, SpikeMin: 20, Window: 24 * time.Hour})
		upload := func(e *vigil.Entry, sha256, user string) {
			t.Helper()
			clock.Advance(time.Minute)
			c := f.matchCase(clock, e)
			c.Content = vigil.ContentRef{SHA256: sha256, UserID: user}
			must(t, s.Cases.OpenCase(ctx, c, "rules"))
		}
		file := strings.Repeat("ab", 32)
		for i := range 22 {
			// Upper case is the same digest.
			sum := file
			if i%2 == 1 {
				sum = strings.ToUpper(file)
			}
			upload(repeated, sum, "user-1")
			if quarantined(t, s, repeated) {
				t.Fatalf("one user's upload %d of one file quarantined its entry", i+1)
			}
			upload(shared, file, fmt.Sprintf("user-%d", i))
			if quarantined(t, s, shared) {
				t.Fatalf("one file from %d users quarantined its entry", i+1)
			}
		}
		if got := activeIDs(t, s); !slices.Contains(got, repeated.ID) || !slices.Contains(got, shared.ID) {
			t.Fatalf("entries out of matching: active %v", got)
		}
		// Content without a digest is told apart by its user: one user's
		// uploads count once.
		for range 22 {
			upload(faulty, "", "user-1")
		}
		if quarantined(t, s, faulty) {
			t.Fatal("one user's uploads without a digest quarantined their entry")
		}
		// 20 different files are what a faulty entry looks like (the
		// user's earlier uploads count as one of them).
		for i := range 19 {
			upload(faulty, fmt.Sprintf("%064x", i+1), "user-1")
			if q := quarantined(t, s, faulty); q != (i == 18) {
				t.Fatalf("after %d distinct files: quarantined %v", i+2, q)
			}
		}
	})

	t.Run("SpikeSparesConfirmed", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 2)
		known, unreviewed := f.entries[0], f.entries[1]
		s.SetQuarantinePolicy(vigil.QuarantinePolicy{SpikeFactor: 4, SpikeMin: 3, Window: time.Hour, MaxPrecision: 0.5, SpareConfirmed: 2})
		// Reviewers confirmed known twice (below the spike minimum).
		for range 2 {
			c := f.matchCase(clock, known)
			must(t, s.Cases.OpenCase(ctx, c, "rules"))
			_, err := s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "rita"})
			must(t, err)
		}
		// Then both surge: known material spreading stays matched; the
		// entry nobody has reviewed is quarantined.
		for range 5 {
			clock.Advance(time.Minute)
			must(t, s.Cases.OpenCase(ctx, f.matchCase(clock, known), "rules"))
			must(t, s.Cases.OpenCase(ctx, f.matchCase(clock, unreviewed), "rules"))
		}
		if quarantined(t, s, known) {
			t.Error("a confirmed entry was quarantined by a surge of matches")
		}
		if !quarantined(t, s, unreviewed) {
			t.Error("the unreviewed entry's spike was not quarantined")
		}
	})

	t.Run("Retention", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		c := f.matchCase(clock, f.entries[0])
		c.Content = vigil.ContentRef{MediaID: "blob1", MediaType: "image/png", UserID: "u1"}
		c.RetainUntil = clock.Now().Add(time.Hour)
		must(t, s.Cases.OpenCase(ctx, c, "rules"))
		conv := &vigil.Case{Queue: "q", Kind: vigil.CaseKindConversation, RetainUntil: clock.Now().Add(2 * time.Hour),
			Conversation: &vigil.CaseConversation{ConversationID: "chat", Score: 0.9, Messages: []vigil.CaseMessage{{Speaker: "a", Text: "a secret"}}}}
		must(t, s.Cases.OpenCase(ctx, conv, "rules"))
		kept := f.matchCase(clock, f.entries[0])
		kept.RetainUntil = clock.Now().Add(48 * time.Hour)
		must(t, s.Cases.OpenCase(ctx, kept, "rules"))
		_, err := s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "rita"})
		must(t, err)

		expired, err := s.Cases.ExpiredCases(ctx, 10)
		must(t, err)
		if len(expired) != 0 {
			t.Errorf("%d cases expired before their time", len(expired))
		}
		clock.Advance(3 * time.Hour)
		expired, err = s.Cases.ExpiredCases(ctx, 10)
		must(t, err)
		if len(expired) != 2 || expired[0].ID != c.ID || expired[1].ID != conv.ID || expired[0].Content.MediaID != "blob1" {
			t.Fatalf("expired cases: %+v", expired)
		}
		if one, err := s.Cases.ExpiredCases(ctx, 1); err != nil || len(one) != 1 {
			t.Errorf("limit 1: %d cases, %v", len(one), err)
		}
		for _, e := range expired {
			must(t, s.Cases.PurgeCase(ctx, e.ID))
		}
		must(t, s.Cases.PurgeCase(ctx, c.ID)) // again: nothing to do
		wantCode(t, s.Cases.PurgeCase(ctx, 9999), vigil.ENOTFOUND)

		got, err := s.Cases.FindCase(ctx, c.ID)
		must(t, err)
		if got.Matches != nil || got.Content.MediaID != "" || got.State != vigil.CaseDecided || got.Decision == nil {
			t.Errorf("purged match case: %+v", got)
		}
		got, err = s.Cases.FindCase(ctx, conv.ID)
		must(t, err)
		if got.Conversation == nil || got.Conversation.Messages != nil || got.Conversation.ConversationID != "chat" {
			t.Errorf("purged conversation case: %+v", got.Conversation)
		}
		got, err = s.Cases.FindCase(ctx, kept.ID)
		must(t, err)
		if len(got.Matches) != 1 {
			t.Errorf("case within retention lost its evidence: %+v", got)
		}
		history, err := s.Cases.CaseHistory(ctx, c.ID)
		must(t, err)
		if n := len(history); n != 3 || history[n-1].Kind != vigil.CaseEventExpired {
			t.Errorf("history after purge: %q", events(history))
		}
		expired, err = s.Cases.ExpiredCases(ctx, 10)
		must(t, err)
		if len(expired) != 0 {
			t.Errorf("purged cases still expired: %d", len(expired))
		}
		// Statistics outlive the evidence.
		stats, err := s.Cases.EntryStats(ctx, []int64{f.entries[0].ID})
		must(t, err)
		if len(stats) != 1 || stats[0].Matches != 2 || stats[0].Confirmed != 1 {
			t.Errorf("stats after purge: %v", statsValues(stats))
		}
	})

	t.Run("SharedMedia", func(t *testing.T) { testSharedMedia(t, open) })

	t.Run("GenerativeAI", func(t *testing.T) {
		// The content's declaration of a generative source is stored with
		// the case and survives the purge of its evidence: it is a fact
		// about the content, not the content.
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		c := f.matchCase(clock, f.entries[0])
		want := vigil.GenerativeAI{Source: vigil.GenerativeAIC2PA, DigitalSourceType: "trainedAlgorithmicMedia",
			Generator: "Test Generator/1.0", Signer: "CN=Test Signer,O=Tests", SignatureValid: true, BindingValid: true, Trust: "untrusted", Timestamped: true}
		c.Content.GenerativeAI = &want
		c.RetainUntil = clock.Now().Add(time.Hour)
		must(t, s.Cases.OpenCase(ctx, c, "rules"))
		plain := f.matchCase(clock, f.entries[0])
		must(t, s.Cases.OpenCase(ctx, plain, "rules"))
		got, err := s.Cases.FindCase(ctx, c.ID)
		must(t, err)
		if got.Content.GenerativeAI == nil || *got.Content.GenerativeAI != want {
			t.Fatalf("stored indication %+v, want %+v", got.Content.GenerativeAI, want)
		}
		if got, err := s.Cases.FindCase(ctx, plain.ID); err != nil || got.Content.GenerativeAI != nil {
			t.Fatalf("a case without an indication has %+v (%v)", got.Content.GenerativeAI, err)
		}
		clock.Advance(2 * time.Hour)
		must(t, s.Cases.PurgeCase(ctx, c.ID))
		got, err = s.Cases.FindCase(ctx, c.ID)
		must(t, err)
		if got.Content.GenerativeAI == nil || *got.Content.GenerativeAI != want {
			t.Fatalf("indication after purge %+v", got.Content.GenerativeAI)
		}
		bad := f.matchCase(clock, f.entries[0])
		bad.Content.GenerativeAI = &vigil.GenerativeAI{Source: "c2pa", Signer: "x\u202e"}
		wantCode(t, s.Cases.OpenCase(ctx, bad, "rules"), vigil.EINVALID)
	})

	t.Run("ConcurrentDecisions", func(t *testing.T) {
		// Reviewers deciding one case at once: exactly one decision
		// stands, and the entries count it once.
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		c := f.matchCase(clock, f.entries[0])
		must(t, s.Cases.OpenCase(ctx, c, "rules"))
		const reviewers = 8
		errs := make(chan error, reviewers)
		for i := range reviewers {
			go func() {
				_, err := s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictFalsePositive, DecidedBy: fmt.Sprint("r", i)})
				errs <- err
			}()
		}
		ok := 0
		for range reviewers {
			switch err := <-errs; vigil.ErrorCode(err) {
			case "":
				ok++
			case vigil.ECONFLICT:
			default:
				t.Errorf("decision: %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d decisions stood, want 1", ok)
		}
		stats, err := s.Cases.EntryStats(ctx, []int64{f.entries[0].ID})
		must(t, err)
		if len(stats) != 1 || stats[0].FalsePositives != 1 {
			t.Errorf("stats after concurrent decisions: %v", statsValues(stats))
		}
	})

	// One case per key, whoever opens it twice: a retried job or a resent
	// request finds the case it opened, counted once.
	t.Run("OpenOncePerKey", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		first := f.matchCase(clock, f.entries[0])
		first.Key, first.Rule = "item-1/q", "r1"
		must(t, s.Cases.OpenCase(ctx, first, "rules"))
		_, err := s.Cases.AssignCase(ctx, first.ID, "key:alice", "key:alice")
		must(t, err)
		clock.Advance(time.Minute)
		again := f.matchCase(clock, f.entries[0])
		again.Key, again.Rule, again.Priority = "item-1/q", "r2", 90
		must(t, s.Cases.OpenCase(ctx, again, "rules"))
		if again.ID != first.ID || again.Rule != "r1" || again.State != vigil.CaseAssigned || !again.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("second open of key: %+v, want case %d as stored", again, first.ID)
		}
		other := f.matchCase(clock, f.entries[0])
		other.Key = "item-2/q"
		must(t, s.Cases.OpenCase(ctx, other, "rules"))
		unkeyed := f.matchCase(clock, f.entries[0])
		must(t, s.Cases.OpenCase(ctx, unkeyed, "rules"))
		if other.ID == first.ID || unkeyed.ID == first.ID || unkeyed.ID == other.ID {
			t.Errorf("distinct keys share a case: %d %d %d", first.ID, other.ID, unkeyed.ID)
		}
		stats, err := s.Cases.EntryStats(ctx, []int64{f.entries[0].ID})
		must(t, err)
		if len(stats) != 1 || stats[0].Matches != 3 {
			t.Errorf("matches counted %v, want 3 (the repeat not counted)", statsValues(stats))
		}
		h, err := s.Cases.CaseHistory(ctx, first.ID)
		must(t, err)
		if len(h) != 2 || h[0].Kind != vigil.CaseEventOpened || h[1].Kind != vigil.CaseEventAssigned {
			t.Errorf("history of the keyed case %v", events(h))
		}

		// Once retention purged the evidence, the item detected again is
		// a new case.
		must(t, s.Cases.PurgeCase(ctx, first.ID))
		after := f.matchCase(clock, f.entries[0])
		after.Key = "item-1/q"
		must(t, s.Cases.OpenCase(ctx, after, "rules"))
		if after.ID == first.ID {
			t.Errorf("key of a purged case still taken")
		}

		// Concurrent opens of one key store one case.
		ids := make(chan int64, 4)
		var wg sync.WaitGroup
		for range 4 {
			// Made here: the fixture's upload counter is not for
			// concurrent use.
			c := f.matchCase(clock, f.entries[0])
			c.Key = "item-3/q"
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Cases.OpenCase(ctx, c, "rules"); err != nil {
					t.Errorf("concurrent open: %v", err)
				}
				ids <- c.ID
			}()
		}
		wg.Wait()
		close(ids)
		var seen []int64
		for id := range ids {
			seen = append(seen, id)
		}
		slices.Sort(seen)
		if seen = slices.Compact(seen); len(seen) != 1 {
			t.Errorf("concurrent opens of one key made cases %v", seen)
		}
	})
	// Many cases opened at once (a store may commit them together): each
	// open that returns has its case stored and its audit record with it,
	// keys still give one case, and one that fails fails alone.
	t.Run("ConcurrentOpens", func(t *testing.T) { testConcurrentOpens(t, open) })
}

// testConcurrentOpens is the ConcurrentOpens contract test.
func testConcurrentOpens(t *testing.T, open Opener) {
	ctx := context.Background()
	s, clock := openWithClock(t, open)
	f := newCaseFixture(t, s, 1)
	const n, bad = 24, 7
	opened := make([]*vigil.Case, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		c := f.matchCase(clock, f.entries[0])
		switch {
		case i == bad:
			c.Queue = "no-such-queue"
		case i%6 == 0:
			c.Key = "item-shared/q" // 4 opens of one item
		}
		opened[i] = c
		rec := &vigil.AuditRecord{Actor: "rule:r", Action: "test.open", Target: fmt.Sprintf("open:%d", i)}
		wg.Go(func() {
			errs[i] = s.Cases.OpenCase(vigil.WithAudit(ctx, rec), c, "rules")
			if errs[i] != nil {
				return
			}
			if got, err := s.Cases.FindCase(ctx, c.ID); err != nil || got.Content.SHA256 == "" {
				t.Errorf("open %d: case %d not stored once OpenCase returned: %v", i, c.ID, err)
			}
		})
	}
	wg.Wait()
	ids := map[int64]bool{}
	var shared []int64
	for i, err := range errs {
		if i == bad {
			if vigil.ErrorCode(err) != vigil.ENOTFOUND {
				t.Errorf("open in an unknown queue: %v, want ENOTFOUND", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("open %d: %v", i, err)
			continue
		}
		ids[opened[i].ID] = true
		if i%6 == 0 {
			shared = append(shared, opened[i].ID)
		}
	}
	if slices.Sort(shared); len(slices.Compact(shared)) != 1 {
		t.Errorf("concurrent opens of one key made cases %v", shared)
	}
	if want := n - 1 - 3; len(ids) != want {
		t.Errorf("%d cases stored, want %d", len(ids), want)
	}
	stats, err := s.Cases.EntryStats(ctx, []int64{f.entries[0].ID})
	must(t, err)
	if len(stats) != 1 || stats[0].Matches != len(ids) {
		t.Errorf("matches counted %v, want %d", statsValues(stats), len(ids))
	}
	recs, err := s.Audit.ListAudit(ctx, 0, 1000)
	must(t, err)
	recorded := map[string]bool{}
	for _, r := range recs {
		recorded[r.Target] = true
	}
	for i := range n {
		if want := i != bad; recorded[fmt.Sprintf("open:%d", i)] != want {
			t.Errorf("audit record of open %d stored: %v, want %v", i, !want, want)
		}
	}
	if _, brk, err := s.Audit.VerifyAudit(ctx); err != nil || brk != nil {
		t.Errorf("audit chain after concurrent opens: %v, %+v", err, brk)
	}
}

// testSharedMedia checks that a media blob shared by cases is handed to
// the retention pass only with the last of them.
func testSharedMedia(t *testing.T, open Opener) {
	ctx := context.Background()
	s, clock := openWithClock(t, open)
	f := newCaseFixture(t, s, 1)
	open2 := func(retain time.Duration) *vigil.Case {
		c := f.matchCase(clock, f.entries[0])
		c.Content.MediaID = "shared"
		c.RetainUntil = clock.Now().Add(retain)
		must(t, s.Cases.OpenCase(ctx, c, "rules"))
		return c
	}
	first, second := open2(time.Hour), open2(3*time.Hour)
	assertInUse := func(want bool) {
		t.Helper()
		got, err := s.Cases.MediaInUse(ctx, "shared")
		must(t, err)
		if got != want {
			t.Errorf("MediaInUse = %v, want %v", got, want)
		}
	}
	assertInUse(true)
	if other, err := s.Cases.MediaInUse(ctx, "other"); err != nil || other {
		t.Errorf("MediaInUse of a blob no case holds: %v, %v", other, err)
	}
	clock.Advance(2 * time.Hour)
	expired, err := s.Cases.ExpiredCases(ctx, 10)
	must(t, err)
	if len(expired) != 1 || expired[0].ID != first.ID || expired[0].Content.MediaID != "" {
		t.Fatalf("first expiry: %+v; want case %d without the media another case holds", expired, first.ID)
	}
	must(t, s.Cases.PurgeCase(ctx, first.ID))
	clock.Advance(2 * time.Hour)
	expired, err = s.Cases.ExpiredCases(ctx, 10)
	must(t, err)
	if len(expired) != 1 || expired[0].ID != second.ID || expired[0].Content.MediaID != "shared" {
		t.Fatalf("last expiry: %+v; want case %d with the media", expired, second.ID)
	}
	assertInUse(true) // expired, not yet purged
	must(t, s.Cases.PurgeCase(ctx, second.ID))
	assertInUse(false)
}

// caseFixture is a queue "q" and a bank "b" with PDQ entries.
type caseFixture struct {
	t       testing.TB
	bank    *vigil.Bank
	entries []*vigil.Entry
	uploads atomic.Int64 // content opened as cases so far (cases may open concurrently)
}

func newCaseFixture(t testing.TB, s Services, entries int) *caseFixture {
	t.Helper()
	must(t, s.Cases.CreateQueue(context.Background(), &vigil.Queue{Name: "q", Roles: []vigil.Role{vigil.RoleReviewer}}))
	f := &caseFixture{t: t, bank: createBank(t, s, "b")}
	for i := range entries {
		f.entries = append(f.entries, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(100 + i), Source: "test"})
	}
	_, err := s.Entries.AddEntries(context.Background(), f.bank.ID, "curator", f.entries)
	must(t, err)
	return f
}

// matchCase returns a match case in queue q, retained for a day, with a
// match of each entry, about content (a SHA-256) no case had before.
func (f *caseFixture) matchCase(clock *Clock, entries ...*vigil.Entry) *vigil.Case {
	n := f.uploads.Add(1)
	c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: clock.Now().Add(24 * time.Hour),
		Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", n)}}
	for _, e := range entries {
		c.Matches = append(c.Matches, vigil.Match{BankID: e.BankID, Bank: "b", EntryID: e.ID, SignalType: e.SignalType,
			Value: e.Value, Distance: 4, Threshold: 31, Source: e.Source})
	}
	return c
}

// quarantined reports whether the store has e quarantined.
func quarantined(t testing.TB, s Services, e *vigil.Entry) bool {
	t.Helper()
	got, err := s.Entries.FindEntryByID(context.Background(), e.ID)
	must(t, err)
	return got.Quarantined()
}

// activeIDs returns the ids of the PDQ entries a matcher would load.
func activeIDs(t testing.TB, s Services) []int64 {
	t.Helper()
	var ids []int64
	_, err := s.Entries.ForEachActiveEntry(context.Background(), vigil.SignalPDQ, func(e *vigil.Entry) error {
		ids = append(ids, e.ID)
		return nil
	})
	must(t, err)
	return ids
}

func queueNames(qs []*vigil.Queue) []string {
	var names []string
	for _, q := range qs {
		names = append(names, q.Name)
	}
	return names
}

// events renders a history as "kind detail" strings.
func events(evs []*vigil.CaseEvent) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, strings.TrimSpace(ev.Kind+" "+ev.Detail))
	}
	return out
}

// statsValues dereferences stats, so that %v prints their fields.
func statsValues(stats []*vigil.EntryStats) []vigil.EntryStats {
	var out []vigil.EntryStats
	for _, s := range stats {
		out = append(out, *s)
	}
	return out
}
