package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestIncidentService tests a vigil.IncidentService: incidents built from
// confirmed cases, each case reported once, edits only of drafts, approval,
// and merged account facts.
func TestIncidentService(t *testing.T, open Opener) {
	if open(t).Incidents == nil {
		t.Fatal("store has no incidents: every store keeps them, none may skip the contract")
	}
	ctx := context.Background()

	// confirmed opens and confirms a match case of user's upload.
	confirmed := func(t *testing.T, s Services, f *caseFixture, clock *Clock, user, category string) *vigil.Case {
		t.Helper()
		c := f.matchCase(clock, f.entries[0])
		c.Content.UserID = user
		must(t, s.Cases.OpenCase(ctx, c, "rules"))
		got, err := s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, Category: category, DecidedBy: "r", DecidedAt: clock.Now()})
		must(t, err)
		return got
	}

	t.Run("UnreportedCases", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		reported := confirmed(t, s, f, clock, "user-1", "A1")
		waiting := confirmed(t, s, f, clock, "user-2", "")
		open := f.matchCase(clock, f.entries[0])
		must(t, s.Cases.OpenCase(ctx, open, "rules"))
		wrong := f.matchCase(clock, f.entries[0])
		must(t, s.Cases.OpenCase(ctx, wrong, "rules"))
		_, err := s.Cases.DecideCase(ctx, wrong.ID, vigil.Decision{Verdict: vigil.VerdictFalsePositive, DecidedBy: "r", DecidedAt: clock.Now()})
		must(t, err)
		later := confirmed(t, s, f, clock, "user-3", "")
		inc, err := vigil.NewIncident([]*vigil.Case{reported})
		must(t, err)
		must(t, s.Incidents.CreateIncident(ctx, inc, "key:1:curator"))

		ids := func(after int64, limit int) []int64 {
			t.Helper()
			list, err := s.Incidents.UnreportedCases(ctx, after, limit)
			must(t, err)
			var out []int64
			for _, c := range list {
				out = append(out, c.ID)
			}
			return out
		}
		// Confirmed and in no incident: what is still to be reported.
		if got := ids(0, 0); len(got) != 2 || got[0] != waiting.ID || got[1] != later.ID {
			t.Errorf("unreported %v, want [%d %d]", got, waiting.ID, later.ID)
		}
		if got := ids(waiting.ID, 1); len(got) != 1 || got[0] != later.ID {
			t.Errorf("page after %d: %v", waiting.ID, got)
		}
	})

	t.Run("CreateEditApprove", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		c1 := confirmed(t, s, f, clock, "user-1", "A1")
		clock.Advance(time.Minute)
		c2 := confirmed(t, s, f, clock, "user-1", "")
		inc, err := vigil.NewIncident([]*vigil.Case{c2, c1})
		must(t, err)
		must(t, s.Incidents.CreateIncident(ctx, inc, "key:1:curator"))
		if inc.ID == 0 || inc.State != vigil.IncidentDraft || inc.CreatedBy != "key:1:curator" || !inc.CreatedAt.Equal(clock.Now()) {
			t.Fatalf("created incident not filled in: %+v", inc)
		}
		got, err := s.Incidents.FindIncident(ctx, inc.ID)
		must(t, err)
		if got.ReportedUser != "user-1" || len(got.Files) != 2 || got.Files[1].Classification != "A1" && got.Files[0].Classification != "A1" ||
			len(got.CaseIDs) != 2 || got.CaseIDs[0] != c1.ID || len(got.Files[0].Matches) != 1 || got.Files[0].Matches[0].Source != "test" {
			t.Errorf("found incident %+v", got)
		}

		// A case is reported once.
		again, err := vigil.NewIncident([]*vigil.Case{c1})
		must(t, err)
		wantCode(t, s.Incidents.CreateIncident(ctx, again, "key:1:curator"), vigil.ECONFLICT)

		urgent := "ongoing"
		ed, err := s.Incidents.UpdateIncident(ctx, inc.ID, vigil.IncidentEdit{
			Urgent: &urgent, Sextortion: ptr(true),
			Files: []vigil.IncidentFileEdit{{CaseID: c2.ID, Classification: ptr("b2"), Annotations: &[]string{"generativeAi"}}},
		})
		must(t, err)
		if ed.Urgent != "ongoing" || !ed.Sextortion {
			t.Errorf("edited incident %+v", ed)
		}
		_, err = s.Incidents.UpdateIncident(ctx, inc.ID, vigil.IncidentEdit{Files: []vigil.IncidentFileEdit{{CaseID: c2.ID, Classification: ptr("C3")}}})
		wantCode(t, err, vigil.EINVALID)
		got, err = s.Incidents.FindIncident(ctx, inc.ID)
		must(t, err)
		for _, fl := range got.Files {
			if fl.CaseID == c2.ID && (fl.Classification != "B2" || len(fl.Annotations) != 1) {
				t.Errorf("file of case %d after edit: %+v", c2.ID, fl)
			}
		}

		clock.Advance(time.Minute)
		ap, err := s.Incidents.ApproveIncident(ctx, inc.ID, "key:2:reviewer")
		must(t, err)
		if ap.State != vigil.IncidentApproved || ap.ApprovedBy != "key:2:reviewer" || ap.ApprovedAt == nil || !ap.ApprovedAt.Equal(clock.Now()) {
			t.Errorf("approved incident %+v", ap)
		}
		_, err = s.Incidents.ApproveIncident(ctx, inc.ID, "key:2:reviewer")
		wantCode(t, err, vigil.ECONFLICT)
		// What was approved is what is sent: no edits after approval.
		_, err = s.Incidents.UpdateIncident(ctx, inc.ID, vigil.IncidentEdit{Urgent: &urgent})
		wantCode(t, err, vigil.ECONFLICT)

		list, err := s.Incidents.ListIncidents(ctx, vigil.IncidentFilter{States: []vigil.IncidentState{vigil.IncidentApproved}})
		must(t, err)
		if len(list) != 1 || list[0].ID != inc.ID {
			t.Errorf("approved incidents %v", list)
		}
		list, err = s.Incidents.ListIncidents(ctx, vigil.IncidentFilter{States: []vigil.IncidentState{vigil.IncidentDraft}})
		must(t, err)
		if len(list) != 0 {
			t.Errorf("draft incidents %v, want none", list)
		}
		_, err = s.Incidents.FindIncident(ctx, inc.ID+100)
		wantCode(t, err, vigil.ENOTFOUND)
	})

	t.Run("OnlyConfirmedCases", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		c := f.matchCase(clock, f.entries[0])
		c.Content.UserID = "u"
		must(t, s.Cases.OpenCase(ctx, c, "rules"))
		// Built from a stale copy that says confirmed: the store checks.
		c.Decision = &vigil.Decision{Verdict: vigil.VerdictConfirmed}
		inc, err := vigil.NewIncident([]*vigil.Case{c})
		must(t, err)
		wantCode(t, s.Incidents.CreateIncident(ctx, inc, "a"), vigil.ECONFLICT)
	})

	t.Run("ConcurrentCreateReportsOnce", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		c := confirmed(t, s, f, clock, "u", "")
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				inc, err := vigil.NewIncident([]*vigil.Case{c})
				if err == nil {
					err = s.Incidents.CreateIncident(ctx, inc, "a")
				}
				errs[i] = err
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if vigil.ErrorCode(err) != vigil.ECONFLICT {
				t.Errorf("create: %v", err)
			}
		}
		if ok != 1 {
			t.Errorf("%d incidents from one case, want 1", ok)
		}
	})

	t.Run("AccountFacts", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		_, err := s.Incidents.FindAccountFacts(ctx, "u")
		wantCode(t, err, vigil.ENOTFOUND)
		at := clock.Now().Add(-time.Hour)
		_, err = s.Incidents.AddAccountFacts(ctx, &vigil.AccountFacts{UserID: "u", ScreenName: "sn",
			IPs: []vigil.IPEvent{{IP: "192.0.2.1", Event: "Login", Time: at}}})
		must(t, err)
		got, err := s.Incidents.AddAccountFacts(ctx, &vigil.AccountFacts{UserID: "u",
			IPs:      []vigil.IPEvent{{IP: "192.0.2.1", Event: "Login", Time: at}, {IP: "198.51.100.7", Event: "Upload", Port: 4444}},
			Disabled: &vigil.AccountDisabled{Permanent: true, At: at}})
		must(t, err)
		if got.ScreenName != "sn" || len(got.IPs) != 2 || got.Disabled == nil || !got.Disabled.Permanent {
			t.Errorf("merged facts %+v", got)
		}
		found, err := s.Incidents.FindAccountFacts(ctx, "u")
		must(t, err)
		if len(found.IPs) != 2 || !found.IPs[0].Time.Equal(at) {
			t.Errorf("found facts %+v", found)
		}
		_, err = s.Incidents.AddAccountFacts(ctx, &vigil.AccountFacts{UserID: "u", IPs: []vigil.IPEvent{{IP: "192.0.2.9", Event: "Hover"}}})
		wantCode(t, err, vigil.EINVALID)
	})
}

