package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlite"
)

func TestReportRenderCommand(t *testing.T) {
	ctx := context.Background()
	data := newDataDir(t)
	db, err := sqlite.Open(ctx, data, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cases, incidents := sqlite.NewCaseService(db), sqlite.NewIncidentService(db)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}))
	c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
		Content: vigil.ContentRef{SHA256: strings.Repeat("ab", 32), UserID: "u-1"},
		Matches: []vigil.Match{{Bank: "b", EntryID: 1, SignalType: vigil.SignalPDQ, Value: strings.Repeat("a5", 32), Distance: 3, Threshold: 31}}}
	must(cases.OpenCase(ctx, c, "rules"))
	c, err = cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, Category: "B1", DecidedBy: "r", DecidedAt: time.Now()})
	must(err)
	inc, err := vigil.NewIncident([]*vigil.Case{c})
	must(err)
	must(incidents.CreateIncident(ctx, inc, "r"))
	must(db.Close())

	cfg := filepath.Join(t.TempDir(), "ncmec.json")
	must(os.WriteFile(cfg, []byte(`{"reporter_email":"safety@example.org","platform":"Example","industry_mou":true}`), 0o600))

	out, _, err := runMain(t, "", "report", "render", "--data", data, "--incident", "1", "--ncmec-config", cfg)
	if err != nil || !strings.Contains(out, "<incidentType>Child Pornography") || !strings.Contains(out, "<industryClassification>B1<") {
		t.Fatalf("render: %v\n%s", err, out)
	}
	// Not approved: a dry run says it would not be sent.
	_, stderr, err := runMain(t, "", "report", "submit", "--data", data, "--incident", "1", "--ncmec-config", cfg, "--dry-run")
	if err == nil || !strings.Contains(stderr, "draft") {
		t.Fatalf("dry run of a draft: %v %q", err, stderr)
	}
	// DSA statements of reasons: a draft needs the day the decision was applied.
	dsa := filepath.Join(t.TempDir(), "dsa.json")
	must(os.WriteFile(dsa, []byte(`{"puid_prefix":"example","decision_ground":"DECISION_GROUND_ILLEGAL_CONTENT",
		"illegal_content_legal_ground":"Directive 2011/93/EU","illegal_content_explanation":"illegal in every Member State",
		"decision_visibility":["DECISION_VISIBILITY_CONTENT_REMOVED"],"territorial_scope":["DE","FR"]}`), 0o600))
	if _, stderr, err := runMain(t, "", "report", "render", "--data", data, "--incident", "1", "--format", "dsa", "--dsa-config", dsa); err == nil || !strings.Contains(err.Error()+stderr, "--applied") {
		t.Fatalf("dsa render of a draft without --applied: %v %q", err, stderr)
	}
	out, _, err = runMain(t, "", "report", "render", "--data", data, "--incident", "1", "--format", "dsa", "--dsa-config", dsa, "--applied", "2026-11-04")
	if err != nil || !strings.Contains(out, `"KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"`) || !strings.Contains(out, `"application_date": "2026-11-04"`) ||
		!strings.Contains(out, `"puid": "example-incident-1-case-1"`) {
		t.Fatalf("dsa render: %v\n%s", err, out)
	}
	wrong := filepath.Join(t.TempDir(), "wrong.json")
	must(os.WriteFile(wrong, []byte(`{"puid_prefix":"example","decision_ground":"DECISION_GROUND_ILLEGAL_CONTENT","decision_visibility":["DECISION_VISIBILITY_CONTENT_REMOVED"],"territorial_scope":["DE"]}`), 0o600))
	if _, stderr, err := runMain(t, "", "report", "render", "--data", data, "--incident", "1", "--format", "dsa", "--dsa-config", wrong, "--applied", "2026-11-04"); err == nil || !strings.Contains(err.Error()+stderr, "illegal_content_legal_ground") {
		t.Fatalf("dsa render with a config breaking a rule: %v %q", err, stderr)
	}
	db, err = sqlite.Open(ctx, data, slog.New(slog.DiscardHandler))
	must(err)
	approved, err := sqlite.NewIncidentService(db).ApproveIncident(ctx, 1, "r")
	must(err)
	must(db.Close())
	_, stderr, err = runMain(t, "", "report", "submit", "--data", data, "--incident", "1", "--ncmec-config", cfg, "--dry-run")
	if err != nil || !strings.Contains(stderr, "sent nothing") {
		t.Fatalf("dry run: %v %q", err, stderr)
	}
	// Approved: the application date defaults to the approval day.
	out, _, err = runMain(t, "", "report", "render", "--data", data, "--incident", "1", "--format", "dsa", "--dsa-config", dsa)
	if err != nil || !strings.Contains(out, `"application_date": "`+approved.ApprovedAt.UTC().Format(time.DateOnly)) {
		t.Fatalf("dsa render of an approved incident: %v\n%s", err, out)
	}

	// A schema that refuses the report makes render fail.
	strict := filepath.Join(t.TempDir(), "strict.xsd")
	must(os.WriteFile(strict, []byte(`<?xml version="1.0"?><xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="other"/></xs:schema>`), 0o600))
	_, stderr, err = runMain(t, "", "report", "render", "--data", data, "--incident", "1", "--ncmec-config", cfg, "--schema", strict)
	if err == nil || !strings.Contains(stderr, "not valid against the NCMEC schema") {
		t.Fatalf("render against a refusing schema: %v %q", err, stderr)
	}
	for _, args := range [][]string{
		{"report", "render", "--data", data, "--ncmec-config", cfg},
		{"report", "render", "--data", data, "--incident", "1"},
		{"report", "submit", "--data", data, "--incident", "1", "--ncmec-config", cfg},
		{"report", "render", "--data", data, "--incident", "1", "--ncmec-config", cfg, "--format", "pdf"},
		{"report", "render", "--data", data, "--incident", "1", "--format", "dsa"},
		{"report", "render", "--data", data, "--incident", "1", "--format", "dsa", "--dsa-config", dsa, "--applied", "4.11.2026"},
		{"report", "submit", "--data", data, "--incident", "1", "--format", "dsa", "--dsa-config", dsa, "--dry-run"},
	} {
		if _, _, err := runMain(t, "", args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
