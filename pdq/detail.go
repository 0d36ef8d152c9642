package pdq

import (
	"image"
	"slices"
)

// Detail is a dihedral hash together with the DCT block it was cut from.
// Private hash matching (phm/client) needs the block: only the device sees
// which hash bits sat nearest the median and are the likeliest to flip
// under an edit, and it tries those flips as extra exact keys.
type Detail struct {
	// Dihedral holds the hashes of the eight variants, indexed by
	// Dihedral, exactly as HashDihedral returns them.
	Dihedral [8]Hash
	// Quality is the image's PDQ quality (0–100).
	Quality int
	// Coefficients is the 16×16 DCT block of the Original orientation,
	// coefficient k = 16·row + col giving hash bit k.
	Coefficients [256]float32
	// Median is the threshold of the Original hash: bit k is set iff
	// Coefficients[k] > Median.
	Median float32
}

// Margin returns |Coefficients[k] − Median|, how far bit k is from
// flipping; 0 for k outside 0..255.
func (d *Detail) Margin(k int) float32 {
	if k < 0 || k >= len(d.Coefficients) {
		return 0
	}
	m := d.Coefficients[k] - d.Median
	if m < 0 {
		return -m
	}
	return m
}

// HashDetail is HashDihedral with the DCT block and median kept. Its
// hashes are bit for bit those of HashDihedral. ok is false, and the
// detail zero, for an image under MinDimension.
func (h *Hasher) HashDetail(img image.Image) (d Detail, ok bool) {
	q, ok := h.transform(h.resized(h.imageSource(img)), true)
	if !ok {
		return Detail{}, false
	}
	d.Dihedral, d.Quality = dihedralBits(&h.b), q
	d.Coefficients = h.b
	d.Median = median(&h.b)
	return d, true
}

// median is the lower median (the 128th smallest value) that
// bitsAboveMedian thresholds at.
func median(b *[16 * 16]float32) float32 {
	var sorted [256]float32
	copy(sorted[:], b[:])
	slices.Sort(sorted[:])
	return sorted[127]
}
