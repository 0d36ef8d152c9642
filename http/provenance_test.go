package http_test

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/provenance"
	"github.com/vigil-oss/vigil/provenance/c2patest"
	"github.com/vigil-oss/vigil/report"
)

// An upload whose signed C2PA manifest declares it generated opens cases
// that carry the indication: in the case JSON, on the case page, and as
// the generativeAi annotation of the incident's file.
func TestMatchGenerativeAIIndication(t *testing.T) {
	s, err := c2patest.NewSigner("ES256")
	if err != nil {
		t.Fatal(err)
	}
	reader, err := provenance.NewReader(provenance.Options{Roots: []*x509.Certificate{s.Root}})
	if err != nil {
		t.Fatal(err)
	}
	ts := mustOpenServer(t, func(srv *vhttp.Server) {
		srv.Hashing.Provenance = reader
		srv.NCMEC = &report.NCMECConfig{ReporterEmail: "safety@example.org", Platform: "Example", IndustryMOU: true}
	})
	img := image.NewRGBA(image.Rect(0, 0, 80, 60))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	img.Set(0, 0, color.White)
	var plain bytes.Buffer
	must(t, jpeg.Encode(&plain, img, nil))
	e, err := c2patest.EmbedJPEG(plain.Bytes(), c2patest.Manifest{ClaimGenerator: "Vigil Test Generator/1.0", Signer: s,
		Actions: []c2patest.Action{{Action: "c2pa.created", DigitalSourceType: c2patest.TrainedAlgorithmicMedia}}})
	must(t, err)
	setupReview(t, ts, string(e.Data))

	var m struct {
		Matched bool
		Actions *actions
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match?user_id=u-1", "image/jpeg", bytes.NewReader(e.Data), &m); code != 200 || !m.Matched || len(m.Actions.Cases) != 2 {
		t.Fatalf("match %d %+v", code, m)
	}
	id := m.Actions.Cases[0]
	var c caseWithHistory
	if code := ts.do(t, vigil.RoleReviewer, "GET", fmt.Sprintf("/v1/cases/%d", id), "", nil, &c); code != 200 {
		t.Fatalf("case %d", code)
	}
	g := c.Content.GenerativeAI
	if g == nil || g.Source != vigil.GenerativeAIC2PA || g.DigitalSourceType != "trainedAlgorithmicMedia" || !g.Verified() ||
		g.Generator != "Vigil Test Generator/1.0" || !strings.Contains(g.Signer, "Vigil Test Generator") {
		t.Fatalf("case indication %+v", g)
	}

	ui := newUIClient(t, ts)
	ui.login(t, ts.keys[vigil.RoleReviewer])
	code, _, page := ui.get(t, fmt.Sprintf("/ui/cases/%d", id))
	if code != 200 || !strings.Contains(page, `id="generative-ai" data-source="c2pa" data-verified="true"`) ||
		!strings.Contains(page, "trainedAlgorithmicMedia") || !strings.Contains(page, "the file is the one signed") || !strings.Contains(page, "not a finding") {
		t.Fatalf("case page %d lacks the indication:\n%s", code, page)
	}

	if code := ts.do(t, vigil.RoleReviewer, "POST", fmt.Sprintf("/v1/cases/%d/decision", id), "", jsonBody(map[string]string{"verdict": "confirmed", "category": "A2"}), nil); code != 200 {
		t.Fatalf("decide %d", code)
	}
	var inc vigil.Incident
	if code := ts.do(t, vigil.RoleReviewer, "POST", "/v1/incidents", "", jsonBody(map[string]any{"case_ids": []int64{id}}), &inc); code != 201 ||
		len(inc.Files) != 1 || len(inc.Files[0].Annotations) != 1 || inc.Files[0].Annotations[0] != "generativeAi" {
		t.Fatalf("incident %d %+v", code, inc)
	}
	var rend report.Rendering
	if code := ts.do(t, vigil.RoleReviewer, "GET", fmt.Sprintf("/v1/incidents/%d/render?format=ncmec", inc.ID), "", nil, &rend); code != 200 ||
		len(rend.Files) != 1 || !strings.Contains(rend.Files[0], "<generativeAi>true</generativeAi>") {
		t.Fatalf("render %d %+v", code, rend)
	}
}

// The case page says how far each kind of declaration holds.
func TestCasePageGenerativeAI(t *testing.T) {
	ts := mustOpenServer(t)
	ctx := t.Context()
	must(t, ts.Cases.CreateQueue(ctx, &vigil.Queue{Name: "default", Roles: []vigil.Role{vigil.RoleReviewer}}))
	ui := newUIClient(t, ts)
	ui.login(t, ts.keys[vigil.RoleReviewer])
	for i, tc := range []struct {
		g    vigil.GenerativeAI
		want []string
	}{
		{vigil.GenerativeAI{Source: "xmp", DigitalSourceType: "compositeSynthetic"}, []string{`data-source="xmp" data-verified="false"`, "<strong>compositeSynthetic</strong> in its XMP metadata, which is unsigned"}},
		{vigil.GenerativeAI{Source: "c2pa", DigitalSourceType: "trainedAlgorithmicMedia", SignatureValid: true, Trust: "self_signed", Signer: "CN=Someone"},
			[]string{"Signature holds", "the file was changed after signing", "signer CN=Someone, self-signed, not trusted"}},
		{vigil.GenerativeAI{Source: "c2pa", DigitalSourceType: "trainedAlgorithmicMedia", Ingredient: true, Trust: "expired"},
			[]string{"An ingredient of the file", "in the ingredient's C2PA manifest", "Signature does not hold", "the ingredient's file is not here to check", "trusted when issued, expired since"}},
		{vigil.GenerativeAI{Source: "c2pa", DigitalSourceType: "trainedAlgorithmicMedia", SignatureValid: true, BindingValid: true, Trust: "trusted", Timestamped: true},
			[]string{"the file is the one signed", "trusted when it signed (an RFC 3161 time-stamp says when)"}},
		{vigil.GenerativeAI{Source: "c2pa", DigitalSourceType: "trainedAlgorithmicMedia", SignatureValid: true, Trust: "revoked"},
			[]string{"revoked before it signed (a stapled OCSP response says so)"}},
	} {
		g := tc.g
		c := &vigil.Case{Queue: "default", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
			Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", i+1), GenerativeAI: &g},
			Matches: []vigil.Match{{BankID: 1, Bank: "b", EntryID: 7, SignalType: vigil.SignalMD5, Value: strings.Repeat("0f", 16)}}}
		must(t, ts.Cases.OpenCase(ctx, c, "rules"))
		code, _, page := ui.get(t, fmt.Sprintf("/ui/cases/%d", c.ID))
		for _, w := range tc.want {
			if code != 200 || !strings.Contains(page, w) {
				t.Errorf("%+v: page %d lacks %q:\n%s", tc.g, code, w, page[strings.Index(page, "Generative AI"):][:800])
			}
		}
	}
}