// TestSubmissionService tests a vigil.SubmissionService: only approved
// incidents, one live submission per incident and destination, updates in
// one transaction.
func TestSubmissionService(t *testing.T, open Opener) {
	if open(t).Submissions == nil {
		t.Fatal("store has no submissions: every store keeps them, none may skip the contract")
	}
	ctx := context.Background()
	s, clock := openWithClock(t, open)
	f := newCaseFixture(t, s, 1)
	c := f.matchCase(clock, f.entries[0])
	c.Content.UserID = "u"
	must(t, s.Cases.OpenCase(ctx, c, "rules"))
	c, err := s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "r", DecidedAt: clock.Now()})
	must(t, err)
	inc, err := vigil.NewIncident([]*vigil.Case{c})
	must(t, err)
	must(t, s.Incidents.CreateIncident(ctx, inc, "r"))

	wantCode(t, s.Submissions.CreateSubmission(ctx, &vigil.Submission{IncidentID: inc.ID, Destination: "ncmec", CreatedBy: "a"}), vigil.ECONFLICT)
	_, err = s.Incidents.ApproveIncident(ctx, inc.ID, "r2")
	must(t, err)
	sub := &vigil.Submission{IncidentID: inc.ID, Destination: "ncmec", CreatedBy: "a"}
	must(t, s.Submissions.CreateSubmission(ctx, sub))
	if sub.ID == 0 || sub.State != vigil.SubmissionPending || !sub.CreatedAt.Equal(clock.Now()) {
		t.Fatalf("created %+v", sub)
	}
	wantCode(t, s.Submissions.CreateSubmission(ctx, &vigil.Submission{IncidentID: inc.ID, Destination: "ncmec", CreatedBy: "a"}), vigil.ECONFLICT)
	wantCode(t, s.Submissions.CreateSubmission(ctx, &vigil.Submission{IncidentID: inc.ID + 1, Destination: "ncmec", CreatedBy: "a"}), vigil.ENOTFOUND)

	code := 0
	clock.Advance(time.Second)
	got, err := s.Submissions.UpdateSubmission(ctx, sub.ID, func(sub *vigil.Submission) error {
		sub.State, sub.ReportID = vigil.SubmissionSubmitted, 42
		sub.Attempts = append(sub.Attempts, vigil.SubmissionAttempt{Step: "submit", Started: clock.Now(), Replied: true, ResponseCode: &code})
		return nil
	})
	must(t, err)
	if got.ReportID != 42 || !got.UpdatedAt.Equal(clock.Now()) {
		t.Errorf("updated %+v", got)
	}
	_, err = s.Submissions.UpdateSubmission(ctx, sub.ID, func(sub *vigil.Submission) error {
		sub.ReportID = 7
		return vigil.Errorf(vigil.EINVALID, "no")
	})
	wantCode(t, err, vigil.EINVALID)
	found, err := s.Submissions.FindSubmission(ctx, sub.ID)
	must(t, err)
	if found.ReportID != 42 || len(found.Attempts) != 1 || *found.Attempts[0].ResponseCode != 0 {
		t.Errorf("found %+v", found)
	}
	// A failed submission may be followed by another.
	_, err = s.Submissions.UpdateSubmission(ctx, sub.ID, func(sub *vigil.Submission) error { sub.State = vigil.SubmissionFailed; return nil })
	must(t, err)
	must(t, s.Submissions.CreateSubmission(ctx, &vigil.Submission{IncidentID: inc.ID, Destination: "ncmec", CreatedBy: "a"}))
	list, err := s.Submissions.IncidentSubmissions(ctx, inc.ID)
	must(t, err)
	if len(list) != 2 || list[0].ID != sub.ID {
		t.Errorf("submissions %+v", list)
	}
	_, err = s.Submissions.FindSubmission(ctx, 999)
	wantCode(t, err, vigil.ENOTFOUND)

	// Other destinations beside it, one live submission each, with what
	// they keep: the DSA receipts, the webhook's idempotency key.
	dsa := &vigil.Submission{IncidentID: inc.ID, Destination: "dsa", CreatedBy: "a"}
	must(t, s.Submissions.CreateSubmission(ctx, dsa))
	hook := &vigil.Submission{IncidentID: inc.ID, Destination: "webhook", CreatedBy: "a", IdempotencyKey: "vigil-0123"}
	must(t, s.Submissions.CreateSubmission(ctx, hook))
	wantCode(t, s.Submissions.CreateSubmission(ctx, &vigil.Submission{IncidentID: inc.ID, Destination: "dsa", CreatedBy: "a"}), vigil.ECONFLICT)
	_, err = s.Submissions.UpdateSubmission(ctx, dsa.ID, func(sub *vigil.Submission) error {
		sub.Statements = append(sub.Statements, vigil.SubmissionStatement{CaseID: 1, PUID: "p-1", UUID: "u-1", Permalink: "https://db.example/u-1"},
			vigil.SubmissionStatement{CaseID: 2, PUID: "p-2", Existing: true})
		return nil
	})
	must(t, err)
	if found, err = s.Submissions.FindSubmission(ctx, dsa.ID); err != nil || len(found.Statements) != 2 || found.Statements[0].UUID != "u-1" || !found.Statements[1].Existing {
		t.Errorf("dsa submission %+v %v", found, err)
	}
	if found, err = s.Submissions.FindSubmission(ctx, hook.ID); err != nil || found.IdempotencyKey != "vigil-0123" || found.Destination != "webhook" {
		t.Errorf("webhook submission %+v %v", found, err)
	}
}
