package report_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/report"
)

var euCfg = report.EUConfig{
	Provider: report.EUProvider{Name: "Example Chat B.V.", Address: "Examplestraat 1, 1011 AA Amsterdam", MemberState: "NL",
		ContactPoint: "Trust and Safety", ContactEmail: "safety@example.org"},
	ReferencePrefix: "example-",
	ContentAction:   "removed",
}

var renderedAt = time.Date(2026, 11, 5, 8, 30, 0, 0, time.UTC)

func approved(inc *vigil.Incident) *vigil.Incident {
	at := t0.Add(4 * time.Hour)
	inc.State, inc.ApprovedBy, inc.ApprovedAt = vigil.IncidentApproved, "key:3:curator", &at
	return inc
}

func TestRenderEUGolden(t *testing.T) {
	ncmecDone := []*vigil.Submission{{Destination: report.DestinationNCMEC, State: vigil.SubmissionFinished, ReportID: 104227}}
	for _, tc := range []struct {
		name string
		inc  *vigil.Incident
		subs []*vigil.Submission
		want []string // in the rendering
	}{
		{"imagery", approved(imageryIncident(t)), ncmecDone, []string{`"age:pre-pubescent"`, `"known_csam"`, `"NCMEC CyberTipline (US)"`, `"104227"`, `"192.0.2.10"`, `"terminated"`}},
		{"grooming", approved(groomingIncident(t)), nil, []string{`"solicitation"`, `it's our secret"`, `"urgent": true`, `"reported": false`, `"sextortion"`, `"kid-3"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := report.RenderEU(nil, report.EUSourceOf(tc.inc, facts, euCfg, tc.subs, renderedAt))
			must(t, err)
			if !json.Valid(doc) {
				t.Fatalf("not JSON:\n%s", doc)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(doc), w) {
					t.Errorf("rendering lacks %s", w)
				}
			}
			golden(t, tc.name+".eu.json", doc)
		})
	}
}

// Every empty required field is named, with the article it answers.
func TestRenderEURefusesMissing(t *testing.T) {
	cfg := euCfg
	cfg.Provider.Name, cfg.ContentAction = "", ""
	inc := imageryIncident(t) // a draft: nobody approved it
	_, err := report.RenderEU(nil, report.EUSourceOf(inc, nil, cfg, nil, renderedAt))
	wantCode(t, err, vigil.EINVALID)
	msg := vigil.ErrorMessage(err)
	for _, f := range []string{"provider.name (Art. 13(1)(a))", "report.approved_by", "report.approved_at", "actions.content (Art. 13(1)(i))"} {
		if !strings.Contains(msg, f) {
			t.Errorf("error does not name %s: %s", f, msg)
		}
	}
	if strings.Contains(msg, "provider.legal_representative") || strings.Contains(msg, "location.") {
		t.Errorf("optional field named as missing: %s", msg)
	}
}

// A changed template is a data change: a field renamed, moved, made
// required, a fixed value added, all without code.
func TestRenderEUTemplateIsData(t *testing.T) {
	tpl, err := report.ParseEUTemplate([]byte(`{"template":"centre-v2","version":"adopted text, Annex III","sections":[
		{"id":"who","title":"Provider","fields":[{"name":"provider","from":"provider.name","required":true},{"name":"country","value":"NL"}]},
		{"id":"what","title":"Content","fields":[{"name":"hashes","from":"content.files","required":true},{"name":"grooming","from":"content.conversations","required":true}]}]}`))
	must(t, err)
	src := report.EUSourceOf(approved(imageryIncident(t)), facts, euCfg, nil, renderedAt)
	_, err = report.RenderEU(tpl, src)
	wantCode(t, err, vigil.EINVALID)
	if msg := vigil.ErrorMessage(err); !strings.Contains(msg, "what.grooming") || strings.Contains(msg, "what.hashes") {
		t.Errorf("missing: %s", msg)
	}
	tpl.Sections[1].Fields[1].Required = false
	doc, err := report.RenderEU(tpl, src)
	must(t, err)
	var got struct {
		Template string `json:"template"`
		Sections []struct {
			ID     string         `json:"id"`
			Fields map[string]any `json:"fields"`
		} `json:"sections"`
	}
	must(t, json.Unmarshal(doc, &got))
	if got.Template != "centre-v2" || len(got.Sections) != 2 || got.Sections[0].Fields["provider"] != "Example Chat B.V." || got.Sections[0].Fields["country"] != "NL" {
		t.Errorf("rendering %s", doc)
	}
	// Fields keep the template's order.
	if i, j := bytes.Index(doc, []byte(`"provider"`)), bytes.Index(doc, []byte(`"country"`)); i < 0 || j < i {
		t.Errorf("fields out of order:\n%s", doc)
	}
}

func TestParseEUTemplate(t *testing.T) {
	if report.DefaultEUTemplate() == nil {
		t.Fatal("no default template")
	}
	for _, bad := range []string{
		``, `{}`, `[]`, `{"template":"t","sections":[]}`,
		`{"template":"t","sections":[{"id":"a","title":"x","fields":[{"name":"f","from":"provider.nmae"}]}]}`, // misspelt path
		`{"template":"t","sections":[{"id":"a","title":"x","fields":[{"name":"f"}]}]}`,                        // neither from nor value
		`{"template":"t","sections":[{"id":"a","title":"x","fields":[{"name":"f","from":"provider.name","value":1}]}]}`,
		`{"template":"t","sections":[{"id":"a","title":"x","fields":[{"name":"f","from":"provider.name"},{"name":"f","from":"provider.name"}]}]}`,
		`{"template":"t","sections":[{"id":"A B","title":"x","fields":[{"name":"f","from":"provider.name"}]}]}`,
		`{"template":"t","sections":[{"id":"a","title":"x","fields":[{"name":"f","from":"provider.name"}]}],"extra":1}`,
		`{"template":"t","sections":[{"id":"a","title":"x","fields":[{"name":"f","from":"provider.name"}]}]} {}`,
	} {
		if _, err := report.ParseEUTemplate([]byte(bad)); vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("%s: %v, want EINVALID", bad, err)
		}
	}
	_, err := report.ParseEUTemplate(make([]byte, report.MaxEUTemplate+1))
	wantCode(t, err, vigil.ETOOLARGE)
}

func FuzzParseEUTemplate(f *testing.F) {
	f.Add([]byte(`{"template":"t","version":"v","sections":[{"id":"a","title":"x","fields":[{"name":"f","from":"provider.name","required":true},{"name":"g","value":[1,{"a":null}]}]}]}`))
	f.Add([]byte(`{"template":"t","sections":[{"id":"a","title":"x","fields":[{"name":"f","from":"content.files"}]}]}`))
	src := report.EUSourceOf(approved(groomingIncident(f)), facts, euCfg, nil, renderedAt)
	f.Fuzz(func(t *testing.T, data []byte) {
		tpl, err := report.ParseEUTemplate(data)
		if err != nil {
			if c := vigil.ErrorCode(err); c != vigil.EINVALID && c != vigil.ETOOLARGE {
				t.Fatalf("code %s: %v", c, err)
			}
			return
		}
		// Any template that parses renders, or names what is missing.
		doc, err := report.RenderEU(tpl, src)
		if err != nil && vigil.ErrorCode(err) != vigil.EINVALID {
			t.Fatalf("render: %v", err)
		}
		if err == nil && !json.Valid(doc) {
			t.Fatalf("rendering is not JSON:\n%s", doc)
		}
	})
}

func FuzzParseEUConfig(f *testing.F) {
	f.Add([]byte(`{"provider":{"name":"Example","member_state":"NL"},"content_action":"removed","third_country_reports":["NCMEC"]}`))
	f.Add([]byte(`{"content_action":"shouted"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := report.ParseEUConfig(data)
		if err != nil {
			if c := vigil.ErrorCode(err); c != vigil.EINVALID && c != vigil.ETOOLARGE {
				t.Fatalf("code %s: %v", c, err)
			}
			return
		}
		if cfg.Validate() != nil {
			t.Fatalf("parsed config does not validate: %+v", cfg)
		}
	})
}
