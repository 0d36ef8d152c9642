package http

import (
	"bytes"
	"image"
	"os"
	"testing"

	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/internal/cputime"
)

// BenchmarkBlurredRendition measures the preview a case page asks for:
// file bytes → decoded, greyscale, downscaled, blurred PNG. Decode-only is
// the in-run baseline: the rest is what the rendition adds to it.
func BenchmarkBlurredRendition(b *testing.B) {
	for _, file := range []string{"../hashing/testdata/bridge-1600x1004.jpg", "../hashing/testdata/bridge-1600x1004.png"} {
		data, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		name := file[len("../hashing/testdata/"):]
		b.Run("decode-only/"+name, func(b *testing.B) {
			b.ReportAllocs()
			cputime.PerOp(b, func() {
				if _, _, err := image.Decode(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run("rendition/"+name, func(b *testing.B) {
			b.ReportAllocs()
			cputime.PerOp(b, func() {
				if _, err := blurredRendition(data, hashing.Limits{}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
