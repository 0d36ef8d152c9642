package provenance_test

import (
	"bytes"
	"crypto/x509"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/provenance"
	"github.com/vigil-oss/vigil/provenance/c2patest"
)

// picture is a generated gradient: no real content.
func picture() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 96, 64))
	for y := range 64 {
		for x := range 96 {
			img.Set(x, y, color.RGBA{uint8(x * 2), uint8(y * 3), uint8(x + y), 255})
		}
	}
	return img
}

func encoded(tb testing.TB, format string) []byte {
	tb.Helper()
	var b bytes.Buffer
	var err error
	if format == "jpeg" {
		err = jpeg.Encode(&b, picture(), &jpeg.Options{Quality: 90})
	} else {
		err = png.Encode(&b, picture())
	}
	if err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

func signer(tb testing.TB, alg string) *c2patest.Signer {
	tb.Helper()
	s, err := c2patest.NewSigner(alg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func generated(s *c2patest.Signer) c2patest.Manifest {
	return c2patest.Manifest{
		ClaimGenerator: "Vigil Test Generator/1.0", Signer: s,
		Actions: []c2patest.Action{{Action: "c2pa.created", DigitalSourceType: c2patest.TrainedAlgorithmicMedia}},
	}
}

func embed(tb testing.TB, format string, m c2patest.Manifest) *c2patest.Embedded {
	tb.Helper()
	var e *c2patest.Embedded
	var err error
	if format == "jpeg" {
		e, err = c2patest.EmbedJPEG(encoded(tb, format), m)
	} else {
		e, err = c2patest.EmbedPNG(encoded(tb, format), m)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func reader(tb testing.TB, roots ...*x509.Certificate) *provenance.Reader {
	tb.Helper()
	r, err := provenance.NewReader(provenance.Options{Roots: roots})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func readC2PA(t *testing.T, r *provenance.Reader, data []byte) *provenance.C2PA {
	t.Helper()
	res := r.Read(data)
	if res == nil || res.C2PA == nil {
		t.Fatalf("no C2PA manifest read: %+v", res)
	}
	return res.C2PA
}

// A manifest signed by a chain to a trusted root, embedded in a JPEG and
// a PNG, with each algorithm C2PA allows: signature, binding and trust
// hold, and the actions say the picture was generated.
func TestC2PASigned(t *testing.T) {
	for _, alg := range []string{"ES256", "ES384", "PS256", "EdDSA"} {
		s := signer(t, alg)
		for _, format := range []string{"jpeg", "png"} {
			t.Run(alg+"/"+format, func(t *testing.T) {
				e := embed(t, format, generated(s))
				if _, f, err := image.Decode(bytes.NewReader(e.Data)); err != nil || f != format {
					t.Fatalf("embedding broke the image: %v %q", err, f)
				}
				c := readC2PA(t, reader(t, s.Root), e.Data)
				if !c.SignatureValid || !c.BindingValid || c.Trust != provenance.Trusted || len(c.Problems) > 0 {
					t.Fatalf("manifest does not hold: %+v", c)
				}
				if c.Alg != alg || !strings.Contains(c.Signer, "CN=Vigil Test Generator") || !strings.Contains(c.Issuer, "Intermediate") ||
					c.ClaimGenerator != "Vigil Test Generator/1.0" || c.Manifests != 1 {
					t.Fatalf("manifest fields: %+v", c)
				}
				if len(c.Actions) != 1 || c.Actions[0].Action != "c2pa.created" || c.Actions[0].DigitalSourceType != "trainedAlgorithmicMedia" {
					t.Fatalf("actions: %+v", c.Actions)
				}
				g := reader(t, s.Root).Read(e.Data).GenerativeAI()
				want := vigil.GenerativeAI{Source: vigil.GenerativeAIC2PA, DigitalSourceType: "trainedAlgorithmicMedia",
					Generator: "Vigil Test Generator/1.0", Signer: c.Signer, SignatureValid: true, BindingValid: true, Trust: provenance.Trusted}
				if g == nil || *g != want {
					t.Fatalf("generative AI indication %+v, want %+v", g, want)
				}
			})
		}
	}
}

// A C2PA 2 claim (claim_generator_info, created_assertions, actions v2)
// reads as a version 1 claim does.
func TestC2PAClaimV2(t *testing.T) {
	s := signer(t, "ES256")
	m := generated(s)
	m.V2 = true
	for _, format := range []string{"jpeg", "png"} {
		e := embed(t, format, m)
		if !bytes.Contains(e.Data, []byte("c2pa.claim.v2")) {
			t.Fatal("not a v2 claim")
		}
		c := readC2PA(t, reader(t, s.Root), e.Data)
		if !c.SignatureValid || !c.BindingValid || c.ClaimGenerator != "Vigil Test Generator/1.0" || len(c.Actions) != 1 ||
			c.Actions[0].DigitalSourceType != "trainedAlgorithmicMedia" || len(c.Problems) > 0 {
			t.Fatalf("%s v2 claim: %+v", format, c)
		}
	}
}

// A hard binding of a kind the reader does not check is reported as
// unchecked, not as holding.
func TestC2PAUncheckedBinding(t *testing.T) {
	s := signer(t, "ES256")
	m := generated(s)
	m.BoxesBinding = true
	c := readC2PA(t, reader(t, s.Root), embed(t, "jpeg", m).Data)
	if !c.SignatureValid || c.BindingValid || !strings.Contains(strings.Join(c.Problems, ";"), "c2pa.hash.boxes is not checked") {
		t.Fatalf("boxes binding: %+v", c)
	}
}

// A picture edited from a generated one: the active manifest declares no
// generative source, its ingredient's does; the indication says it is
// the ingredient's and claims no binding to this file.
func TestC2PAIngredient(t *testing.T) {
	s := signer(t, "ES256")
	ing := generated(s)
	m := generated(s)
	m.ClaimGenerator = "Vigil Test Editor/2.0"
	m.Actions = []c2patest.Action{{Action: "c2pa.opened"}, {Action: "c2pa.cropped"}}
	m.Ingredient = &ing
	res := reader(t, s.Root).Read(embed(t, "jpeg", m).Data)
	c := res.C2PA
	if c.Manifests != 2 || c.ClaimGenerator != "Vigil Test Editor/2.0" || !c.SignatureValid || !c.BindingValid || len(c.Problems) > 0 ||
		len(c.Ingredients) != 1 || !c.Ingredients[0].SignatureValid || c.Ingredients[0].Label != "urn:uuid:00000000-0000-4000-8000-000000000003" {
		t.Fatalf("store with an ingredient: %+v", c)
	}
	g := res.GenerativeAI()
	if g == nil || !g.Ingredient || g.BindingValid || !g.SignatureValid || g.Generator != "Vigil Test Generator/1.0" || g.Trust != provenance.Trusted {
		t.Fatalf("indication %+v", g)
	}
	// The file's own declaration comes first.
	m.Actions = []c2patest.Action{{Action: "c2pa.edited", DigitalSourceType: c2patest.CompositeSynthetic}}
	if g := reader(t, s.Root).Read(embed(t, "png", m).Data).GenerativeAI(); g == nil || g.Ingredient || g.DigitalSourceType != "compositeSynthetic" || !g.BindingValid {
		t.Fatalf("own declaration %+v", g)
	}
}

// A manifest spread over many small APP11 segments is reassembled.
func TestC2PAJPEGManySegments(t *testing.T) {
	s := signer(t, "ES256")
	m := generated(s)
	m.SegmentSize = 100
	e := embed(t, "jpeg", m)
	if n := bytes.Count(e.Data, []byte{0xFF, 0xEB}); n < 10 {
		t.Fatalf("only %d APP11 segments", n)
	}
	c := readC2PA(t, reader(t, s.Root), e.Data)
	if !c.SignatureValid || !c.BindingValid || c.Trust != provenance.Trusted {
		t.Fatalf("manifest does not hold: %+v", c)
	}
}

// Pixels changed after signing: the signature still holds, the binding
// does not.
func TestC2PATamperedPixels(t *testing.T) {
	s := signer(t, "ES256")
	for _, format := range []string{"jpeg", "png"} {
		t.Run(format, func(t *testing.T) {
			e := embed(t, format, generated(s))
			data := bytes.Clone(e.Data)
			var at int
			if format == "jpeg" {
				at = len(data) - 10 // entropy-coded data, before EOI
			} else {
				at = bytes.Index(data, []byte("IDAT")) + 20
			}
			data[at] ^= 0x55
			c := readC2PA(t, reader(t, s.Root), data)
			if !c.SignatureValid || c.BindingValid || !strings.Contains(strings.Join(c.Problems, ";"), "changed after signing") {
				t.Fatalf("tampered pixels: %+v", c)
			}
			if g := reader(t, s.Root).Read(data).GenerativeAI(); g == nil || g.BindingValid || !g.SignatureValid {
				t.Fatalf("indication %+v", g)
			}
		})
	}
}

// A signature or claim changed: the signature fails, the binding (which
// excludes the manifest) holds.
func TestC2PATamperedSignature(t *testing.T) {
	s := signer(t, "ES256")
	for _, format := range []string{"jpeg", "png"} {
		for _, part := range []string{"signature", "claim"} {
			t.Run(format+"/"+part, func(t *testing.T) {
				e := embed(t, format, generated(s))
				data := bytes.Clone(e.Data)
				if part == "signature" {
					at := bytes.Index(data, e.Signature)
					data[at+5] ^= 0x01
				} else {
					at := bytes.Index(data, e.Claim) + bytes.Index(e.Claim, []byte("Vigil Test Generator/1.0"))
					data[at] = 'W'
				}
				if format == "png" {
					// Keep the chunk's CRC right: a file edited by a tool,
					// not a corrupt one.
					data = fixPNGCRC(data)
				}
				c := readC2PA(t, reader(t, s.Root), data)
				if c.SignatureValid || !c.BindingValid || !strings.Contains(strings.Join(c.Problems, ";"), "does not verify") {
					t.Fatalf("tampered %s: %+v", part, c)
				}
			})
		}
	}
}

// An assertion changed after signing no longer matches the claim's hash
// for it: it is dropped, and says so.
func TestC2PATamperedAssertion(t *testing.T) {
	s := signer(t, "ES256")
	e := embed(t, "jpeg", generated(s))
	data := bytes.Clone(e.Data)
	at := bytes.Index(data, []byte("trainedAlgorithmicMedia"))
	copy(data[at:], "trainedAlgorithmicMediX")
	res := reader(t, s.Root).Read(data)
	if c := res.C2PA; !c.SignatureValid || !c.BindingValid || len(c.Actions) != 0 ||
		!strings.Contains(strings.Join(c.Problems, ";"), "c2pa.actions: hash differs") {
		t.Fatalf("tampered assertion: %+v", c)
	}
	if g := res.GenerativeAI(); g != nil {
		t.Fatalf("indication from an unsigned assertion: %+v", g)
	}
}

// Signers the reader does not trust are reported as what they are.
func TestC2PATrust(t *testing.T) {
	s := signer(t, "ES256")
	other := signer(t, "ES256")
	self, err := c2patest.NewSelfSigned("ES256")
	if err != nil {
		t.Fatal(err)
	}
	broken := *s
	broken.Chain = append(broken.Chain[:1:1], other.Chain[1]) // an intermediate that did not sign the leaf
	for _, tc := range []struct {
		name   string
		signer *c2patest.Signer
		roots  []*x509.Certificate
		want   string
	}{
		{"no-roots", s, nil, provenance.Untrusted},
		{"other-root", s, []*x509.Certificate{other.Root}, provenance.Untrusted},
		{"self-signed", self, nil, provenance.SelfSigned},
		{"self-signed-with-roots", self, []*x509.Certificate{s.Root}, provenance.SelfSigned},
		{"broken-chain", &broken, []*x509.Certificate{s.Root}, provenance.InvalidChain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := embed(t, "jpeg", generated(tc.signer))
			c := readC2PA(t, reader(t, tc.roots...), e.Data)
			if c.Trust != tc.want || !c.SignatureValid || !c.BindingValid {
				t.Fatalf("trust %q, want %q: %+v", c.Trust, tc.want, c)
			}
			if g := reader(t, tc.roots...).Read(e.Data).GenerativeAI(); g == nil || g.Trust != tc.want {
				t.Fatalf("indication %+v", g)
			}
		})
	}
}

// A manifest without a generative source type gives no indication.
func TestC2PACaptureNotGenerative(t *testing.T) {
	s := signer(t, "ES256")
	m := generated(s)
	m.Actions = []c2patest.Action{{Action: "c2pa.created", DigitalSourceType: c2patest.DigitalCapture}, {Action: "c2pa.resized"}}
	e := embed(t, "png", m)
	res := reader(t, s.Root).Read(e.Data)
	if res.C2PA == nil || len(res.C2PA.Actions) != 2 || res.GenerativeAI() != nil {
		t.Fatalf("capture: %+v %+v", res.C2PA, res.GenerativeAI())
	}
}

func TestXMPDigitalSourceType(t *testing.T) {
	const ns = `xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ext="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"`
	for _, tc := range []struct {
		name, packet, want string
		generative         bool
	}{
		{"resource", string(c2patest.XMP(c2patest.TrainedAlgorithmicMedia)), "trainedAlgorithmicMedia", true},
		{"attribute", `<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF ` + ns + `><rdf:Description ext:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic"/></rdf:RDF></x:xmpmeta>`, "compositeSynthetic", true},
		{"text", `<rdf:RDF ` + ns + `><rdf:Description><ext:DigitalSourceType> http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia </ext:DigitalSourceType></rdf:Description></rdf:RDF>`, "algorithmicMedia", true},
		{"capture", string(c2patest.XMP(c2patest.DigitalCapture)), "digitalCapture", false},
		{"other-namespace", `<rdf:RDF ` + ns + ` xmlns:o="urn:other"><rdf:Description o:DigitalSourceType="trainedAlgorithmicMedia"/></rdf:RDF>`, "", false},
	} {
		for _, format := range []string{"jpeg", "png"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				var data []byte
				if format == "jpeg" {
					data = c2patest.XMPJPEG(encoded(t, format), []byte(tc.packet))
				} else {
					data = c2patest.XMPPNG(encoded(t, format), []byte(tc.packet))
				}
				if _, _, err := image.Decode(bytes.NewReader(data)); err != nil {
					t.Fatal(err)
				}
				res := reader(t).Read(data)
				got := ""
				if res != nil && res.XMP != nil {
					got = res.XMP.DigitalSourceType
				}
				if got != tc.want {
					t.Fatalf("source type %q, want %q (%+v)", got, tc.want, res)
				}
				g := res.GenerativeAI()
				if (g != nil) != tc.generative || (g != nil && (g.Source != vigil.GenerativeAIXMP || g.DigitalSourceType != tc.want)) {
					t.Fatalf("indication %+v", g)
				}
			})
		}
	}
}

func TestNoProvenance(t *testing.T) {
	for _, data := range [][]byte{encoded(t, "jpeg"), encoded(t, "png"), []byte("GIF89a"), nil} {
		if res := reader(t).Read(data); res != nil {
			t.Fatalf("provenance in a plain file: %+v", res)
		}
	}
}

// fixPNGCRC recomputes every chunk's CRC.
func fixPNGCRC(data []byte) []byte {
	out := bytes.Clone(data[:8])
	for i := 8; i+12 <= len(data); {
		n := int(uint32(data[i])<<24 | uint32(data[i+1])<<16 | uint32(data[i+2])<<8 | uint32(data[i+3]))
		out = append(out, c2patest.Chunk(string(data[i+4:i+8]), data[i+8:i+8+n])...)
		i += 12 + n
	}
	return out
}

// A signer's subject is outside input: the indication a case stores is
// made printable and short.
func TestGenerativeAIClean(t *testing.T) {
	res := &provenance.Result{C2PA: &provenance.C2PA{Manifest: provenance.Manifest{
		Signer: "CN=evil\u202e" + strings.Repeat("x", 400), ClaimGenerator: "gen\x00",
		Actions: []provenance.Action{{Action: "c2pa.created", DigitalSourceType: "trainedAlgorithmicMedia"}},
	}}}
	g := res.GenerativeAI()
	if g == nil || g.Validate() != nil || len(g.Signer) > vigil.MaxEntryFieldLen || !strings.HasPrefix(g.Signer, "CN=evil\uFFFDxx") || g.Generator != "gen\uFFFD" {
		t.Fatalf("indication %+v: %v", g, g.Validate())
	}
}

// A signer whose certificate expired since signing is reported as such:
// the chain held when it was issued; the time-stamp is not checked.
func TestC2PAExpired(t *testing.T) {
	s := signer(t, "ES256")
	e := embed(t, "jpeg", generated(s))
	r, err := provenance.NewReader(provenance.Options{Roots: []*x509.Certificate{s.Root}, Now: func() time.Time { return time.Now().Add(72 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	c := readC2PA(t, r, e.Data)
	if c.Trust != provenance.Expired || !c.SignatureValid || !c.BindingValid || !strings.Contains(strings.Join(c.Problems, ";"), "expired") {
		t.Fatalf("expired signer: %+v", c)
	}
	other := signer(t, "ES256")
	r, err = provenance.NewReader(provenance.Options{Roots: []*x509.Certificate{other.Root}, Now: func() time.Time { return time.Now().Add(72 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	if c := readC2PA(t, r, e.Data); c.Trust != provenance.Untrusted {
		t.Fatalf("expired signer of another root: %+v", c)
	}
}

// Certificates whose RSA keys are labelled id-RSASSA-PSS, as C2PA's test
// certificates are: the claim's signature and the chain verify, and the
// trust anchors the reader is given can be such certificates too.
func TestC2PAPSSKeys(t *testing.T) {
	s, err := c2patest.NewPSSKeySigner()
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := x509.ParseCertificate(s.Chain[0].Raw); err != nil || plain.PublicKey != nil {
		t.Fatalf("the fixture's key is one crypto/x509 reads (%T, %v): the test tests nothing", plain.PublicKey, err)
	}
	e := embed(t, "png", generated(s))
	c := readC2PA(t, reader(t, s.Root), e.Data)
	if !c.SignatureValid || !c.BindingValid || c.Trust != provenance.Trusted || c.Alg != "PS256" {
		t.Fatalf("PSS-keyed signer: %+v", c)
	}
	inter, err := provenance.ParseCertificate(s.Chain[1].Raw)
	if err != nil {
		t.Fatal(err)
	}
	// Only the intermediate trusted: the signer chains to it directly.
	if c := readC2PA(t, reader(t, inter), e.Data); c.Trust != provenance.Trusted {
		t.Fatalf("PSS-keyed anchor: %+v", c)
	}
}
