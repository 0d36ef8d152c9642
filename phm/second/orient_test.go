package second_test

import (
	"bytes"
	"image"
	"image/color"
	"slices"
	"testing"

	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/eval"
	"github.com/vigil-oss/vigil/phm/second"
)

// orient returns img transformed by dihedral d as an RGBA picture: bit 0
// mirrors left–right, bit 1 top–bottom, bit 2 transposes (applied last).
func orient(img image.Image, d int) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	ow, oh := w, h
	if d&4 != 0 {
		ow, oh = h, w
	}
	out := image.NewRGBA(image.Rect(0, 0, ow, oh))
	for y := range h {
		for x := range w {
			sx, sy := x, y
			if d&1 != 0 {
				sx = w - 1 - x
			}
			if d&2 != 0 {
				sy = h - 1 - y
			}
			c := color.RGBAModel.Convert(img.At(b.Min.X+sx, b.Min.Y+sy))
			if d&4 != 0 {
				out.Set(y, x, c)
			} else {
				out.Set(x, y, c)
			}
		}
	}
	return out
}

// generated are benign pictures made in code, fitted as the eval fits
// them, with a usable PDQ.
func generated(t testing.TB, n int) []image.Image {
	t.Helper()
	var out []image.Image
	for _, p := range eval.GeneratePictures(n, 7) {
		img, _, err := image.Decode(bytes.NewReader(p.Data))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, eval.Fit(img))
	}
	return out
}

// TestOrientationsKept: a mirrored or rotated copy of a listed picture is
// within Threshold of the listed picture's keyed hash through Dihedral and
// Nearest, as the second check uses them (photographs of pdq/testdata and
// generated pictures). Failed before Dihedral sampled each orientation at
// its own points (34–54 bits on four of the six photographs).
//
// The device's derivative of such a copy is measured and logged, not
// asserted: the derivative keeps the copy's filtered luminance at points
// j·n/128 of its n pixels, a grid that is not its own mirror, so the
// flipped derivative is sampled (3 − 2c)·128/n derivative pixels off the
// listed picture's points (c = 1 for PDQ's even filter windows), which
// depends on the copy's size, and the service does not know it
// (docs/benchmarks.md, phm-harden).
func TestOrientationsKept(t *testing.T) {
	k := testKey(t, 11)
	h := second.NewHasher()
	pics := append(pictures(t), generated(t, 12)...)
	worst, over := 0, 0
	var ders []int
	for i, p := range pics {
		listed, ok := h.Hash(k, p)
		if !ok {
			t.Fatalf("picture %d: no keyed hash", i)
		}
		for d := 1; d < 8; d++ {
			m := orient(p, d)
			got, _ := h.Dihedral(k, m)
			own := second.Nearest(got, listed)
			worst = max(worst, own)
			if own > second.Threshold {
				t.Errorf("picture %d, orientation %d: %d bits from its keyed hash, over %d", i, d, own, second.Threshold)
			}
			der, err := client.Derivative(m)
			if err != nil {
				t.Fatal(err)
			}
			got, _ = h.Dihedral(k, decode(t, der))
			dd := second.Nearest(got, listed)
			ders = append(ders, dd)
			if dd > second.Threshold {
				over++
			}
		}
	}
	slices.Sort(ders)
	t.Logf("%d pictures × 7 orientations: copies at most %d bits; their derivatives median %d, max %d, %d of %d over %d",
		len(pics), worst, ders[len(ders)/2], ders[len(ders)-1], over, len(ders), second.Threshold)
}
