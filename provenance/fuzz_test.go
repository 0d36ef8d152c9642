package provenance

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"image"
	"image/jpeg"
	"image/png"
	"testing"
	"time"

	"github.com/vigil-oss/vigil/provenance/c2patest"
)

// fuzzSeeds are signed fixtures in both containers and XMP packets.
func fuzzSeeds(f *testing.F) (files [][]byte, stores [][]byte) {
	img := image.NewGray(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	var j, p bytes.Buffer
	if err := jpeg.Encode(&j, img, nil); err != nil {
		f.Fatal(err)
	}
	if err := png.Encode(&p, img); err != nil {
		f.Fatal(err)
	}
	s, err := c2patest.NewSigner("ES256")
	if err != nil {
		f.Fatal(err)
	}
	a, err := c2patest.NewTSA()
	if err != nil {
		f.Fatal(err)
	}
	m := c2patest.Manifest{ClaimGenerator: "fuzz", Signer: s, SegmentSize: 300,
		Actions: []c2patest.Action{{Action: "c2pa.created", DigitalSourceType: c2patest.TrainedAlgorithmicMedia}}}
	stamped := m
	stamped.Timestamp = &c2patest.Timestamp{TSA: a, At: time.Now()}
	if stamped.OCSP, err = s.OCSP(time.Time{}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour)); err != nil {
		f.Fatal(err)
	}
	ej, err := c2patest.EmbedJPEG(j.Bytes(), stamped)
	if err != nil {
		f.Fatal(err)
	}
	ing := m
	ing.ClaimGenerator = "ingredient"
	m.Ingredient = &ing
	ep, err := c2patest.EmbedPNG(p.Bytes(), m)
	if err != nil {
		f.Fatal(err)
	}
	// A BMFF file of two boxes, ftyp and mdat, with a manifest after
	// ftyp bound by c2pa.hash.bmff.v2.
	mp4 := append(binary.BigEndian.AppendUint32(nil, 16), "ftypisom\x00\x00\x02\x00"...)
	mp4 = append(append(binary.BigEndian.AppendUint32(mp4, 8+64), "mdat"...), make([]byte, 64)...)
	eb, err := c2patest.EmbedBMFF(mp4, stamped, 2)
	if err != nil {
		f.Fatal(err)
	}
	files = [][]byte{ej.Data, ep.Data, eb.Data,
		c2patest.XMPJPEG(j.Bytes(), c2patest.XMP(c2patest.CompositeSynthetic)),
		c2patest.XMPPNG(p.Bytes(), c2patest.XMP(c2patest.TrainedAlgorithmicMedia))}
	e := pngChunks(ep.Data, DefaultLimits)
	return files, [][]byte{jpegSegments(ej.Data, DefaultLimits).jumbf, e.jumbf}
}

func fuzzReader(f *testing.F) *Reader {
	r, err := NewReader(Options{})
	if err != nil {
		f.Fatal(err)
	}
	return r
}

// FuzzRead: whole files, through the container walkers.
func FuzzRead(f *testing.F) {
	files, _ := fuzzSeeds(f)
	for _, d := range files {
		f.Add(d)
	}
	r := fuzzReader(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		res := r.Read(data)
		if res != nil && res.C2PA != nil && res.C2PA.BindingValid && len(data) > 0 {
			_ = sha256.Sum256(data)
		}
	})
}

// FuzzManifestStore: the JUMBF tree, claim, assertions and COSE signature
// of a manifest store, without a container around it.
func FuzzManifestStore(f *testing.F) {
	_, stores := fuzzSeeds(f)
	for _, d := range stores {
		f.Add(d)
	}
	r := fuzzReader(f)
	f.Fuzz(func(t *testing.T, store []byte) {
		c := &C2PA{}
		r.readManifestStore(c, store, store, false)
		if c.SignatureValid && c.Signer == "" {
			t.Fatal("a valid signature without a signer")
		}
	})
}

// FuzzSignature: a COSE_Sign1 message, its certificate chain, its
// time-stamp and its stapled OCSP response (the seed's store has both).
func FuzzSignature(f *testing.F) {
	_, stores := fuzzSeeds(f)
	p := &jumbfParser{maxDepth: 8, maxBoxes: 1024}
	boxes, err := p.parseBoxes(stores[0], 0)
	if err != nil {
		f.Fatal(err)
	}
	m := boxes[0].children[0]
	sig, _ := m.child("c2pa.signature").content("cbor")
	claim, _ := m.child("c2pa.claim").content("cbor")
	f.Add(sig, claim)
	r := fuzzReader(f)
	f.Fuzz(func(t *testing.T, sig, payload []byte) {
		s, err := r.decodeSignature(sig)
		if err != nil {
			return
		}
		_ = s.verify(payload)
		_, _ = r.trust(s.chain, r.now(), false)
		_ = r.checkTimestamp(s, payload)
		_ = r.checkRevocation(s, r.now())
	})
}

// FuzzXMP: an XMP packet.
func FuzzXMP(f *testing.F) {
	f.Add(c2patest.XMP(c2patest.TrainedAlgorithmicMedia))
	f.Add([]byte(`<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:e="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" e:DigitalSourceType="algorithmicMedia"/></rdf:RDF>`))
	f.Fuzz(func(t *testing.T, packet []byte) {
		_, _ = digitalSourceType(packet, DefaultLimits)
	})
}

// FuzzBMFFHash: a c2pa.hash.bmff assertion and the file it binds, through
// the box walk, exclusion matching and the hash.
func FuzzBMFFHash(f *testing.F) {
	files, _ := fuzzSeeds(f)
	r := fuzzReader(f)
	e := bmffManifest(files[2], r.limits)
	p := &jumbfParser{maxDepth: 8, maxBoxes: 1024}
	boxes, err := p.parseBoxes(e.jumbf, 0)
	if err != nil {
		f.Fatal(err)
	}
	a := boxes[0].children[0].child("c2pa.assertions").child("c2pa.hash.bmff.v2")
	content, _ := a.content("cbor")
	f.Add(content, files[2], uint8(2))
	f.Add(content, files[2], uint8(3))
	f.Fuzz(func(t *testing.T, content, file []byte, version uint8) {
		_ = r.checkBMFFHash(content, "sha256", int(version%4), file)
	})
}
