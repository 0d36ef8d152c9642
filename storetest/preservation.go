package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestPreservationService tests a vigil.PreservationService and how the
// case purge consults it: cases of incidents not yet purged and held
// cases keep their evidence, holds are created, extended, released and
// lapse, and an incident is purged only after its retention, never while
// held, with its audit record in the chain.
func TestPreservationService(t *testing.T, open Opener) {
	if open(t).Preservation == nil {
		t.Fatal("store has no preservation: every store keeps holds, none may skip the contract")
	}
	ctx := context.Background()
	day := 24 * time.Hour

	// confirmed opens and confirms a match case of user's upload, with
	// media, retained for a day.
	confirmed := func(t *testing.T, s Services, f *caseFixture, clock *Clock, user, media string) *vigil.Case {
		t.Helper()
		c := f.matchCase(clock, f.entries[0])
		c.Content.UserID, c.Content.MediaID = user, media
		must(t, s.Cases.OpenCase(ctx, c, "rules"))
		got, err := s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "r", DecidedAt: clock.Now()})
		must(t, err)
		return got
	}
	incident := func(t *testing.T, s Services, cases ...*vigil.Case) *vigil.Incident {
		t.Helper()
		inc, err := vigil.NewIncident(cases)
		must(t, err)
		must(t, s.Incidents.CreateIncident(ctx, inc, "key:1:curator"))
		return inc
	}
	// conversation opens and confirms a conversation case in which
	// suspect wrote to each of recipients.
	conversation := func(t *testing.T, s Services, clock *Clock, suspect string, recipients ...string) *vigil.Case {
		t.Helper()
		msgs := []vigil.CaseMessage{{Index: 0, Speaker: suspect, Text: "don't tell your parents we talk", Indicators: []string{"secrecy"}}}
		for i, r := range recipients {
			msgs = append(msgs, vigil.CaseMessage{Index: i + 1, Speaker: r, Text: "ok"})
		}
		c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindConversation, RetainUntil: clock.Now().Add(day),
			Conversation: &vigil.CaseConversation{ConversationID: "chat-" + suspect, Score: 0.9, Suspect: suspect, Messages: msgs}}
		must(t, s.Cases.OpenCase(ctx, c, "rules"))
		got, err := s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "r", DecidedAt: clock.Now()})
		must(t, err)
		return got
	}
	// sent approves inc and finishes a submission of it to NCMEC now.
	sent := func(t *testing.T, s Services, inc *vigil.Incident) {
		t.Helper()
		_, err := s.Incidents.ApproveIncident(ctx, inc.ID, "key:2:reviewer")
		must(t, err)
		sub := &vigil.Submission{IncidentID: inc.ID, Destination: "ncmec", CreatedBy: "key:2:reviewer"}
		must(t, s.Submissions.CreateSubmission(ctx, sub))
		_, err = s.Submissions.UpdateSubmission(ctx, sub.ID, func(sub *vigil.Submission) error {
			sub.State, sub.ReportID = vigil.SubmissionFinished, 43
			return nil
		})
		must(t, err)
	}
	// factsLeft returns which of users still have account facts.
	factsLeft := func(t *testing.T, s Services, users ...string) map[string]bool {
		t.Helper()
		left := map[string]bool{}
		for _, u := range users {
			_, err := s.Incidents.FindAccountFacts(ctx, u)
			if vigil.ErrorCode(err) == vigil.ENOTFOUND {
				continue
			}
			must(t, err)
			left[u] = true
		}
		return left
	}
	expiredIDs := func(t *testing.T, s Services) map[int64]string {
		t.Helper()
		expired, err := s.Cases.ExpiredCases(ctx, 100)
		must(t, err)
		ids := map[int64]string{}
		for _, c := range expired {
			ids[c.ID] = c.Content.MediaID
		}
		return ids
	}

	t.Run("CasePurgeConsultsPreservation", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		inDraft := confirmed(t, s, f, clock, "u1", "blob-shared")
		sibling := f.matchCase(clock, f.entries[0]) // the same upload, in another case
		sibling.Content.MediaID = "blob-shared"
		must(t, s.Cases.OpenCase(ctx, sibling, "rules"))
		held := f.matchCase(clock, f.entries[0])
		must(t, s.Cases.OpenCase(ctx, held, "rules"))
		plain := f.matchCase(clock, f.entries[0])
		must(t, s.Cases.OpenCase(ctx, plain, "rules"))
		incident(t, s, inDraft)
		h := &vigil.Hold{CaseID: held.ID, Reason: "preservation request ref 7", Until: clock.Now().Add(10 * day)}
		must(t, s.Preservation.CreateHold(ctx, h, "key:1:curator"))

		clock.Advance(2 * day) // every case's own retention (a day) is over
		got := expiredIDs(t, s)
		if _, ok := got[inDraft.ID]; ok {
			t.Errorf("case %d of an unsent incident is expired", inDraft.ID)
		}
		if _, ok := got[held.ID]; ok {
			t.Errorf("held case %d is expired", held.ID)
		}
		if _, ok := got[plain.ID]; !ok {
			t.Errorf("case %d past its retention is not expired: %v", plain.ID, got)
		}
		if media, ok := got[sibling.ID]; !ok || media != "" {
			t.Errorf("sibling case %d: expired %v with media %q; want expired without the blob the kept case holds", sibling.ID, ok, media)
		}
		wantCode(t, s.Cases.PurgeCase(ctx, inDraft.ID), vigil.ECONFLICT)
		wantCode(t, s.Cases.PurgeCase(ctx, held.ID), vigil.ECONFLICT)
		must(t, s.Cases.PurgeCase(ctx, plain.ID))
		if c, err := s.Cases.FindCase(ctx, inDraft.ID); err != nil || c.Content.MediaID != "blob-shared" || len(c.Matches) != 1 {
			t.Errorf("case of the incident after purge: %+v, %v", c, err)
		}

		// Released, the held case expires like any other.
		_, err := s.Preservation.ReleaseHold(ctx, h.ID, "proceedings closed", "key:1:curator")
		must(t, err)
		if _, ok := expiredIDs(t, s)[held.ID]; !ok {
			t.Errorf("released case %d is not expired", held.ID)
		}
		must(t, s.Cases.PurgeCase(ctx, held.ID))
		// Nothing is left to hold.
		wantCode(t, s.Preservation.CreateHold(ctx, &vigil.Hold{CaseID: held.ID, Reason: "late", Until: clock.Now().Add(day)}, "key:1:curator"), vigil.ECONFLICT)
	})

	t.Run("Holds", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		c := confirmed(t, s, f, clock, "u1", "")
		inc := incident(t, s, c)
		now := clock.Now()
		for _, bad := range []*vigil.Hold{
			{Reason: "x", Until: now.Add(day)},
			{IncidentID: inc.ID, CaseID: c.ID, Reason: "x", Until: now.Add(day)},
			{IncidentID: inc.ID, Reason: " ", Until: now.Add(day)},
			{IncidentID: inc.ID, Reason: "x", Until: now.Add(-time.Second)},
			{IncidentID: inc.ID, Reason: "x", Until: now.Add(vigil.MaxHoldPeriod + day)},
		} {
			wantCode(t, s.Preservation.CreateHold(ctx, bad, "key:1:curator"), vigil.EINVALID)
		}
		wantCode(t, s.Preservation.CreateHold(ctx, &vigil.Hold{IncidentID: inc.ID, Reason: "x", Until: now.Add(day)}, ""), vigil.EINVALID)
		wantCode(t, s.Preservation.CreateHold(ctx, &vigil.Hold{IncidentID: inc.ID + 99, Reason: "x", Until: now.Add(day)}, "a"), vigil.ENOTFOUND)

		h := &vigil.Hold{IncidentID: inc.ID, Reason: "court order 12/3", RequestedBy: "District Court", Until: now.Add(30 * day)}
		must(t, s.Preservation.CreateHold(ctx, h, "key:1:curator"))
		if h.ID == 0 || h.CreatedBy != "key:1:curator" || !h.CreatedAt.Equal(now) || !h.Active(now) {
			t.Fatalf("created hold %+v", h)
		}
		lapsing := &vigil.Hold{CaseID: c.ID, Reason: "short request", Until: now.Add(day)}
		must(t, s.Preservation.CreateHold(ctx, lapsing, "key:1:curator"))
		got, err := s.Preservation.FindHold(ctx, h.ID)
		must(t, err)
		if got.RequestedBy != "District Court" || got.Reason != h.Reason || !got.Until.Equal(h.Until) || got.IncidentID != inc.ID {
			t.Errorf("found hold %+v", got)
		}
		_, err = s.Preservation.FindHold(ctx, 999)
		wantCode(t, err, vigil.ENOTFOUND)

		clock.Advance(time.Hour)
		_, err = s.Preservation.ExtendHold(ctx, h.ID, h.Until.Add(-time.Hour), "key:1:curator")
		wantCode(t, err, vigil.EINVALID)
		ext, err := s.Preservation.ExtendHold(ctx, h.ID, h.Until.Add(60*day), "key:2:admin")
		must(t, err)
		if !ext.Until.Equal(h.Until.Add(60*day)) || !ext.UpdatedAt.Equal(clock.Now()) {
			t.Errorf("extended hold %+v", ext)
		}

		clock.Advance(2 * day) // the short hold lapses
		yes, no := true, false
		active, err := s.Preservation.ListHolds(ctx, vigil.HoldFilter{Active: &yes})
		must(t, err)
		if len(active) != 1 || active[0].ID != h.ID {
			t.Errorf("active holds %+v", active)
		}
		inactive, err := s.Preservation.ListHolds(ctx, vigil.HoldFilter{Active: &no})
		must(t, err)
		if len(inactive) != 1 || inactive[0].ID != lapsing.ID {
			t.Errorf("inactive holds %+v", inactive)
		}
		_, err = s.Preservation.ExtendHold(ctx, lapsing.ID, clock.Now().Add(day), "key:1:curator")
		wantCode(t, err, vigil.ECONFLICT)
		byCase, err := s.Preservation.ListHolds(ctx, vigil.HoldFilter{CaseID: c.ID})
		must(t, err)
		if len(byCase) != 1 || byCase[0].ID != lapsing.ID {
			t.Errorf("holds of case %d: %+v", c.ID, byCase)
		}
		page, err := s.Preservation.ListHolds(ctx, vigil.HoldFilter{AfterID: h.ID, Limit: 1})
		must(t, err)
		if len(page) != 1 || page[0].ID != lapsing.ID {
			t.Errorf("page after %d: %+v", h.ID, page)
		}

		_, err = s.Preservation.ReleaseHold(ctx, h.ID, "", "key:1:curator")
		wantCode(t, err, vigil.EINVALID)
		rel, err := s.Preservation.ReleaseHold(ctx, h.ID, "the court lifted the order", "key:1:curator")
		must(t, err)
		if rel.ReleasedAt == nil || !rel.ReleasedAt.Equal(clock.Now()) || rel.ReleasedBy != "key:1:curator" || rel.Active(clock.Now()) {
			t.Errorf("released hold %+v", rel)
		}
		_, err = s.Preservation.ReleaseHold(ctx, h.ID, "again", "key:1:curator")
		wantCode(t, err, vigil.ECONFLICT)
	})

	t.Run("IncidentRetention", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		policy := vigil.RetentionPolicy{Destinations: map[string]int{"eu": 6}}

		sent := confirmed(t, s, f, clock, "u1", "blob-sent")
		unsent := confirmed(t, s, f, clock, "u2", "blob-unsent")
		euCase := confirmed(t, s, f, clock, "u3", "")
		pendingCase := confirmed(t, s, f, clock, "u4", "")
		incSent, incUnsent, incEU, incPending := incident(t, s, sent), incident(t, s, unsent), incident(t, s, euCase), incident(t, s, pendingCase)
		for _, inc := range []*vigil.Incident{incSent, incEU, incPending} {
			_, err := s.Incidents.ApproveIncident(ctx, inc.ID, "key:2:reviewer")
			must(t, err)
		}
		finish := func(inc *vigil.Incident, dest string) *vigil.Submission {
			t.Helper()
			sub := &vigil.Submission{IncidentID: inc.ID, Destination: dest, CreatedBy: "key:2:reviewer"}
			must(t, s.Submissions.CreateSubmission(ctx, sub))
			code := 0
			got, err := s.Submissions.UpdateSubmission(ctx, sub.ID, func(sub *vigil.Submission) error {
				sub.State, sub.ReportID = vigil.SubmissionFinished, 42
				sub.Files = []vigil.SubmissionFile{{CaseID: inc.CaseIDs[0], FileID: "0123456789abcdef0123456789abcdef"}}
				sub.Attempts = []vigil.SubmissionAttempt{{Step: "finish", Started: clock.Now(), Replied: true, ResponseCode: &code, Reply: "<reportDoneResponse/>"}}
				return nil
			})
			must(t, err)
			return got
		}
		submittedAt := clock.Now()
		sub := finish(incSent, "ncmec")
		finish(incEU, "eu")
		pending := &vigil.Submission{IncidentID: incPending.ID, Destination: "ncmec", CreatedBy: "key:2:reviewer"}
		must(t, s.Submissions.CreateSubmission(ctx, pending))

		expiredIncidents := func() []int64 {
			t.Helper()
			list, err := s.Preservation.ExpiredIncidents(ctx, policy, 100)
			must(t, err)
			var ids []int64
			for _, inc := range list {
				ids = append(ids, inc.ID)
			}
			return ids
		}
		if got := expiredIncidents(); len(got) != 0 {
			t.Errorf("expired on the day of submission: %v", got)
		}
		// Six months on, the EU's period is over, NCMEC's is not.
		clock.Advance(submittedAt.AddDate(0, 6, 0).Sub(clock.Now()))
		if got := expiredIncidents(); len(got) != 1 || got[0] != incEU.ID {
			t.Errorf("expired after 6 months: %v, want [%d]", got, incEU.ID)
		}
		// A second before twelve months: nothing is purged early.
		clock.Advance(submittedAt.AddDate(0, 12, 0).Sub(clock.Now()) - time.Second)
		wantCode(t, s.Preservation.PurgeIncident(ctx, incSent.ID, policy), vigil.ECONFLICT)
		hold := &vigil.Hold{CaseID: sent.ID, Reason: "law enforcement request", Until: clock.Now().Add(30 * day)}
		must(t, s.Preservation.CreateHold(ctx, hold, "key:1:curator"))

		clock.Advance(2 * day)
		if got := expiredIncidents(); len(got) != 1 || got[0] != incEU.ID {
			t.Errorf("expired with the held case: %v, want only [%d]", got, incEU.ID)
		}
		wantCode(t, s.Preservation.PurgeIncident(ctx, incSent.ID, policy), vigil.ECONFLICT)
		wantCode(t, s.Preservation.PurgeIncident(ctx, incUnsent.ID, policy), vigil.ECONFLICT)
		wantCode(t, s.Preservation.PurgeIncident(ctx, incPending.ID, policy), vigil.ECONFLICT)
		if _, ok := expiredIDs(t, s)[sent.ID]; ok {
			t.Errorf("case %d of a held incident is expired", sent.ID)
		}

		_, err := s.Preservation.ReleaseHold(ctx, hold.ID, "request withdrawn", "key:1:curator")
		must(t, err)
		if got := expiredIncidents(); len(got) != 2 || got[0] != incSent.ID || got[1] != incEU.ID {
			t.Fatalf("expired after release: %v, want [%d %d]", got, incSent.ID, incEU.ID)
		}
		if one, err := s.Preservation.ExpiredIncidents(ctx, policy, 1); err != nil || len(one) != 1 {
			t.Errorf("limit 1: %d, %v", len(one), err)
		}
		for _, u := range []string{"u1", "u2", "u3"} {
			_, err := s.Incidents.AddAccountFacts(ctx, &vigil.AccountFacts{UserID: u, ScreenName: "sun-" + u})
			must(t, err)
		}
		rec := &vigil.AuditRecord{Actor: "vigil", Action: vigil.AuditIncidentPurge, Target: vigil.IncidentAuditTarget(incSent.ID)}
		must(t, s.Preservation.PurgeIncident(vigil.WithAudit(ctx, rec), incSent.ID, policy))
		if rec.Seq == 0 || rec.Detail == "" {
			t.Errorf("purge's audit record %+v", rec)
		}
		wantCode(t, s.Preservation.PurgeIncident(ctx, incSent.ID, policy), vigil.ECONFLICT)

		got, err := s.Incidents.FindIncident(ctx, incSent.ID)
		must(t, err)
		if got.PurgedAt == nil || !got.PurgedAt.Equal(clock.Now()) || len(got.Files) != 0 || got.ReportedUser != "" ||
			len(got.CaseIDs) != 1 || got.CaseIDs[0] != sent.ID || got.State != vigil.IncidentApproved {
			t.Errorf("purged incident %+v", got)
		}
		left, err := s.Submissions.FindSubmission(ctx, sub.ID)
		must(t, err)
		if left.ReportID != 42 || left.State != vigil.SubmissionFinished || len(left.Attempts) != 0 || len(left.Files) != 0 {
			t.Errorf("submission of a purged incident %+v", left)
		}
		// The reported user's facts went with the incident; another
		// user's stay.
		_, err = s.Incidents.FindAccountFacts(ctx, "u1")
		wantCode(t, err, vigil.ENOTFOUND)
		_, err = s.Incidents.FindAccountFacts(ctx, "u2")
		must(t, err)
		// A user with another incident still kept keeps their facts.
		incident(t, s, confirmed(t, s, f, clock, "u3", ""))
		must(t, s.Preservation.PurgeIncident(ctx, incEU.ID, policy))
		_, err = s.Incidents.FindAccountFacts(ctx, "u3")
		must(t, err)
		wantCode(t, s.Submissions.CreateSubmission(ctx, &vigil.Submission{IncidentID: incSent.ID, Destination: "eu", CreatedBy: "a"}), vigil.ECONFLICT)
		wantCode(t, s.Preservation.CreateHold(ctx, &vigil.Hold{IncidentID: incSent.ID, Reason: "late", Until: clock.Now().Add(day)}, "a"), vigil.ECONFLICT)
		if got := expiredIncidents(); len(got) != 0 {
			t.Errorf("expired after the purges: %v", got)
		}

		// The purged incident's case now follows its own retention; the
		// unsent incident's case keeps its media.
		ids := expiredIDs(t, s)
		if media, ok := ids[sent.ID]; !ok || media != "blob-sent" {
			t.Errorf("case %d of the purged incident: expired %v, media %q", sent.ID, ok, media)
		}
		if _, ok := ids[unsent.ID]; ok {
			t.Errorf("case %d of the unsent incident is expired", unsent.ID)
		}
		if n, brk, err := s.Audit.VerifyAudit(ctx); err != nil || brk != nil || n == 0 {
			t.Errorf("audit chain after purge: %d records, break %+v, %v", n, brk, err)
		}
	})

	t.Run("PurgeTakesEveryUsersFacts", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		newCaseFixture(t, s, 1)
		users := []string{"sus", "kid-a", "kid-b", "kid-v", "kid-edited-out", "sus-2", "bystander"}
		for _, u := range users {
			_, err := s.Incidents.AddAccountFacts(ctx, &vigil.AccountFacts{UserID: u, ScreenName: "name-" + u})
			must(t, err)
		}
		// The purged incident names its suspect, two intended recipients
		// and a victim the reviewer added; kid-b is also an intended
		// recipient in another incident, still kept; the reviewer took
		// kid-edited-out off the incident before approval.
		purged := incident(t, s, conversation(t, s, clock, "sus", "kid-a", "kid-b", "kid-edited-out"))
		_, err := s.Incidents.UpdateIncident(ctx, purged.ID, vigil.IncidentEdit{
			Victims:    &[]string{"kid-v"},
			Recipients: []vigil.IncidentRecipientEdit{{CaseID: purged.CaseIDs[0], Recipients: []string{"kid-a", "kid-b"}}},
		})
		must(t, err)
		incident(t, s, conversation(t, s, clock, "sus-2", "kid-b"))
		sent(t, s, purged)

		clock.Advance(13 * 31 * day)
		rec := &vigil.AuditRecord{Actor: "vigil", Action: vigil.AuditIncidentPurge, Target: vigil.IncidentAuditTarget(purged.ID)}
		must(t, s.Preservation.PurgeIncident(vigil.WithAudit(ctx, rec), purged.ID, vigil.RetentionPolicy{}))
		left := factsLeft(t, s, users...)
		for _, gone := range []string{"sus", "kid-a", "kid-v"} {
			if left[gone] {
				t.Errorf("account facts of %s, named only by the purged incident, are kept", gone)
			}
		}
		for _, kept := range []string{"kid-b", "sus-2", "bystander", "kid-edited-out"} {
			if !left[kept] {
				t.Errorf("account facts of %s were deleted; another incident names them, or the purged one does not", kept)
			}
		}
		if rec.Seq == 0 || !strings.Contains(rec.Detail, `"account_facts_deleted":3`) {
			t.Errorf("purge's audit record %+v, want the 3 deleted users' facts counted", rec)
		}
		if n, brk, err := s.Audit.VerifyAudit(ctx); err != nil || brk != nil || n == 0 {
			t.Errorf("audit chain after purge: %d records, break %+v, %v", n, brk, err)
		}
	})

	t.Run("StaleDrafts", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 1)
		policy := vigil.RetentionPolicy{Drafts: 30 * day}
		stale := incident(t, s, conversation(t, s, clock, "sus", "kid-a"))
		edited := incident(t, s, confirmed(t, s, f, clock, "u-edited", ""))
		held := incident(t, s, confirmed(t, s, f, clock, "u-held", ""))
		heldCase := confirmed(t, s, f, clock, "u-held-case", "")
		heldByCase := incident(t, s, heldCase)
		approvedUnsent := incident(t, s, confirmed(t, s, f, clock, "u-approved", ""))
		_, err := s.Incidents.ApproveIncident(ctx, approvedUnsent.ID, "key:2:reviewer")
		must(t, err)
		for _, u := range []string{"sus", "kid-a", "u-held"} {
			_, err := s.Incidents.AddAccountFacts(ctx, &vigil.AccountFacts{UserID: u, ScreenName: "name-" + u})
			must(t, err)
		}
		must(t, s.Preservation.CreateHold(ctx, &vigil.Hold{IncidentID: held.ID, Reason: "police request 9", Until: clock.Now().Add(90 * day)}, "key:1:curator"))
		must(t, s.Preservation.CreateHold(ctx, &vigil.Hold{CaseID: heldCase.ID, Reason: "police request 10", Until: clock.Now().Add(90 * day)}, "key:1:curator"))
		staleIDs := func() []int64 {
			t.Helper()
			list, err := s.Preservation.StaleDrafts(ctx, policy, 100)
			must(t, err)
			var ids []int64
			for _, inc := range list {
				ids = append(ids, inc.ID)
			}
			return ids
		}

		// A second before the lifetime ends nothing goes; a reviewer
		// editing a draft starts its lifetime again.
		clock.Advance(20 * day)
		_, err = s.Incidents.UpdateIncident(ctx, edited.ID, vigil.IncidentEdit{Notes: ptr("waiting for the platform's account facts")})
		must(t, err)
		clock.Advance(10*day - time.Second)
		if got := staleIDs(); len(got) != 0 {
			t.Errorf("stale before their lifetime: %v", got)
		}
		wantCode(t, s.Preservation.DiscardDraft(ctx, stale.ID, policy), vigil.ECONFLICT)

		clock.Advance(time.Second)
		if got := staleIDs(); len(got) != 1 || got[0] != stale.ID {
			t.Fatalf("stale after 30 days: %v, want [%d] (held, edited and approved drafts stay)", got, stale.ID)
		}
		for _, kept := range []*vigil.Incident{edited, held, heldByCase, approvedUnsent} {
			wantCode(t, s.Preservation.DiscardDraft(ctx, kept.ID, policy), vigil.ECONFLICT)
		}
		rec := &vigil.AuditRecord{Actor: "vigil", Action: vigil.AuditIncidentDiscard, Target: vigil.IncidentAuditTarget(stale.ID)}
		must(t, s.Preservation.DiscardDraft(vigil.WithAudit(ctx, rec), stale.ID, policy))
		if rec.Seq == 0 || !strings.Contains(rec.Detail, `"account_facts_deleted":2`) {
			t.Errorf("discard's audit record %+v", rec)
		}
		wantCode(t, s.Preservation.DiscardDraft(ctx, stale.ID, policy), vigil.ECONFLICT)
		got, err := s.Incidents.FindIncident(ctx, stale.ID)
		must(t, err)
		if got.PurgedAt == nil || got.State != vigil.IncidentDraft || len(got.Conversations) != 0 || got.ReportedUser != "" {
			t.Errorf("discarded draft %+v", got)
		}
		if left := factsLeft(t, s, "sus", "kid-a", "u-held"); left["sus"] || left["kid-a"] || !left["u-held"] {
			t.Errorf("account facts left after the discard: %v, want only u-held's", left)
		}
		// Its case was never reported: it may be in another incident, and
		// its own retention applies again.
		again, err := vigil.NewIncident([]*vigil.Case{mustFindCase(t, s, stale.CaseIDs[0])})
		must(t, err)
		must(t, s.Incidents.CreateIncident(ctx, again, "key:1:curator"))

		// Held drafts go once the hold lapses; the approved one never.
		clock.Advance(91 * day)
		if got := staleIDs(); len(got) != 4 || got[0] != edited.ID || got[1] != held.ID || got[2] != heldByCase.ID || got[3] != again.ID {
			t.Errorf("stale after the holds lapsed: %v, want [%d %d %d %d]", got, edited.ID, held.ID, heldByCase.ID, again.ID)
		}
		if one, err := s.Preservation.StaleDrafts(ctx, policy, 1); err != nil || len(one) != 1 {
			t.Errorf("limit 1: %d, %v", len(one), err)
		}
		if n, brk, err := s.Audit.VerifyAudit(ctx); err != nil || brk != nil || n == 0 {
			t.Errorf("audit chain after discarding: %d records, break %+v, %v", n, brk, err)
		}
	})
}

func mustFindCase(t *testing.T, s Services, id int64) *vigil.Case {
	t.Helper()
	c, err := s.Cases.FindCase(context.Background(), id)
	must(t, err)
	return c
}
