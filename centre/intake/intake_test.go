package intake_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/centre/intake"
)

func golden(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../report/testdata/golden/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// multipartNCMEC packs CyberTipline documents as the intake takes them.
func multipartNCMEC(t testing.TB, docs ...[]byte) ([]byte, string) {
	t.Helper()
	body, ct, err := intake.Multipart(docs...)
	if err != nil {
		t.Fatal(err)
	}
	return body, ct
}

func TestParseEU(t *testing.T) {
	p, err := intake.ParseEU(golden(t, "imagery.eu.json"))
	if err != nil {
		t.Fatal(err)
	}
	if p.ProviderReference != "example-incident-1" || p.ReportedUser != "user-4" || len(p.Files) != 2 || p.Conversations != 0 {
		t.Fatalf("parsed %+v", p)
	}
	f := p.Files[0]
	if f.SHA256 != strings.Repeat("ab", 32) || f.MD5 != strings.Repeat("0f", 16) || f.ClaimedMatches != 2 {
		t.Fatalf("file 0: %+v", f)
	}
	g, err := intake.ParseEU(golden(t, "grooming.eu.json"))
	if err != nil {
		t.Fatal(err)
	}
	if g.Conversations != 1 || !g.Urgent || len(g.Files) != 0 || g.ReportedUser != "user-9" {
		t.Fatalf("grooming parsed %+v", g)
	}
	for _, bad := range []string{``, `{}`, `[]`, `{"template":"x","sections":[]}`, `{"template":"x","sections":[{"id":"content","fields":{"files":3}}]} `,
		`{"template":"x","sections":[{"id":"report","fields":{}}]} {}`} {
		if _, err := intake.ParseEU([]byte(bad)); vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("ParseEU(%q): %v, want EINVALID", bad, err)
		}
	}
	big := bytes.Repeat([]byte(" "), vigil.MaxCentreReportBytes+1)
	if _, err := intake.ParseEU(big); vigil.ErrorCode(err) != vigil.ETOOLARGE {
		t.Errorf("oversized: %v", err)
	}
	// A malformed hash is left out, not a refusal: the file then has
	// only what can be checked.
	p, err = intake.ParseEU([]byte(`{"template":"t","sections":[{"id":"content","fields":{"files":[{"sha256":"zz","matches":[{}]}]}}]}`))
	if err != nil || len(p.Files) != 1 || p.Files[0].SHA256 != "" || p.Files[0].ClaimedMatches != 1 {
		t.Fatalf("malformed hash: %+v %v", p, err)
	}
}

func TestParseNCMEC(t *testing.T) {
	ctx := context.Background()
	body, ct := multipartNCMEC(t, golden(t, "imagery.report.xml"), golden(t, "imagery.file1.xml"), golden(t, "imagery.file2.xml"))
	p, err := intake.ParseNCMEC(ctx, body, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.ReportedUser != "user-4" || len(p.Files) != 2 || p.Format != vigil.CentreFormatNCMEC {
		t.Fatalf("parsed %+v", p)
	}
	f := p.Files[0]
	if f.SHA256 != strings.Repeat("ab", 32) || f.ClaimedMatches != 2 || len(f.PDQ) != 1 || f.PDQ[0] != strings.Repeat("a5", 32) {
		t.Fatalf("file 0: %+v", f)
	}
	lone, err := intake.ParseNCMEC(ctx, golden(t, "grooming.report.xml"), "application/xml", nil)
	if err != nil || lone.Conversations != 1 || len(lone.Files) != 0 || !lone.Urgent {
		t.Fatalf("grooming report: %+v %v", lone, err)
	}
	for name, doc := range map[string]string{
		"dtd":      `<?xml version="1.0"?><!DOCTYPE report [<!ENTITY a "aaaa">]><report>&a;</report>`,
		"root":     `<fileDetails/>`,
		"trailing": `<report/><report/>`,
		"broken":   `<report><incidentSummary></report>`,
	} {
		if _, err := intake.ParseNCMEC(ctx, []byte(doc), "application/xml", nil); vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	if _, err := intake.ParseNCMEC(ctx, []byte(`<report/>`), "text/plain", nil); vigil.ErrorCode(err) != vigil.EUNSUPPORTED {
		t.Errorf("text/plain: %v", err)
	}
}
