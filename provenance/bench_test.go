package provenance_test

import (
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-oss/vigil/internal/cputime"
	"github.com/vigil-oss/vigil/provenance"
	"github.com/vigil-oss/vigil/provenance/c2patest"
)

// BenchmarkRead measures parse and verify of a signed manifest per
// algorithm and container on a small generated image (where the binding's
// hash over the file is cheap and the signature dominates), next to the
// same image with no provenance, the in-run baseline: what a file without
// any costs the hashing step.
func BenchmarkRead(b *testing.B) {
	for _, alg := range []string{"ES256", "PS256", "EdDSA"} {
		s := signer(b, alg)
		for _, format := range []string{"jpeg", "png"} {
			e := embed(b, format, generated(s))
			r := reader(b, s.Root)
			b.Run(alg+"/"+format, func(b *testing.B) {
				b.ReportAllocs()
				cputime.PerOp(b, func() {
					if res := r.Read(e.Data); res == nil || !res.C2PA.SignatureValid || !res.C2PA.BindingValid {
						b.Fatal("manifest does not hold")
					}
				})
			})
		}
	}
	// A time-stamped manifest (sigTst2) of a signer whose certificate
	// has expired: the token's parse, imprint, TSA signature and chain,
	// then the signer's chain at the stamped time.
	s, a := expiredSigner(b), tsa(b)
	m := generated(s)
	m.Timestamp = &c2patest.Timestamp{TSA: a, At: time.Now().Add(-48 * time.Hour)}
	stamped := embed(b, "jpeg", m)
	rs := tsaReader(b, []*x509.Certificate{s.Root}, []*x509.Certificate{a.Root})
	b.Run("ES256+tsa/jpeg", func(b *testing.B) {
		b.ReportAllocs()
		cputime.PerOp(b, func() {
			if c := rs.Read(stamped.Data).C2PA; c.Trust != provenance.Trusted || !c.Timestamp.Valid {
				b.Fatal("time-stamp does not hold")
			}
		})
	})
	// An MP4 (ffmpeg's test pattern, 1 s) with its manifest in the C2PA
	// uuid box, bound by c2pa.hash.bmff v2 and v3, next to the same MP4
	// without one.
	es := signer(b, "ES256")
	for _, version := range []int{2, 3} {
		e := embedBMFF(b, generated(es), version)
		r := reader(b, es.Root)
		b.Run(fmt.Sprintf("ES256/mp4-bmff-v%d", version), func(b *testing.B) {
			b.ReportAllocs()
			cputime.PerOp(b, func() {
				if c := r.Read(e.Data).C2PA; !c.SignatureValid || !c.BindingValid {
					b.Fatal("manifest does not hold")
				}
			})
		})
	}
	plainMP4 := tinyMP4(b)
	rp := reader(b)
	b.Run("none/mp4", func(b *testing.B) {
		b.ReportAllocs()
		cputime.PerOp(b, func() {
			if rp.Read(plainMP4) != nil {
				b.Fatal("provenance in a plain file")
			}
		})
	})
	for _, format := range []string{"jpeg", "png"} {
		plain := encoded(b, format)
		r := reader(b)
		b.Run("none/"+format, func(b *testing.B) {
			b.ReportAllocs()
			cputime.PerOp(b, func() {
				if r.Read(plain) != nil {
					b.Fatal("provenance in a plain file")
				}
			})
		})
	}
	xmp := c2patest.XMPJPEG(encoded(b, "jpeg"), c2patest.XMP(c2patest.TrainedAlgorithmicMedia))
	r := reader(b)
	b.Run("xmp/jpeg", func(b *testing.B) {
		b.ReportAllocs()
		cputime.PerOp(b, func() {
			if r.Read(xmp).GenerativeAI() == nil {
				b.Fatal("no indication")
			}
		})
	})
}
