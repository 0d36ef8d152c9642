package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestClassifierScores tests the classifier side of a vigil.CaseService
// that is also a vigil.ClassifierStatsService: cases keep their scores
// (classifier, label, score, model version), decisions count per
// classifier, label and score band, and the counts outlive a purge.
func TestClassifierScores(t *testing.T, open Opener) {
	ctx := context.Background()
	s, clock := openWithClock(t, open)
	stats, ok := s.Cases.(vigil.ClassifierStatsService)
	if !ok {
		t.Fatalf("%T is not a vigil.ClassifierStatsService", s.Cases)
	}
	f := newCaseFixture(t, s, 1)
	n := 0
	classifierCase := func(scores ...vigil.ClassifierScore) *vigil.Case {
		n++
		c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindClassifier, Rule: "model", RetainUntil: clock.Now().Add(time.Hour),
			Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", 1000+n)}, Scores: scores}
		must(t, s.Cases.OpenCase(ctx, c, "rules"))
		return c
	}
	sc := func(label string, v float64) vigil.ClassifierScore {
		return vigil.ClassifierScore{Classifier: "pigeon", Label: label, Score: v, ModelVersion: "shieldgemma-2b@3"}
	}

	wantCode(t, s.Cases.OpenCase(ctx, &vigil.Case{Queue: "q", Kind: vigil.CaseKindClassifier, RetainUntil: clock.Now().Add(time.Hour)}, "rules"), vigil.EINVALID)
	bad := &vigil.Case{Queue: "q", Kind: vigil.CaseKindClassifier, RetainUntil: clock.Now().Add(time.Hour), Scores: []vigil.ClassifierScore{sc("csam", 1.5)}}
	wantCode(t, s.Cases.OpenCase(ctx, bad, "rules"), vigil.EINVALID)

	// The same label twice (two signals) counts once, at its highest score.
	c1 := classifierCase(sc("csam", 0.93), sc("adult", 0.12), sc("csam", 0.71))
	got, err := s.Cases.FindCase(ctx, c1.ID)
	must(t, err)
	if got.Kind != vigil.CaseKindClassifier || len(got.Scores) != 3 || got.Scores[0] != sc("csam", 0.93) {
		t.Fatalf("case scores = %+v (kind %s)", got.Scores, got.Kind)
	}
	c2 := classifierCase(sc("csam", 0.95))
	c3 := classifierCase(sc("csam", 0.55))
	// A match case holds scores as context, and counts them too.
	m := f.matchCase(clock, f.entries[0])
	m.Scores = []vigil.ClassifierScore{sc("csam", 0.97)}
	must(t, s.Cases.OpenCase(ctx, m, "rules"))
	if got, err := s.Cases.FindCase(ctx, m.ID); err != nil || len(got.Scores) != 1 || len(got.Matches) != 1 {
		t.Fatalf("match case with scores: %+v, %v", got, err)
	}

	decide := func(c *vigil.Case, v vigil.Verdict) {
		_, err := s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: v, DecidedBy: "rita"})
		must(t, err)
	}
	decide(c1, vigil.VerdictConfirmed)
	decide(c2, vigil.VerdictFalsePositive)
	decide(c3, vigil.VerdictEscalate) // says nothing yet
	decide(m, vigil.VerdictConfirmed)

	all, err := stats.ClassifierStats(ctx, time.Time{})
	must(t, err)
	type row struct {
		label                    string
		band, cases, conf, false int
	}
	var rows []row
	for _, st := range all {
		if st.Classifier != "pigeon" || st.MinScore != float64(st.Band)/vigil.ScoreBands {
			t.Errorf("stats row %+v", st)
		}
		rows = append(rows, row{st.Label, st.Band, st.Cases, st.Confirmed, st.FalsePositives})
	}
	want := []row{{"adult", 1, 1, 1, 0}, {"csam", 5, 1, 0, 0}, {"csam", 9, 3, 2, 1}}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("classifier stats = %v, want %v", rows, want)
	}
	if p := all[2].Precision(); p < 0.66 || p > 0.67 {
		t.Errorf("precision of the top band = %v", p)
	}

	// Since a time: only the decisions made since then count.
	recent, err := stats.ClassifierStats(ctx, clock.Now())
	must(t, err)
	var recentRows []row
	for _, st := range recent {
		recentRows = append(recentRows, row{st.Label, st.Band, st.Cases, st.Confirmed, st.FalsePositives})
	}
	if want := []row{{"adult", 1, 0, 1, 0}, {"csam", 9, 0, 2, 1}}; fmt.Sprint(recentRows) != fmt.Sprint(want) {
		t.Errorf("stats since now = %v, want %v", recentRows, want)
	}
	if later, err := stats.ClassifierStats(ctx, clock.Now().Add(time.Second)); err != nil || len(later) != 0 {
		t.Errorf("stats since a later time = %+v, %v", later, err)
	}

	// Purging deletes the scores with the evidence; the counts stay.
	clock.Advance(2 * time.Hour)
	must(t, s.Cases.PurgeCase(ctx, c1.ID))
	if got, err := s.Cases.FindCase(ctx, c1.ID); err != nil || got.Scores != nil {
		t.Errorf("purged case still holds scores: %+v, %v", got, err)
	}
	after, err := stats.ClassifierStats(ctx, time.Time{})
	must(t, err)
	if len(after) != len(all) || after[2].Confirmed != 2 {
		t.Errorf("stats after purge = %+v", after)
	}
}

