package report_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/report"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 11, 3, 14, 5, 6, 0, time.UTC)

var cfg = report.NCMECConfig{
	ReporterFirstName: "Trust", ReporterLastName: "Safety", ReporterEmail: "safety@example.org",
	Platform: "Example Chat", LegalURL: "https://example.org/legal", IndustryMOU: true,
}

// confirmed returns a case confirmed with category.
func confirmed(c *vigil.Case, category string) *vigil.Case {
	c.State = vigil.CaseDecided
	c.Decision = &vigil.Decision{Verdict: vigil.VerdictConfirmed, Category: category, DecidedBy: "key:2:rev", DecidedAt: t0.Add(time.Hour)}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = t0
	}
	return c
}

func imageryIncident(t testing.TB) *vigil.Incident {
	t.Helper()
	md5 := strings.Repeat("0f", 16)
	c1 := confirmed(&vigil.Case{ID: 11, Kind: vigil.CaseKindMatch,
		Content: vigil.ContentRef{SHA256: strings.Repeat("ab", 32), MediaType: "image/png", ContentID: "upload-77.png", UserID: "user-4"},
		Matches: []vigil.Match{
			{BankID: 1, Bank: "ncmec-hashes", EntryID: 901, SignalType: vigil.SignalMD5, Value: md5, Threshold: 0, Source: "ncmec", SourceEntryID: "E-1"},
			{BankID: 2, Bank: "industry-pdq", EntryID: 55, SignalType: vigil.SignalPDQ, Value: strings.Repeat("a5", 32), Distance: 6, Threshold: 31, Source: "tech-coalition", Category: "A1"},
		}}, "A1")
	c2 := confirmed(&vigil.Case{ID: 12, Kind: vigil.CaseKindMatch, CreatedAt: t0.Add(2 * time.Minute),
		Content: vigil.ContentRef{SHA256: strings.Repeat("cd", 32), ContentID: "upload-78.jpg", UserID: "user-4"},
		Matches: []vigil.Match{{BankID: 2, Bank: "industry-pdq", EntryID: 56, SignalType: vigil.SignalPDQ, Value: strings.Repeat("5a", 32), Threshold: 31}}}, "")
	inc, err := vigil.NewIncident([]*vigil.Case{c2, c1})
	if err != nil {
		t.Fatal(err)
	}
	inc.ID = 1
	must(t, (&vigil.IncidentEdit{Files: []vigil.IncidentFileEdit{{CaseID: 12, Classification: ptr("b2"), Annotations: &[]string{"generativeAi"}}}}).Apply(inc))
	inc.Files[0].Viewed = true
	return inc
}

func groomingIncident(t testing.TB) *vigil.Incident {
	t.Helper()
	c := confirmed(&vigil.Case{ID: 21, Kind: vigil.CaseKindConversation, Conversation: &vigil.CaseConversation{
		ConversationID: "dm-314", Score: 0.93, Suspect: "user-9",
		Messages: []vigil.CaseMessage{
			{Index: 0, Speaker: "user-9", Text: "hi, how was school?", Time: t0},
			{Index: 1, Speaker: "kid-3", Text: "ok i guess", Time: t0.Add(time.Minute)},
			{Index: 2, Speaker: "user-9", Text: "you can tell me anything, I understand you better than your parents", Time: t0.Add(2 * time.Minute), Indicators: []string{"trust_building", "isolation"}},
			{Index: 3, Speaker: "user-9", Text: "don't tell anyone we talk, it's our secret", Time: t0.Add(3 * time.Minute), Indicators: []string{"secrecy"}},
		}}}, "")
	inc, err := vigil.NewIncident([]*vigil.Case{c})
	if err != nil {
		t.Fatal(err)
	}
	inc.ID = 2
	must(t, (&vigil.IncidentEdit{Sextortion: ptr(true), MinorToMinor: ptr(false), Urgent: ptr("asks the child to keep contact secret; contact ongoing"),
		Victims: &[]string{"kid-3"}, Notes: ptr("Reported by the platform's safety team.")}).Apply(inc))
	return inc
}

var facts = map[string]*vigil.AccountFacts{
	"user-4": {UserID: "user-4", ScreenName: "sunny_day", DisplayNames: []string{"Sunny"}, ProfileURLs: []string{"https://example.org/u/user-4"},
		Emails:   []vigil.AccountEmail{{Address: "user4@example.net", Verified: true}},
		IPs:      []vigil.IPEvent{{IP: "192.0.2.10", Event: "Login", Time: t0.Add(-time.Hour), Port: 51515}, {IP: "2001:db8::1", Event: "Upload", Time: t0, PossibleProxy: true}},
		Devices:  []vigil.DeviceEvent{{Type: "Android ID", Value: "a1b2c3", Event: "Login", Time: t0.Add(-time.Hour)}},
		Disabled: &vigil.AccountDisabled{Permanent: true, At: t0.Add(3 * time.Hour)}},
	"kid-3": {UserID: "kid-3", ScreenName: "kid3"},
}

