package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestNoticeService tests a vigil.NoticeService: a confirmed case's notice
// falls due after the delay, is held back while a legal hold or a report
// under way asks for silence and falls due when the silence ends, is
// recorded once; an upheld complaint's reversal is due at once; an
// automatic action's notice falls due from the action, not a review, and
// is the case's only notice.
func TestNoticeService(t *testing.T, open Opener) {
	if open(t).Notices == nil {
		t.Fatal("store has no notices: every store keeps them, none may skip the contract")
	}
	ctx := context.Background()
	delay := 2 * time.Hour

	due := func(t *testing.T, s Services, clock *Clock) []string {
		t.Helper()
		ns, err := s.Notices.DueNotices(ctx, clock.Now(), delay, 100)
		must(t, err)
		var out []string
		for _, n := range ns {
			out = append(out, fmt.Sprintf("%s:%d", n.Kind, n.Case.ID))
		}
		return out
	}
	confirm := func(t *testing.T, s Services, f *caseFixture, clock *Clock, user string) *vigil.Case {
		t.Helper()
		c := f.matchCase(clock, f.entries[0])
		c.Content.UserID = user
		must(t, s.Cases.OpenCase(ctx, c, "rules"))
		got, err := s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "key:1:alice"})
		must(t, err)
		return got
	}

	t.Run("DelayAndOnce", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		c := confirm(t, s, f, clock, "u1")
		fp := f.matchCase(clock, f.entries[0])
		must(t, s.Cases.OpenCase(ctx, fp, "rules"))
		_, err := s.Cases.DecideCase(ctx, fp.ID, vigil.Decision{Verdict: vigil.VerdictFalsePositive, DecidedBy: "key:1:alice"})
		must(t, err)
		clock.Advance(delay - time.Second)
		if got := due(t, s, clock); len(got) != 0 {
			t.Fatalf("before the delay: %v due", got)
		}
		clock.Advance(time.Second)
		got := due(t, s, clock)
		if want := fmt.Sprintf("notice:%d", c.ID); len(got) != 1 || got[0] != want {
			t.Fatalf("after the delay: %v due, want [%s] (a false positive is no action)", got, want)
		}
		ns, err := s.Notices.DueNotices(ctx, clock.Now(), delay, 100)
		must(t, err)
		must(t, s.Notices.MarkNoticeSent(ctx, ns[0], ns[0].EventID()))
		wantCode(t, s.Notices.MarkNoticeSent(ctx, ns[0], ns[0].EventID()), vigil.ECONFLICT)
		if got := due(t, s, clock); len(got) != 0 {
			t.Fatalf("after sending: %v due", got)
		}
	})

	t.Run("SilenceHoldsItBack", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		held := confirm(t, s, f, clock, "u1")
		reported := confirm(t, s, f, clock, "u2")
		h := &vigil.Hold{CaseID: held.ID, Reason: "police request 17", Until: clock.Now().Add(30 * 24 * time.Hour)}
		must(t, s.Preservation.CreateHold(ctx, h, "key:1:curator"))
		inc, err := vigil.NewIncident([]*vigil.Case{reported})
		must(t, err)
		must(t, s.Incidents.CreateIncident(ctx, inc, "key:1:curator"))
		clock.Advance(delay)
		if got := due(t, s, clock); len(got) != 0 {
			t.Fatalf("held case and draft report: %v due", got)
		}
		_, err = s.Incidents.ApproveIncident(ctx, inc.ID, "key:2:reviewer")
		must(t, err)
		sub := &vigil.Submission{IncidentID: inc.ID, Destination: "ncmec", CreatedBy: "key:2:reviewer"}
		must(t, s.Submissions.CreateSubmission(ctx, sub))
		if got := due(t, s, clock); len(got) != 0 {
			t.Fatalf("report being sent: %v due", got)
		}
		_, err = s.Submissions.UpdateSubmission(ctx, sub.ID, func(sub *vigil.Submission) error {
			sub.State, sub.ReportID = vigil.SubmissionFinished, 42
			return nil
		})
		must(t, err)
		if got := due(t, s, clock); len(got) != 1 || got[0] != fmt.Sprintf("notice:%d", reported.ID) {
			t.Fatalf("report sent: %v due, want the reported case's notice", got)
		}
		_, err = s.Preservation.ReleaseHold(ctx, h.ID, "proceedings closed", "key:1:curator")
		must(t, err)
		if got := due(t, s, clock); len(got) != 2 {
			t.Fatalf("hold released: %v due, want both", got)
		}
	})

	t.Run("ReversalOfUpheldComplaint", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		c := confirm(t, s, f, clock, "u1")
		k := &vigil.Complaint{Reference: fmt.Sprint(c.ID), Text: "wrong"}
		must(t, s.Complaints.CreateComplaint(ctx, k, "key:3:platform"))
		_, err := s.Complaints.DecideComplaint(ctx, k.ID, vigil.ComplaintDecision{Upheld: true, Reasons: "wrong entry", DecidedBy: "key:2:bob"})
		must(t, err)
		ns, err := s.Notices.DueNotices(ctx, clock.Now(), delay, 100)
		must(t, err)
		if len(ns) != 1 || ns[0].Kind != vigil.NoticeKindReversal || ns[0].Complaint == nil || ns[0].Complaint.ID != k.ID {
			t.Fatalf("due after upheld complaint: %+v", ns)
		}
		must(t, s.Notices.MarkNoticeSent(ctx, ns[0], ns[0].EventID()))
		clock.Advance(delay)
		if got := due(t, s, clock); len(got) != 0 {
			t.Fatalf("after reversal: %v due (a reversed case gets no notice)", got)
		}
	})

	// auto opens an undecided case and records an automatic action on it
	// at the clock's time.
	auto := func(t *testing.T, s Services, f *caseFixture, clock *Clock) *vigil.Case {
		t.Helper()
		c := f.matchCase(clock, f.entries[0])
		c.Content.UserID = "u-auto"
		must(t, s.Cases.OpenCase(ctx, c, "rule:block-known"))
		must(t, s.Notices.RecordAutoAction(ctx, &vigil.AutoAction{CaseID: c.ID, Rule: "block-known", Actions: []string{"block"}, TakenAt: clock.Now()}))
		return c
	}

	t.Run("AutomaticActionDueWithoutReview", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		wantCode(t, s.Notices.RecordAutoAction(ctx, &vigil.AutoAction{CaseID: 999999, Rule: "r", Actions: []string{"block"}, TakenAt: clock.Now()}), vigil.ENOTFOUND)
		wantCode(t, s.Notices.RecordAutoAction(ctx, &vigil.AutoAction{CaseID: 1, Rule: "r", TakenAt: clock.Now()}), vigil.EINVALID)
		c := auto(t, s, f, clock)
		taken := clock.Now()
		clock.Advance(delay - time.Second)
		// Recording it again (a retried job) changes nothing, not its time.
		must(t, s.Notices.RecordAutoAction(ctx, &vigil.AutoAction{CaseID: c.ID, Rule: "other", Actions: []string{"suspend"}, TakenAt: clock.Now()}))
		if got := due(t, s, clock); len(got) != 0 {
			t.Fatalf("before the delay: %v due", got)
		}
		clock.Advance(time.Second)
		ns, err := s.Notices.DueNotices(ctx, clock.Now(), delay, 100)
		must(t, err)
		if len(ns) != 1 || ns[0].Kind != vigil.NoticeKindNotice || ns[0].Case.ID != c.ID || ns[0].Auto == nil {
			t.Fatalf("undecided case with an automatic action, after the delay: %+v", ns)
		}
		if a := ns[0].Auto; a.Rule != "block-known" || len(a.Actions) != 1 || a.Actions[0] != "block" || !a.TakenAt.Equal(taken) || ns[0].Case.Decision != nil {
			t.Fatalf("automatic action: %+v (case decision %+v)", a, ns[0].Case.Decision)
		}
		// A reviewer confirms before the notice went: still one notice,
		// the automatic action's, still due.
		_, err = s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "key:1:alice"})
		must(t, err)
		ns, err = s.Notices.DueNotices(ctx, clock.Now(), delay, 100)
		must(t, err)
		if len(ns) != 1 || ns[0].Auto == nil || ns[0].Case.ID != c.ID {
			t.Fatalf("confirmed before its notice went: %+v, want the one automatic notice", ns)
		}
		must(t, s.Notices.MarkNoticeSent(ctx, ns[0], ns[0].EventID()))
		clock.Advance(2 * delay)
		if got := due(t, s, clock); len(got) != 0 {
			t.Fatalf("after sending: %v due", got)
		}
	})

	t.Run("AutomaticActionConfirmedAfterItsNotice", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		c := auto(t, s, f, clock)
		clock.Advance(delay)
		ns, err := s.Notices.DueNotices(ctx, clock.Now(), delay, 100)
		must(t, err)
		if len(ns) != 1 || ns[0].Auto == nil {
			t.Fatalf("due: %+v", ns)
		}
		must(t, s.Notices.MarkNoticeSent(ctx, ns[0], ns[0].EventID()))
		_, err = s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "key:1:alice"})
		must(t, err)
		clock.Advance(delay)
		if got := due(t, s, clock); len(got) != 0 {
			t.Fatalf("confirmed after the automatic action's notice went: %v due, want none (the same action)", got)
		}
	})

	t.Run("AutomaticActionHeldBack", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		held := auto(t, s, f, clock)
		reported := auto(t, s, f, clock)
		h := &vigil.Hold{CaseID: held.ID, Reason: "police request 18", Until: clock.Now().Add(30 * 24 * time.Hour)}
		must(t, s.Preservation.CreateHold(ctx, h, "key:1:curator"))
		// An incident takes confirmed cases: the reported one is confirmed
		// and put in a draft report, whose silence holds the automatic
		// action's notice too.
		rc, err := s.Cases.DecideCase(ctx, reported.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "key:1:alice"})
		must(t, err)
		inc, err := vigil.NewIncident([]*vigil.Case{rc})
		must(t, err)
		must(t, s.Incidents.CreateIncident(ctx, inc, "key:1:curator"))
		clock.Advance(delay)
		if got := due(t, s, clock); len(got) != 0 {
			t.Fatalf("held case and draft report: %v due", got)
		}
		_, err = s.Preservation.ReleaseHold(ctx, h.ID, "proceedings closed", "key:1:curator")
		must(t, err)
		if got := due(t, s, clock); len(got) != 1 || got[0] != fmt.Sprintf("notice:%d", held.ID) {
			t.Fatalf("hold released: %v due, want the held case's notice only", got)
		}
	})
}
