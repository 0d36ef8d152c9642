package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/report"
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
	// Every destination whose config is given, rendered and validated.
	eu := filepath.Join(t.TempDir(), "eu.json")
	must(os.WriteFile(eu, []byte(`{"provider":{"name":"Example","address":"Street 1","member_state":"NL","contact_point":"Safety","contact_email":"s@example.org"},"content_action":"removed"}`), 0o600))
	out, stderr, err = runMain(t, "", "report", "submit", "--data", data, "--incident", "1", "--ncmec-config", cfg, "--dsa-config", dsa, "--eu-config", eu, "--dry-run")
	if err != nil || strings.Count(stderr, "sent nothing") != 3 || !strings.Contains(stderr, "ncmec: ") || !strings.Contains(stderr, "dsa: incident 1 is approved and valid; would send 1 statements") ||
		!strings.Contains(stderr, "webhook: ") || !strings.Contains(out, "# destination: webhook") || !strings.Contains(out, `"known_csam"`) {
		t.Fatalf("dry run of every destination: %v %q\n%s", err, stderr, out)
	}
	out, stderr, err = runMain(t, "", "report", "submit", "--data", data, "--incident", "1", "--dsa-config", dsa, "--eu-config", eu, "--destination", "dsa", "--dry-run")
	if err != nil || strings.Count(stderr, "sent nothing") != 1 || strings.Contains(out, "# destination") {
		t.Fatalf("dry run of dsa: %v %q", err, stderr)
	}
	// EU Centre report: complete, or refused naming the empty fields.
	out, _, err = runMain(t, "", "report", "render", "--data", data, "--incident", "1", "--format", "eu", "--eu-config", eu)
	if err != nil || !strings.Contains(out, `"template": "eu-centre-report"`) || !strings.Contains(out, `"member_state": "NL"`) {
		t.Fatalf("eu render: %v\n%s", err, out)
	}
	thin := filepath.Join(t.TempDir(), "thin.json")
	must(os.WriteFile(thin, []byte(`{"provider":{"name":"Example"}}`), 0o600))
	if _, stderr, err := runMain(t, "", "report", "render", "--data", data, "--incident", "1", "--format", "eu", "--eu-config", thin); err == nil ||
		!strings.Contains(stderr, "provider.member_state") || !strings.Contains(stderr, "actions.content") {
		t.Fatalf("eu render with a thin config: %v %q", err, stderr)
	}
	_, stderr, err = runMain(t, "", "report", "submit", "--data", data, "--incident", "1", "--eu-config", thin, "--dry-run")
	if err == nil || !strings.Contains(stderr, "webhook: incident 1 would not be sent") {
		t.Fatalf("dry run with a thin eu config: %v %q", err, stderr)
	}
	// A template is data: another one renders another report.
	tpl := filepath.Join(t.TempDir(), "tpl.json")
	must(os.WriteFile(tpl, []byte(`{"template":"mini","sections":[{"id":"who","title":"Provider","fields":[{"name":"provider","from":"provider.name","required":true}]}]}`), 0o600))
	out, _, err = runMain(t, "", "report", "render", "--data", data, "--incident", "1", "--format", "eu", "--eu-config", thin, "--eu-template", tpl)
	if err != nil || !strings.Contains(out, `"template": "mini"`) || strings.Contains(out, "known_csam") {
		t.Fatalf("eu render with another template: %v\n%s", err, out)
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
		{"report", "submit", "--data", data, "--incident", "1", "--format", "dsa", "--dsa-config", dsa, "--dry-run"}, // --format is render's
		{"report", "submit", "--data", data, "--incident", "1", "--dry-run"},                                         // no destination configured
		{"report", "submit", "--data", data, "--incident", "1", "--dsa-config", dsa, "--destination", "webhook", "--dry-run"},
		{"report", "submit", "--data", data, "--incident", "1", "--dsa-config", dsa, "--destination", "pigeon", "--dry-run"},
		{"report", "render", "--data", data, "--incident", "1", "--format", "eu"},
	} {
		if _, _, err := runMain(t, "", args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// serve's destination flags: each destination needs its config and its
// secret, and is built only when asked for.
func TestDestinationFlags(t *testing.T) {
	dir := t.TempDir()
	eu := filepath.Join(dir, "eu.json")
	key := filepath.Join(dir, "key.hex")
	if err := os.WriteFile(eu, []byte(`{"provider":{"name":"Example"},"content_action":"removed"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dsa := &report.DSAConfig{PUIDPrefix: "x"}
	env := map[string]string{envDSAToken: "tok", envWebhookSecret: "0123456789abcdef"}
	for _, tc := range []struct {
		args  []string
		env   map[string]string
		dsa   *report.DSAConfig
		names []string // "" for an error
	}{
		{nil, env, dsa, nil},
		{[]string{"--dsa-url", "http://db"}, env, dsa, []string{"dsa"}},
		{[]string{"--dsa-url", "http://db"}, env, nil, []string{""}},                 // no --dsa-config
		{[]string{"--dsa-url", "http://db"}, map[string]string{}, dsa, []string{""}}, // no token
		{[]string{"--report-webhook", "http://intake", "--eu-config", eu}, env, nil, []string{"webhook"}},
		{[]string{"--report-webhook", "http://intake"}, env, nil, []string{""}}, // no --eu-config
		{[]string{"--report-webhook", "http://intake", "--eu-config", eu}, map[string]string{}, nil, []string{""}},
		{[]string{"--report-webhook", "http://intake", "--eu-config", eu, "--report-webhook-ed25519-key", key}, map[string]string{}, nil, []string{"webhook"}},
		{[]string{"--report-webhook-ed25519-key", key}, env, nil, []string{""}},
		{[]string{"--eu-template", eu}, env, nil, []string{""}},
		{[]string{"--dsa-url", "http://db", "--report-webhook", "ftp://x", "--eu-config", eu}, env, dsa, []string{""}},
	} {
		m := &Main{Stdout: io.Discard, Stderr: io.Discard}
		fs := m.newFlagSet("vigil serve", "")
		f := addDestinationFlags(fs)
		if err := fs.parse(tc.args); err != nil {
			t.Fatal(err)
		}
		ds, _, err := f.destinations(fs, tc.dsa, nil, func(k string) string { return tc.env[k] })
		var names []string
		for _, d := range ds {
			names = append(names, d.Name())
		}
		if err != nil {
			names = []string{""}
		}
		if strings.Join(names, ",") != strings.Join(tc.names, ",") {
			t.Errorf("%v: destinations %v (%v), want %v", tc.args, names, err, tc.names)
		}
	}
}

// TestReportRenderPurged checks that render refuses, in every format, an
// incident whose retention ended, as the HTTP routes do: its evidence is
// gone, and an empty report is not what was sent.
func TestReportRenderPurged(t *testing.T) {
	ctx := context.Background()
	data := newDataDir(t)
	db, err := sqlite.Open(ctx, data, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Sent two years ago: past the default retention of twelve months.
	then := time.Now().UTC().AddDate(-2, 0, 0)
	db.Now = func() time.Time { return then }
	cases, incidents, subs := sqlite.NewCaseService(db), sqlite.NewIncidentService(db), sqlite.NewSubmissionService(db)
	must(cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}))
	c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: then.Add(time.Hour),
		Content: vigil.ContentRef{SHA256: strings.Repeat("ab", 32), UserID: "u-1"},
		Matches: []vigil.Match{{Bank: "b", EntryID: 1, SignalType: vigil.SignalPDQ, Value: strings.Repeat("a5", 32), Distance: 3, Threshold: 31}}}
	must(cases.OpenCase(ctx, c, "rules"))
	c, err = cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, Category: "B1", DecidedBy: "r", DecidedAt: then})
	must(err)
	inc, err := vigil.NewIncident([]*vigil.Case{c})
	must(err)
	must(incidents.CreateIncident(ctx, inc, "r"))
	_, err = incidents.ApproveIncident(ctx, inc.ID, "r")
	must(err)
	sub := &vigil.Submission{IncidentID: inc.ID, Destination: "ncmec", CreatedBy: "r"}
	must(subs.CreateSubmission(ctx, sub))
	_, err = subs.UpdateSubmission(ctx, sub.ID, func(s *vigil.Submission) error {
		s.State, s.ReportID = vigil.SubmissionFinished, 7
		return nil
	})
	must(err)
	db.Now = time.Now
	must(sqlite.NewPreservationService(db).PurgeIncident(ctx, inc.ID, vigil.RetentionPolicy{}))
	must(db.Close())

	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		must(os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	ncmec := write("ncmec.json", `{"reporter_email":"safety@example.org","platform":"Example"}`)
	dsa := write("dsa.json", `{"puid_prefix":"example","decision_ground":"DECISION_GROUND_ILLEGAL_CONTENT",
		"illegal_content_legal_ground":"Directive 2011/93/EU","illegal_content_explanation":"illegal in every Member State",
		"decision_visibility":["DECISION_VISIBILITY_CONTENT_REMOVED"],"territorial_scope":["DE"]}`)
	eu := write("eu.json", `{"provider":{"name":"Example","address":"Street 1","member_state":"NL","contact_point":"Safety","contact_email":"s@example.org"},"content_action":"removed"}`)
	for _, args := range [][]string{
		{"report", "render", "--data", data, "--incident", "1", "--ncmec-config", ncmec},
		{"report", "render", "--data", data, "--incident", "1", "--format", "dsa", "--dsa-config", dsa},
		{"report", "render", "--data", data, "--incident", "1", "--format", "eu", "--eu-config", eu},
		{"report", "submit", "--data", data, "--incident", "1", "--ncmec-config", ncmec, "--dsa-config", dsa, "--eu-config", eu, "--dry-run"},
	} {
		out, stderr, err := runMain(t, "", args...)
		if err == nil || !strings.Contains(err.Error()+stderr, "was purged") || out != "" {
			t.Errorf("%v on a purged incident: %v, stderr %q, stdout %q", args[1:7], err, stderr, out)
		}
	}
}
