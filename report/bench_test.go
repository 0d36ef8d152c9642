package report_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/vigil-oss/vigil/report"
)

// BenchmarkRenderNCMEC is the baseline of BenchmarkRenderValidateNCMEC:
// rendering alone.
func BenchmarkRenderNCMEC(b *testing.B) {
	inc := imageryIncident(b)
	for b.Loop() {
		if _, err := report.RenderNCMEC(inc, facts, cfg); err != nil {
			b.Fatal(err)
		}
		for _, f := range inc.Files {
			if _, err := report.RenderNCMECFile(1, "0123456789abcdef0123456789abcdef", f, cfg); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRenderValidateNCMEC renders a two-file report and validates
// its three documents with xmllint, as every render and submission does.
func BenchmarkRenderValidateNCMEC(b *testing.B) {
	ctx := context.Background()
	inc := imageryIncident(b)
	v := &report.Validator{}
	defer v.Close()
	for b.Loop() {
		doc, err := report.RenderNCMEC(inc, facts, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := v.Validate(ctx, doc); err != nil {
			b.Fatal(err)
		}
		for _, f := range inc.Files {
			d, err := report.RenderNCMECFile(1, "0123456789abcdef0123456789abcdef", f, cfg)
			if err != nil {
				b.Fatal(err)
			}
			if err := v.Validate(ctx, d); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkISPWSCalls is the baseline of BenchmarkSubmitNCMEC: the six
// requests of a two-file report against the local server, nothing stored
// or validated.
func BenchmarkISPWSCalls(b *testing.B) {
	ctx := context.Background()
	_, srv := newFakeISPWS(b)
	c := &report.ISPWS{BaseURL: srv.URL + "/ispws", Username: "esp", Password: "secret", HTTP: &http.Client{Timeout: 10 * time.Second}}
	doc, err := report.RenderNCMEC(imageryIncident(b), facts, cfg)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		r, err := c.Submit(ctx, doc)
		if err != nil {
			b.Fatal(err)
		}
		for i := range 2 {
			u, err := c.Upload(ctx, r.ReportID, "f.png", []byte(fmt.Sprintf("benign test picture %d", i)))
			if err != nil {
				b.Fatal(err)
			}
			d, _ := report.RenderNCMECFile(r.ReportID, u.FileID, imageryIncident(b).Files[i], cfg)
			if _, err := c.FileInfo(ctx, d); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := c.Finish(ctx, r.ReportID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmitNCMEC sends an approved two-file incident through the
// durable Submitter: render, validate (3 xmllint runs), 6 requests, each
// attempt stored before and after (12 store writes).
func BenchmarkSubmitNCMEC(b *testing.B) {
	ctx := context.Background()
	_, srv := newFakeISPWS(b)
	fx := newSubmitFixture(b, srv)
	for b.Loop() {
		b.StopTimer()
		inc := fx.addIncident(b)
		b.StartTimer()
		s, err := fx.sub.Start(ctx, inc.ID, report.DestinationNCMEC, "bench")
		if err != nil {
			b.Fatal(err)
		}
		if err := fx.sub.Run(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateDSA checks the two statements of the imagery incident
// against every rule of the Transparency Database's validator.
func BenchmarkValidateDSA(b *testing.B) {
	sts, err := report.RenderDSA(imageryIncident(b), facts, dsaCfg, applied)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		for i := range sts {
			if err := sts[i].Validate(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRenderValidateDSA renders the imagery incident's statements
// of reasons, validates each (RenderDSA always does) and encodes them as
// the JSON the CLI prints; BenchmarkRenderNCMEC in the same run is the
// baseline.
func BenchmarkRenderValidateDSA(b *testing.B) {
	inc := imageryIncident(b)
	for b.Loop() {
		sts, err := report.RenderDSA(inc, facts, dsaCfg, applied)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(sts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmitDSA sends an approved two-file incident to the local
// fake Transparency Database through the durable Submitter: render and
// validate two statements, two requests, each attempt stored before and
// after (4 store writes, plus the submission's creation).
func BenchmarkSubmitDSA(b *testing.B) {
	ctx := context.Background()
	fx, _ := newDSAFixture(b)
	for b.Loop() {
		b.StopTimer()
		inc := fx.addIncident(b)
		b.StartTimer()
		s, err := fx.sub.Start(ctx, inc.ID, report.DestinationDSA, "bench")
		if err != nil {
			b.Fatal(err)
		}
		if err := fx.sub.Run(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmitWebhook delivers an approved two-file incident's EU
// Centre rendering to a local receiver that verifies its HMAC signature:
// render, one signed request, the attempt stored before and after.
func BenchmarkSubmitWebhook(b *testing.B) {
	ctx := context.Background()
	fx, _ := newWebhookFixture(b)
	for b.Loop() {
		b.StopTimer()
		inc := fx.addIncident(b)
		b.StartTimer()
		s, err := fx.sub.Start(ctx, inc.ID, report.DestinationWebhook, "bench")
		if err != nil {
			b.Fatal(err)
		}
		if err := fx.sub.Run(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderValidateEU renders the imagery incident as an EU Centre
// report from the default template, checking every required field;
// BenchmarkRenderValidateDSA in the same run is the baseline.
func BenchmarkRenderValidateEU(b *testing.B) {
	inc := approved(imageryIncident(b))
	tpl := report.DefaultEUTemplate()
	for b.Loop() {
		if _, err := report.RenderEU(tpl, report.EUSourceOf(inc, facts, euCfg, nil, renderedAt)); err != nil {
			b.Fatal(err)
		}
	}
}
