package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestTransparencyService tests a vigil.TransparencyService against a
// period with known figures: what falls outside the period is left out,
// rates count each case once per bank and source, an upheld complaint
// counts its case as a false positive, durations are nearest-rank
// percentiles.
func TestTransparencyService(t *testing.T, open Opener) {
	if open(t).Transparency == nil {
		t.Fatal("store has no transparency figures: every store computes them, none may skip the contract")
	}
	ctx := context.Background()
	s, clock := openWithClock(t, open)
	must(t, s.Cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}))
	b1, b2 := createBank(t, s, "b1"), createBank(t, s, "b2")
	e1 := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(1), Source: "ncmec"}
	e2 := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(2), Source: "own"}
	_, err := s.Entries.AddEntries(ctx, b1.ID, "curator", []*vigil.Entry{e1})
	must(t, err)
	_, err = s.Entries.AddEntries(ctx, b2.ID, "curator", []*vigil.Entry{e2})
	must(t, err)

	n := 0
	open1 := func(kind string, entries ...*vigil.Entry) *vigil.Case {
		t.Helper()
		n++
		c := &vigil.Case{Queue: "q", Kind: kind, RetainUntil: clock.Now().Add(90 * 24 * time.Hour),
			Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", n), UserID: "u1"}}
		for _, e := range entries {
			bank := "b1"
			if e == e2 {
				bank = "b2"
			}
			c.Matches = append(c.Matches, vigil.Match{BankID: e.BankID, Bank: bank, EntryID: e.ID, SignalType: e.SignalType, Value: e.Value, Source: e.Source})
		}
		if kind == vigil.CaseKindConversation {
			c.Content = vigil.ContentRef{}
			c.Conversation = &vigil.CaseConversation{ConversationID: fmt.Sprint("chat-", n), Suspect: "u9", Messages: []vigil.CaseMessage{
				{Index: 0, Speaker: "u9", Text: "keep this between us", Indicators: []string{"secrecy"}}}}
		}
		must(t, s.Cases.OpenCase(ctx, c, "rules"))
		return c
	}
	decide := func(c *vigil.Case, v vigil.Verdict, after time.Duration) *vigil.Case {
		t.Helper()
		saved := clock.Now()
		clock.Advance(after)
		got, err := s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: v, DecidedBy: "key:1:alice"})
		must(t, err)
		clock.Advance(-after)
		if !clock.Now().Equal(saved) {
			t.Fatal("clock")
		}
		return got
	}

	// Before the period: counted nowhere.
	must(t, s.Transparency.CountChecked(ctx, clock.Now(), map[string]int64{"image": 100}))
	day := func(at time.Time) string { return at.UTC().Format(vigil.LookupDayLayout) }
	if s.Lookups != nil {
		_, err := s.Lookups.AddLookups(ctx, []vigil.LookupCount{{KeyID: 3, Day: day(clock.Now()), Lookups: 1000}})
		must(t, err)
	}
	old := open1(vigil.CaseKindMatch, e1)
	decide(old, vigil.VerdictConfirmed, time.Hour)
	clock.Advance(48 * time.Hour)
	from := clock.Now().Add(-time.Hour)

	must(t, s.Transparency.CountChecked(ctx, clock.Now(), map[string]int64{"image": 5, "text": 2}))
	if s.Lookups != nil {
		_, err := s.Lookups.AddLookups(ctx, []vigil.LookupCount{{KeyID: 3, Day: day(clock.Now()), Lookups: 7}, {KeyID: 12, Day: day(clock.Now()), Lookups: 2}})
		must(t, err)
		_, err = s.Lookups.AddLookups(ctx, []vigil.LookupCount{{KeyID: 3, Day: day(clock.Now()), Lookups: 1}})
		must(t, err)
	}
	must(t, s.Transparency.CountChecked(ctx, clock.Now(), map[string]int64{"image": 1}))
	c1, c2, c3 := open1(vigil.CaseKindMatch, e1), open1(vigil.CaseKindMatch, e1), open1(vigil.CaseKindMatch, e1, e2)
	conv := open1(vigil.CaseKindConversation)
	open1(vigil.CaseKindMatch, e1) // waiting
	decide(c1, vigil.VerdictConfirmed, time.Hour)
	decide(c2, vigil.VerdictFalsePositive, 3*time.Hour)
	c3 = decide(c3, vigil.VerdictConfirmed, 2*time.Hour)
	decide(conv, vigil.VerdictConfirmed, 5*time.Hour)
	clock.Advance(6 * time.Hour)
	must(t, s.Cases.QuarantineEntry(ctx, e2.ID, "curator: wrong"))

	// c1's confirmation is overturned on complaint.
	k := &vigil.Complaint{Reference: fmt.Sprint(c1.ID), Text: "wrong"}
	must(t, s.Complaints.CreateComplaint(ctx, k, "key:3:platform"))
	_, err = s.Complaints.DecideComplaint(ctx, k.ID, vigil.ComplaintDecision{Upheld: true, Reasons: "r", DecidedBy: "key:2:bob"})
	must(t, err)
	must(t, s.Complaints.CreateComplaint(ctx, &vigil.Complaint{Reference: fmt.Sprint(c3.ID), Text: "also wrong"}, "key:3:platform"))

	// c3 is reported 10h after it opened.
	inc, err := vigil.NewIncident([]*vigil.Case{c3})
	must(t, err)
	must(t, s.Incidents.CreateIncident(ctx, inc, "key:1:curator"))
	_, err = s.Incidents.ApproveIncident(ctx, inc.ID, "key:2:reviewer")
	must(t, err)
	sub := &vigil.Submission{IncidentID: inc.ID, Destination: "ncmec", CreatedBy: "key:2:reviewer"}
	must(t, s.Submissions.CreateSubmission(ctx, sub))
	clock.Advance(4 * time.Hour)
	_, err = s.Submissions.UpdateSubmission(ctx, sub.ID, func(sub *vigil.Submission) error {
		sub.State, sub.ReportID = vigil.SubmissionFinished, 7
		return nil
	})
	must(t, err)
	to := clock.Now().Add(time.Hour)

	got, err := s.Transparency.Transparency(ctx, from, to)
	must(t, err)
	check := func(what string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %+v, want %+v", what, got, want)
		}
	}
	check("items checked", got.ItemsChecked, []vigil.Count{{Name: "image", N: 6}, {Name: "text", N: 2}})
	if s.Lookups != nil {
		// Key 3's 1,000 of two days before the period are left out.
		check("hosted lookups", got.HostedLookups, []vigil.Count{{Name: "key:3", N: 8}, {Name: "key:12", N: 2}})
	}
	check("matches by bank", got.MatchesByBank, []vigil.Count{{Name: "b1", N: 4}, {Name: "b2", N: 1}})
	check("matches by source", got.MatchesBySource, []vigil.Count{{Name: "ncmec", N: 4}, {Name: "own", N: 1}})
	check("cases opened", got.CasesOpened, []vigil.Count{{Name: "conversation", N: 1}, {Name: "match", N: 4}})
	check("cases decided", got.CasesDecided, []vigil.Count{{Name: "confirmed", N: 2}, {Name: "false_positive", N: 2}})
	check("rates by bank", got.RatesByBank, []vigil.Rate{vigil.NewRate("b1", 1, 2), vigil.NewRate("b2", 1, 0)})
	check("rates by source", got.RatesBySource, []vigil.Rate{vigil.NewRate("ncmec", 1, 2), vigil.NewRate("own", 1, 0)})
	check("quarantined", got.QuarantinedEntries, int64(1))
	check("incidents", got.Incidents, int64(1))
	check("submissions", got.Submissions, []vigil.SubmissionCount{{Destination: "ncmec", State: "finished", N: 1}})
	check("complaints", got.Complaints, []vigil.Count{{Name: "open", N: 1}, {Name: "upheld", N: 1}})
	h := float64(time.Hour / time.Second)
	// 1h, 2h, 3h, 5h: the nearest-rank median is the 2nd, the 90th
	// percentile the 4th.
	check("to decision", got.ToDecision, vigil.Durations{N: 4, MedianSeconds: 2 * h, P90Seconds: 5 * h})
	check("to report", got.ToReport, vigil.Durations{N: 1, MedianSeconds: 10 * h, P90Seconds: 10 * h})
	check("grooming detections", got.GroomingDetections, int64(1))
	check("grooming", got.Grooming, vigil.NewRate("grooming", 1, 0))

	_, err = s.Transparency.Transparency(ctx, to, from)
	wantCode(t, err, vigil.EINVALID)
	empty, err := s.Transparency.Transparency(ctx, to, to.Add(time.Hour))
	must(t, err)
	if empty.ToDecision.N != 0 || len(empty.CasesOpened) != 0 || empty.Grooming.Rate != -1 {
		t.Errorf("empty period: %+v", empty)
	}
}
