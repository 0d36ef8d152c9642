package hashing

import (
	"bytes"
	"image"
	"testing"

	"github.com/vigil-oss/vigil/internal/cputime"
)

// BenchmarkHashFile measures file bytes → digests + PDQ end to end, next to
// decode-only as the in-run baseline (the share of time the decoder takes).
func BenchmarkHashFile(b *testing.B) {
	for _, file := range []string{"testdata/bridge-1600x1004.jpg", "testdata/bridge-1600x1004.png"} {
		data := readFile(b, file)
		b.Run("decode-only/"+file[9:], func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			cputime.PerOp(b, func() {
				if _, _, err := image.Decode(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run("hash/"+file[9:], func(b *testing.B) {
			h := NewHasher(Options{})
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			cputime.PerOp(b, func() {
				if _, err := h.HashReader(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkDecodeImage measures DecodeImage with a shared decode budget
// against DecodeImage without one, the in-run baseline: the budget's
// reservation and the plausibility check are what it adds.
func BenchmarkDecodeImage(b *testing.B) {
	for _, file := range []string{"testdata/bridge-1600x1004.jpg", "testdata/bridge-1600x1004.png"} {
		data := readFile(b, file)
		for _, lim := range []struct {
			name string
			l    Limits
		}{{"no-budget", Limits{}}, {"budget", Limits{Memory: NewDecodeBudget(0, 0)}}} {
			b.Run(lim.name+"/"+file[9:], func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				cputime.PerOp(b, func() {
					_, _, release, err := DecodeImage(b.Context(), data, lim.l)
					if err != nil {
						b.Fatal(err)
					}
					release()
				})
			})
		}
	}
}

// BenchmarkProvenance measures the hashing step with the provenance
// reader against without it, the in-run baseline, on a photo carrying a
// signed C2PA manifest; and the reader alone (parse and verify).
func BenchmarkProvenance(b *testing.B) {
	data, r := signedJPEG(b)
	plain := readFile(b, "testdata/bridge-1600x1004.jpg")
	b.Run("read-only/signed.jpg", func(b *testing.B) {
		b.ReportAllocs()
		cputime.PerOp(b, func() {
			if res := r.Read(data); res == nil || !res.C2PA.SignatureValid {
				b.Fatal("manifest does not hold")
			}
		})
	})
	b.Run("read-only/plain.jpg", func(b *testing.B) {
		b.ReportAllocs()
		cputime.PerOp(b, func() {
			if res := r.Read(plain); res != nil {
				b.Fatal("provenance in a plain file")
			}
		})
	})
	for _, tc := range []struct {
		name string
		opts Options
	}{{"hash-without-reader", Options{}}, {"hash-with-reader", Options{Provenance: r}}} {
		b.Run(tc.name+"/signed.jpg", func(b *testing.B) {
			h := NewHasher(tc.opts)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			cputime.PerOp(b, func() {
				if _, err := h.HashReader(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
