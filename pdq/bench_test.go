package pdq

import (
	"image"
	"math/rand/v2"
	"testing"

	"github.com/vigil-oss/vigil/internal/cputime"
)

// benchImage returns a deterministic colour photo-like image: smooth
// gradients plus noise, as a decoder would hand over.
func benchImage(w, h int) *image.NRGBA {
	r := rand.New(rand.NewPCG(7, 8))
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			i := img.PixOffset(x, y)
			img.Pix[i] = byte(x*255/w) ^ byte(r.IntN(16))
			img.Pix[i+1] = byte(y*255/h) ^ byte(r.IntN(16))
			img.Pix[i+2] = byte((x+y)*127/(w+h)) ^ byte(r.IntN(16))
			img.Pix[i+3] = 255
		}
	}
	return img
}

// BenchmarkHash measures PDQ on already-decoded images, at full resolution
// and, as the baseline the C++ command-line tool uses, after the 512×512
// pre-resize. The "naive" cases run the literal whole-buffer filter of the
// reference (see naiveTransform) on the same image, as an in-run baseline
// for the streaming filter.
func BenchmarkHash(b *testing.B) {
	for _, sz := range [][2]int{{1024, 1024}, {1600, 1004}} {
		img := benchImage(sz[0], sz[1])
		name := func(s string) string { return s + "/" + itoa(sz[0]) + "x" + itoa(sz[1]) }
		b.Run(name("full"), func(b *testing.B) {
			h := NewHasher(Full)
			b.ReportAllocs()
			cputime.PerOp(b, func() { h.Hash(img) })
		})
		b.Run(name("full-dihedral"), func(b *testing.B) {
			h := NewHasher(Full)
			b.ReportAllocs()
			cputime.PerOp(b, func() { h.HashDihedral(img) })
		})
		b.Run(name("cli512"), func(b *testing.B) {
			h := NewHasher(CLI512)
			b.ReportAllocs()
			cputime.PerOp(b, func() { h.Hash(img) })
		})
		b.Run(name("naive-full"), func(b *testing.B) {
			h := NewHasher(Full)
			src := h.imageSource(img)
			rows, cols := src.Rows(), src.Cols()
			b.ReportAllocs()
			cputime.PerOp(b, func() {
				luma := make([]float32, rows*cols)
				for y := range rows {
					src.FillRow(y, luma[y*cols:(y+1)*cols])
				}
				h.a = naiveTransform(luma, rows, cols)
				dct64To16(&h.a, &h.t, &h.b)
				_ = bitsAboveMedian(&h.b)
			})
		})
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
