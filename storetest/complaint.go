package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestComplaintService tests a vigil.ComplaintService: complaints are
// about confirmed cases only, decided by a reviewer other than the one who
// confirmed, audited with the change, shown in the case's history; an
// upheld one moves the case's count from confirmed to false positive on
// its entries and bank.
func TestComplaintService(t *testing.T, open Opener) {
	if open(t).Complaints == nil {
		t.Fatal("store has no complaints: every store keeps them, none may skip the contract")
	}
	ctx := context.Background()

	confirmed := func(t *testing.T, s Services, f *caseFixture, clock *Clock, by string) *vigil.Case {
		t.Helper()
		c := f.matchCase(clock, f.entries[0])
		c.Content.UserID = "u1"
		must(t, s.Cases.OpenCase(ctx, c, "rules"))
		got, err := s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: by})
		must(t, err)
		return got
	}
	stats := func(t *testing.T, s Services, e *vigil.Entry) *vigil.EntryStats {
		t.Helper()
		st, err := s.Cases.EntryStats(ctx, []int64{e.ID})
		must(t, err)
		if len(st) != 1 {
			t.Fatalf("entry stats: %d rows", len(st))
		}
		return st[0]
	}

	t.Run("UpheldMovesTheCount", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		c := confirmed(t, s, f, clock, "key:1:alice")
		before := stats(t, s, f.entries[0])
		if before.Confirmed != 1 || before.FalsePositives != 0 {
			t.Fatalf("before: %+v", before)
		}
		k := &vigil.Complaint{Reference: "case:" + fmt.Sprint(c.ID), UserID: "u1", Text: "this was my holiday photo"}
		must(t, s.Complaints.CreateComplaint(ctx, k, "key:3:platform"))
		if k.ID == 0 || k.State != vigil.ComplaintOpen || k.OriginalDecider != "key:1:alice" {
			t.Fatalf("created: %+v", k)
		}
		wantCode(t, s.Complaints.CreateComplaint(ctx, &vigil.Complaint{Reference: fmt.Sprint(c.ID), Text: "again"}, "key:3:platform"), vigil.ECONFLICT)

		clock.Advance(time.Hour)
		// The reviewer who confirmed may not judge the complaint, under
		// any of their keys.
		for _, by := range []string{"key:1:alice", "key:9:alice"} {
			_, err := s.Complaints.DecideComplaint(ctx, k.ID, vigil.ComplaintDecision{Upheld: true, Reasons: "r", DecidedBy: by})
			wantCode(t, err, vigil.EFORBIDDEN)
		}
		_, err := s.Complaints.DecideComplaint(ctx, k.ID, vigil.ComplaintDecision{Upheld: true, DecidedBy: "key:2:bob"})
		wantCode(t, err, vigil.EINVALID)

		rec := &vigil.AuditRecord{Actor: "key:2:bob", Action: vigil.AuditComplaintDecide, Target: vigil.ComplaintAuditTarget(k.ID)}
		got, err := s.Complaints.DecideComplaint(vigil.WithAudit(ctx, rec), k.ID,
			vigil.ComplaintDecision{Upheld: true, Reasons: "the picture is a landscape; the list entry is wrong", DecidedBy: "key:2:bob"})
		must(t, err)
		if got.State != vigil.ComplaintUpheld || got.DecidedBy != "key:2:bob" || got.DecidedAt == nil || got.Age(clock.Now()) != time.Hour {
			t.Fatalf("decided: %+v", got)
		}
		after := stats(t, s, f.entries[0])
		if after.Confirmed != 0 || after.FalsePositives != 1 {
			t.Errorf("after upheld complaint: confirmed %d, false positives %d; want 0, 1", after.Confirmed, after.FalsePositives)
		}
		banks, err := s.Cases.BankPrecision(ctx)
		must(t, err)
		if len(banks) != 1 || banks[0].Confirmed != 0 || banks[0].FalsePositives != 1 {
			t.Errorf("bank precision: %+v", banks[0])
		}
		_, err = s.Complaints.DecideComplaint(ctx, k.ID, vigil.ComplaintDecision{Upheld: false, Reasons: "r", DecidedBy: "key:4:carol"})
		wantCode(t, err, vigil.ECONFLICT)

		hist, err := s.Cases.CaseHistory(ctx, c.ID)
		must(t, err)
		var kinds []string
		for _, ev := range hist {
			kinds = append(kinds, ev.Kind)
		}
		if got := strings.Join(kinds, ","); !strings.HasSuffix(got, vigil.CaseEventComplaint+","+vigil.CaseEventComplaintDecided) {
			t.Errorf("history kinds %s: want the complaint and its outcome last", got)
		}
		if last := hist[len(hist)-1]; !strings.Contains(last.Detail, "upheld") || !strings.Contains(last.Detail, "landscape") {
			t.Errorf("history shows %q", last.Detail)
		}
		audit, err := s.Audit.ListAudit(ctx, 0, 100)
		must(t, err)
		if len(audit) == 0 || audit[len(audit)-1].Action != vigil.AuditComplaintDecide {
			t.Errorf("audit log does not end with the complaint's decision: %d records", len(audit))
		}
		// The case no longer stands confirmed: nothing left to complain of.
		wantCode(t, s.Complaints.CreateComplaint(ctx, &vigil.Complaint{Reference: fmt.Sprint(c.ID), Text: "x"}, "key:3:platform"), vigil.ECONFLICT)
	})

	t.Run("RejectedCountsNothing", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		c := confirmed(t, s, f, clock, "key:1:alice")
		k := &vigil.Complaint{Reference: "vigil-incident-7-case-" + fmt.Sprint(c.ID), Text: "not me"}
		must(t, s.Complaints.CreateComplaint(ctx, k, "key:3:platform"))
		if k.CaseID != c.ID {
			t.Fatalf("statement reference named case %d, want %d", k.CaseID, c.ID)
		}
		got, err := s.Complaints.DecideComplaint(ctx, k.ID, vigil.ComplaintDecision{Reasons: "the match is right", DecidedBy: "key:2:bob"})
		must(t, err)
		if got.State != vigil.ComplaintRejected {
			t.Fatalf("state %s", got.State)
		}
		if st := stats(t, s, f.entries[0]); st.Confirmed != 1 || st.FalsePositives != 0 {
			t.Errorf("after rejected complaint: %+v", st)
		}
		list, err := s.Complaints.ListComplaints(ctx, vigil.ComplaintFilter{State: vigil.ComplaintOpen})
		must(t, err)
		if len(list) != 0 {
			t.Errorf("open complaints: %d", len(list))
		}
		list, err = s.Complaints.ListComplaints(ctx, vigil.ComplaintFilter{CaseID: c.ID})
		must(t, err)
		if len(list) != 1 || list[0].ID != k.ID || list[0].Text != "not me" {
			t.Errorf("complaints of case: %+v", list)
		}
	})

	t.Run("OnlyConfirmedCases", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		c := f.matchCase(clock, f.entries[0])
		must(t, s.Cases.OpenCase(ctx, c, "rules"))
		wantCode(t, s.Complaints.CreateComplaint(ctx, &vigil.Complaint{Reference: fmt.Sprint(c.ID), Text: "x"}, "p"), vigil.ECONFLICT)
		wantCode(t, s.Complaints.CreateComplaint(ctx, &vigil.Complaint{Reference: fmt.Sprint(c.ID + 99), Text: "x"}, "p"), vigil.ENOTFOUND)
		wantCode(t, s.Complaints.CreateComplaint(ctx, &vigil.Complaint{Reference: "nonsense", Text: "x"}, "p"), vigil.EINVALID)
		wantCode(t, s.Complaints.CreateComplaint(ctx, &vigil.Complaint{Reference: fmt.Sprint(c.ID), Text: strings.Repeat("x", vigil.MaxComplaintTextLen+1)}, "p"), vigil.EINVALID)
		_, err := s.Complaints.FindComplaint(ctx, 12345)
		wantCode(t, err, vigil.ENOTFOUND)
	})

	t.Run("AboutAnAutomaticAction", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		plain := f.matchCase(clock, f.entries[0])
		must(t, s.Cases.OpenCase(ctx, plain, "rules"))
		wantCode(t, s.Complaints.CreateComplaint(ctx, &vigil.Complaint{Reference: fmt.Sprint(plain.ID), Text: "why"}, "key:3:platform"), vigil.ECONFLICT)

		c := f.matchCase(clock, f.entries[0])
		c.Content.UserID = "u2"
		must(t, s.Cases.OpenCase(ctx, c, "rule:block-known"))
		must(t, s.Notices.RecordAutoAction(ctx, &vigil.AutoAction{CaseID: c.ID, Rule: "block-known", Actions: []string{"block"}, TakenAt: clock.Now()}))
		before := stats(t, s, f.entries[0])
		k := &vigil.Complaint{Reference: "acme-case-" + fmt.Sprint(c.ID), UserID: "u2", Text: "my post was blocked by mistake"}
		must(t, s.Complaints.CreateComplaint(ctx, k, "key:3:platform"))
		if k.OriginalDecider != "" {
			t.Fatalf("undecided automatic action: original decider %q, want none", k.OriginalDecider)
		}
		// Nobody decided: any reviewer may judge it.
		got, err := s.Complaints.DecideComplaint(ctx, k.ID, vigil.ComplaintDecision{Upheld: true, Reasons: "a garden photo", DecidedBy: "key:1:alice"})
		must(t, err)
		if got.State != vigil.ComplaintUpheld {
			t.Fatalf("decided: %+v", got)
		}
		if after := stats(t, s, f.entries[0]); after.Confirmed != before.Confirmed || after.FalsePositives != before.FalsePositives {
			t.Fatalf("no verdict stood to move: entry stats %+v, before %+v", after, before)
		}
		clock.Advance(48 * time.Hour)
		ns, err := s.Notices.DueNotices(ctx, clock.Now(), time.Hour, 100)
		must(t, err)
		if len(ns) != 1 || ns[0].Kind != vigil.NoticeKindReversal || ns[0].Case.ID != c.ID {
			t.Fatalf("upheld complaint about an automatic action: %+v due, want its reversal only", ns)
		}
	})
}