func TestRenderNCMECGolden(t *testing.T) {
	ctx := context.Background()
	v := &report.Validator{}
	t.Cleanup(func() { v.Close() })
	noMOU := cfg
	noMOU.IndustryMOU = false
	text := groomingIncident(t)
	text.Victims, text.Sextortion, text.Urgent, text.Notes = nil, false, "", ""
	for _, tc := range []struct {
		name  string
		inc   *vigil.Incident
		facts map[string]*vigil.AccountFacts
		cfg   report.NCMECConfig
	}{
		{"imagery", imageryIncident(t), facts, cfg},
		{"grooming", groomingIncident(t), facts, cfg},
		// A text-only enticement report, no media and no facts, is valid
		// and is sent (another system dropped such reports).
		{"grooming-no-facts", text, nil, noMOU},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docs := map[string][]byte{}
			doc, err := report.RenderNCMEC(tc.inc, tc.facts, tc.cfg)
			must(t, err)
			docs[tc.name+".report.xml"] = doc
			for i, f := range tc.inc.Files {
				d, err := report.RenderNCMECFile(4242, strings.Repeat("0123456789abcdef", 2), f, tc.cfg)
				must(t, err)
				docs[tc.name+".file"+string(rune('1'+i))+".xml"] = d
			}
			for name, doc := range docs {
				if err := v.Validate(ctx, doc); err != nil {
					t.Errorf("%s: %v\n%s", name, err, doc)
				}
				golden(t, name, doc)
			}
		})
	}
}

func TestRenderNCMECChoices(t *testing.T) {
	inc := imageryIncident(t)
	doc, err := report.RenderNCMEC(inc, facts, cfg)
	must(t, err)
	if !bytes.Contains(doc, []byte("<incidentType>"+report.NCMECChildPornography)) {
		t.Errorf("known imagery is not reported as child pornography:\n%s", doc)
	}
	if bytes.Contains(doc, []byte("chatImIncident")) || bytes.Contains(doc, []byte("intendedRecipient")) {
		t.Errorf("imagery report holds a chat or a recipient:\n%s", doc)
	}
	g, err := report.RenderNCMEC(groomingIncident(t), facts, cfg)
	must(t, err)
	for _, want := range []string{"<incidentType>" + report.NCMECOnlineEnticement, "<sextortion>true</sextortion>", "<chatImIncident>",
		"<intendedRecipient>", "<espIdentifier>kid-3</espIdentifier>", "<victim>", "our secret", "<escalateToHighPriority>"} {
		if !bytes.Contains(g, []byte(want)) {
			t.Errorf("grooming report lacks %s:\n%s", want, g)
		}
	}
	if bytes.Contains(g, []byte("minorToMinorInteraction")) || bytes.Contains(g, []byte("how was school")) {
		t.Errorf("grooming report holds an unset annotation or an untagged message:\n%s", g)
	}

	// The class is sent only by a company that signed the MOU.
	f, err := report.RenderNCMECFile(1, "f", inc.Files[0], cfg)
	must(t, err)
	noMOU := cfg
	noMOU.IndustryMOU = false
	nf, err := report.RenderNCMECFile(1, "f", inc.Files[0], noMOU)
	must(t, err)
	if !bytes.Contains(f, []byte("<industryClassification>A1<")) || bytes.Contains(nf, []byte("industryClassification")) {
		t.Errorf("industry classification with MOU:\n%s\nwithout:\n%s", f, nf)
	}
	for _, want := range []string{`<originalFileHash hashType="MD5">`, `<originalFileHash hashType="SHA256">`, `<details type="HASH">`, "source entry E-1"} {
		if !bytes.Contains(f, []byte(want)) {
			t.Errorf("file details lack %s:\n%s", want, f)
		}
	}

	bad := cfg
	bad.ReporterEmail = ""
	_, err = report.RenderNCMEC(inc, facts, bad)
	wantCode(t, err, vigil.EINVALID)
}

// The validator refuses what NCMEC refuses, naming the element, and
// refuses everything without xmllint.
func TestValidatorRefuses(t *testing.T) {
	ctx := context.Background()
	v := &report.Validator{}
	t.Cleanup(func() { v.Close() })
	doc, err := report.RenderNCMEC(imageryIncident(t), facts, cfg)
	must(t, err)
	must(t, v.Validate(ctx, doc))

	// Out of order: the reporter before the incident summary.
	s := string(doc)
	i, j := strings.Index(s, "  <reporter>"), strings.Index(s, "  </reporter>")+len("  </reporter>\n")
	swapped := strings.Replace(s[:i]+s[j:], "<report>\n", "<report>\n"+s[i:j], 1)
	err = v.Validate(ctx, []byte(swapped))
	wantCode(t, err, vigil.EINVALID)
	if !strings.Contains(vigil.ErrorMessage(err), "reporter") {
		t.Errorf("error does not name the element: %v", err)
	}
	wantCode(t, v.Validate(ctx, []byte("<report><incidentSummary>")), vigil.EINVALID)
	wantCode(t, v.Validate(ctx, bytes.Repeat([]byte(" "), report.MaxDocumentSize+1)), vigil.ETOOLARGE)

	none := &report.Validator{XMLLint: filepath.Join(t.TempDir(), "no-xmllint")}
	if err := none.Validate(ctx, doc); err != report.ErrNoValidator {
		t.Errorf("without xmllint: %v, want ErrNoValidator", err)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		must(t, os.MkdirAll(filepath.Dir(path), 0o755))
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s", name, got)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := vigil.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func ptr[T any](v T) *T { return &v }
