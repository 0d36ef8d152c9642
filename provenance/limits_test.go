package provenance_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/vigil-oss/vigil/provenance"
	"github.com/vigil-oss/vigil/provenance/c2patest"
)

func box(typ string, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	return append(append(b, typ...), body...)
}

func superbox(code, label string, kids ...[]byte) []byte {
	d := append([]byte(code), 0x00, 0x11, 0x00, 0x10, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71, 0x03)
	body := box("jumd", append(append(d, label...), 0))
	for _, k := range kids {
		body = append(body, k...)
	}
	return box("jumb", body)
}

// inPNG puts a manifest store into a generated PNG's caBX chunk.
func inPNG(t *testing.T, store []byte) []byte {
	p := encoded(t, "png")
	return bytes.Join([][]byte{p[:33], c2patest.Chunk("caBX", store), p[33:]}, nil)
}

func problems(t *testing.T, l provenance.Limits, data []byte) string {
	t.Helper()
	r, err := provenance.NewReader(provenance.Options{Limits: l})
	if err != nil {
		t.Fatal(err)
	}
	res := r.Read(data)
	if res == nil || res.C2PA == nil {
		t.Fatalf("no manifest reported: %+v", res)
	}
	if res.C2PA.SignatureValid {
		t.Fatalf("a refused manifest holds: %+v", res.C2PA)
	}
	return strings.Join(res.C2PA.Problems, "; ")
}

// Each limit refuses what exceeds it, as a problem in the result.
func TestLimits(t *testing.T) {
	deep := superbox("c2ma", "m")
	for range 20 {
		deep = superbox("c2ma", "m", deep)
	}
	many := make([][]byte, 50)
	for i := range many {
		many[i] = box("free", nil)
	}
	s := signer(t, "ES256")
	long := *s
	for range 9 {
		long.Chain = append(long.Chain, s.Chain[1])
	}
	longChain := embed(t, "png", generated(&long)).Data

	// A claim nested deeper than the CBOR limit.
	var nested any = "x"
	for range 40 {
		nested = []any{nested}
	}
	deepClaim, err := cbor.Marshal(map[string]any{"claim_generator": nested, "signature": "self#jumbf=c2pa.signature"})
	if err != nil {
		t.Fatal(err)
	}
	deepCBOR := superbox("c2pa", "c2pa", superbox("c2ma", "urn:m", superbox("c2cl", "c2pa.claim", box("cbor", deepClaim))))

	m := generated(s)
	m.SegmentSize = 100
	segmented := embed(t, "jpeg", m).Data

	for _, tc := range []struct {
		name   string
		limits provenance.Limits
		data   []byte
		want   string
	}{
		{"box-depth", provenance.Limits{}, inPNG(t, superbox("c2pa", "c2pa", deep)), "nested deeper than 8"},
		{"box-count", provenance.Limits{MaxBoxes: 20}, inPNG(t, superbox("c2pa", "c2pa", many...)), "more than 20 boxes"},
		{"box-size", provenance.Limits{}, inPNG(t, append(binary.BigEndian.AppendUint32(nil, 1<<30), "jumb"...)), "outside its"},
		{"cbor-depth", provenance.Limits{}, inPNG(t, deepCBOR), "exceeded max nested level"},
		{"chain-length", provenance.Limits{}, longChain, "x5chain of 11 certificates, over the limit of 8"},
		{"manifest-bytes", provenance.Limits{MaxManifestBytes: 1000}, segmented, "larger than 1000 bytes"},
		{"manifest-bytes-png", provenance.Limits{MaxManifestBytes: 1000}, embed(t, "png", generated(s)).Data, "larger than 1000 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := problems(t, tc.limits, tc.data); !strings.Contains(got, tc.want) {
				t.Fatalf("problems %q, want %q", got, tc.want)
			}
		})
	}
}

// Only the newest ingredients' manifests are checked, up to MaxManifests
// with the active one.
func TestManifestLimit(t *testing.T) {
	s := signer(t, "ES256")
	m := generated(s)
	for range 3 {
		ing := m
		m.Ingredient = &ing
	}
	data := embed(t, "png", m).Data
	for _, tc := range []struct{ max, want int }{{0, 3}, {1, 0}, {2, 1}, {3, 2}} {
		r, err := provenance.NewReader(provenance.Options{Limits: provenance.Limits{MaxManifests: tc.max}})
		if err != nil {
			t.Fatal(err)
		}
		if c := r.Read(data).C2PA; c.Manifests != 4 || len(c.Ingredients) != tc.want || !c.SignatureValid ||
			(tc.want > 0 && c.Ingredients[0].Label != "urn:uuid:00000000-0000-4000-8000-000000000003") {
			t.Errorf("MaxManifests %d: %d manifests, %d ingredients read, want %d", tc.max, c.Manifests, len(c.Ingredients), tc.want)
		}
	}
}

// A claim listing its assertions many times has each read once: actions
// are not repeated, and the work is bounded by the manifest, not by the
// references.
func TestRepeatedAssertionRefs(t *testing.T) {
	s := signer(t, "ES256")
	m := generated(s)
	m.RepeatRefs = 1000
	c := readC2PA(t, reader(t, s.Root), embed(t, "jpeg", m).Data)
	if !c.SignatureValid || !c.BindingValid || len(c.Actions) != 1 {
		t.Fatalf("repeated refs: %d actions, %+v", len(c.Actions), c.Problems)
	}
}

func TestXMPLimits(t *testing.T) {
	deep := strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100)
	for _, tc := range []struct {
		name, packet string
		limits       provenance.Limits
		want         string
	}{
		{"depth", deep, provenance.Limits{}, "nested deeper than 64"},
		{"size", string(c2patest.XMP(c2patest.TrainedAlgorithmicMedia)), provenance.Limits{MaxXMPBytes: 100}, "larger than 100 bytes"},
		{"malformed", "<a><b></a>", provenance.Limits{}, "xmp:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := provenance.NewReader(provenance.Options{Limits: tc.limits})
			if err != nil {
				t.Fatal(err)
			}
			res := r.Read(c2patest.XMPJPEG(encoded(t, "jpeg"), []byte(tc.packet)))
			if res == nil || res.XMP == nil || !strings.Contains(res.XMP.Problem, tc.want) || res.GenerativeAI() != nil {
				t.Fatalf("got %+v, want problem %q", res, tc.want)
			}
		})
	}
}