// TestClassifierStates tests the vigil.ClassifierStateService of the case
// store: a curator's pause is stored, replaced by a resume, listed by
// name, refused when invalid, and kept or lost with its audit record.
func TestClassifierStates(t *testing.T, open Opener) {
	ctx := context.Background()
	s, clock := openWithClock(t, open)
	st, ok := s.Cases.(vigil.ClassifierStateService)
	if !ok {
		t.Fatalf("%T is not a vigil.ClassifierStateService", s.Cases)
	}
	if got, err := st.ClassifierStates(ctx); err != nil || len(got) != 0 {
		t.Fatalf("fresh store: %+v, %v", got, err)
	}
	pause := &vigil.ClassifierState{Name: "pigeon", Paused: true, Reason: "precision 0.31 since the model update", UpdatedBy: "key:3:cora"}
	rec := &vigil.AuditRecord{Actor: "key:3:cora", Action: vigil.AuditClassifierState, Target: "classifier:pigeon"}
	actx := vigil.WithAudit(ctx, rec)
	must(t, st.SetClassifierState(actx, pause))
	if !pause.UpdatedAt.Equal(clock.Now()) {
		t.Errorf("UpdatedAt = %v, want %v", pause.UpdatedAt, clock.Now())
	}
	if rec.Seq == 0 || vigil.PendingAudit(actx) != nil {
		t.Fatalf("audit record not written with the change: %+v", rec)
	}
	must(t, st.SetClassifierState(ctx, &vigil.ClassifierState{Name: "another", UpdatedBy: "key:1:root"}))
	clock.Advance(time.Minute)
	resume := &vigil.ClassifierState{Name: "pigeon", Paused: false, UpdatedBy: "key:4:dan"}
	must(t, st.SetClassifierState(ctx, resume))
	got, err := st.ClassifierStates(ctx)
	must(t, err)
	if len(got) != 2 || got[0].Name != "another" || got[1].Name != "pigeon" {
		t.Fatalf("states = %+v", got)
	}
	if p := got[1]; p.Paused || p.Reason != "" || p.UpdatedBy != "key:4:dan" || !p.UpdatedAt.Equal(clock.Now()) {
		t.Errorf("resumed state = %+v", p)
	}

	for _, bad := range []*vigil.ClassifierState{
		{Name: "Bad Name", UpdatedBy: "x"},
		{Name: "p", UpdatedBy: ""},
		{Name: "p", UpdatedBy: "x", Reason: "a\x00b"},
		{Name: "p", UpdatedBy: "x", Reason: string(make([]byte, vigil.MaxClassifierReasonLen+1))},
	} {
		wantCode(t, st.SetClassifierState(ctx, bad), vigil.EINVALID)
	}

	// A record that cannot be stored takes the change with it.
	failing := &vigil.AuditRecord{Actor: "key:3:cora", Action: vigil.AuditClassifierState, Target: "classifier:pigeon",
		Complete: func(*vigil.AuditRecord) error { return fmt.Errorf("boom") }}
	if err := st.SetClassifierState(vigil.WithAudit(ctx, failing), &vigil.ClassifierState{Name: "pigeon", Paused: true, UpdatedBy: "key:3:cora"}); err == nil {
		t.Fatal("a change whose audit record failed was made")
	}
	got, err = st.ClassifierStates(ctx)
	must(t, err)
	if got[1].Paused {
		t.Error("the pause was stored without its audit record")
	}
}
