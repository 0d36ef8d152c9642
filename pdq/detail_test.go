package pdq

import (
	"image"
	"image/color"
	"testing"
)

// TestHashDetailMatchesHashDihedral checks the detail adds the DCT block
// without changing a hash bit, and that the block and median give the
// Original hash back.
func TestHashDetailMatchesHashDihedral(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 97, 61))
	for y := range 61 {
		for x := range 97 {
			img.Set(x, y, color.RGBA{uint8(x * 7 % 256), uint8(y * 13 % 256), uint8((x ^ y) * 3), 255})
		}
	}
	h := NewHasher(Full)
	want, wq := h.HashDihedral(img)
	d, ok := h.HashDetail(img)
	if !ok {
		t.Fatal("detail refused a 97×61 image")
	}
	if d.Dihedral != want || d.Quality != wq {
		t.Fatalf("detail hashes %v q%d, HashDihedral %v q%d", d.Dihedral, d.Quality, want, wq)
	}
	var back Hash
	for k, c := range d.Coefficients {
		if c > d.Median {
			back.setBit(k)
		}
		if m := d.Margin(k); m < 0 || (m == 0) != (c == d.Median) {
			t.Fatalf("margin %d = %v for coefficient %v, median %v", k, m, c, d.Median)
		}
	}
	if back != d.Dihedral[Original] {
		t.Fatal("coefficients and median do not give the Original hash")
	}
	if _, ok := h.HashDetail(image.NewGray(image.Rect(0, 0, 4, 4))); ok {
		t.Fatal("a 4×4 image has a detail")
	}
}
