package hashing

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"testing"

	"github.com/vigil-oss/vigil"

	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/provenance"
	"github.com/vigil-oss/vigil/provenance/c2patest"
)

// signedJPEG returns a testdata photo (a bridge) with a signed manifest
// declaring it generated, and a reader trusting its signer.
func signedJPEG(tb testing.TB) ([]byte, *provenance.Reader) {
	tb.Helper()
	s, err := c2patest.NewSigner("ES256")
	if err != nil {
		tb.Fatal(err)
	}
	e, err := c2patest.EmbedJPEG(readFile(tb, "testdata/bridge-1600x1004.jpg"), c2patest.Manifest{
		ClaimGenerator: "Vigil Test Generator/1.0", Signer: s,
		Actions: []c2patest.Action{{Action: "c2pa.created", DigitalSourceType: c2patest.TrainedAlgorithmicMedia}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	r, err := provenance.NewReader(provenance.Options{Roots: []*x509.Certificate{s.Root}})
	if err != nil {
		tb.Fatal(err)
	}
	return e.Data, r
}

// The hashing step reads provenance from the bytes it hashes, when given
// a reader, and the PDQ hash is the same as without one.
func TestHashContentProvenance(t *testing.T) {
	data, r := signedJPEG(t)
	with := NewHasher(Options{Provenance: r})
	d, b, err := with.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c, err := with.HashContent(context.Background(), d, b, ContentOptions{NoVideo: true})
	if err != nil {
		t.Fatal(err)
	}
	g := c.Provenance.GenerativeAI()
	if c.Provenance == nil || c.Provenance.C2PA == nil || !c.Provenance.C2PA.BindingValid || g == nil ||
		g.DigitalSourceType != "trainedAlgorithmicMedia" || !g.SignatureValid || g.Trust != provenance.Trusted {
		t.Fatalf("provenance %+v, indication %+v", c.Provenance, g)
	}
	plain, err := NewHasher(Options{}).HashImageBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Provenance != nil || c.Signals[0].Value != plain.PDQ.String() {
		t.Fatalf("without a reader: provenance %+v, pdq %s vs %s", plain.Provenance, plain.PDQ, c.Signals[0].Value)
	}
	orig, err := NewHasher(Options{}).HashImageBytes(readFile(t, "testdata/bridge-1600x1004.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	if pdq.Distance(orig.PDQ, plain.PDQ) != 0 {
		t.Fatalf("the manifest changed the pixels' hash")
	}
}

// The video path reads the C2PA manifest of an MP4 from the bytes it
// hashed, and the video hashes as it did without the manifest (the
// chunk offsets were moved with the box).
func TestHashContentVideoProvenance(t *testing.T) {
	if os.Getenv("VIGIL_SKIP_FFMPEG") != "" {
		t.Skip("VIGIL_SKIP_FFMPEG set")
	}
	s, err := c2patest.NewSigner("ES256")
	if err != nil {
		t.Fatal(err)
	}
	plain := readFile(t, "../vpdq/testdata/sample-videos/doorknob-hd-no-bar.mp4")
	e, err := c2patest.EmbedBMFF(plain, c2patest.Manifest{
		ClaimGenerator: "Vigil Test Generator/1.0", Signer: s,
		Actions: []c2patest.Action{{Action: "c2pa.created", DigitalSourceType: c2patest.TrainedAlgorithmicMedia}},
	}, 3)
	if err != nil {
		t.Fatal(err)
	}
	r, err := provenance.NewReader(provenance.Options{Roots: []*x509.Certificate{s.Root}})
	if err != nil {
		t.Fatal(err)
	}
	hash := func(h *Hasher, data []byte) *Content {
		d, b, err := h.Read(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		c, err := h.HashContent(context.Background(), d, b, ContentOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Signals) == 0 || c.Signals[0].Type != vigil.SignalVPDQ {
			t.Fatalf("no vPDQ signal: %+v", c)
		}
		return c
	}
	with := hash(NewHasher(Options{Provenance: r}), e.Data)
	g := with.Provenance.GenerativeAI()
	if with.Provenance == nil || with.Provenance.C2PA == nil || !with.Provenance.C2PA.BindingValid || g == nil || !g.Verified() {
		t.Fatalf("video provenance %+v, indication %+v", with.Provenance, g)
	}
	without := hash(NewHasher(Options{Provenance: r}), plain)
	if without.Provenance != nil || without.Signals[0].Value != with.Signals[0].Value {
		t.Fatalf("the manifest changed the video's frames, or a plain video has provenance: %+v", without.Provenance)
	}
}
