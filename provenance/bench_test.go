package provenance_test

import (
	"testing"

	"github.com/vigil-oss/vigil/internal/cputime"
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
