package pdq

import (
	"math"
)

// dctMatrix is the 16×64 DCT-II basis without the DC row, as the reference
// builds it: the scale is rounded to float32 first, the product with the
// float64 cosine is taken in float64, then stored as float32.
var dctMatrix = func() (d [16 * 64]float32) {
	scale := float64(float32(math.Sqrt(2.0 / 64.0)))
	for i := 0; i < 16; i++ {
		for j := 0; j < 64; j++ {
			d[i*64+j] = float32(scale * math.Cos((math.Pi/2/64.0)*float64(i+1)*float64(2*j+1)))
		}
	}
	return d
}()

// dct64To16 computes B = D·A·Dᵀ with float32 accumulators summed in the
// reference's order (k = 0..63). Each product is converted to float32 before
// the add so that the compiler cannot fuse them into an FMA.
func dct64To16(a *[64 * 64]float32, t *[16 * 64]float32, b *[16 * 16]float32) {
	clear(t[:])
	for i := 0; i < 16; i++ {
		ti := t[i*64 : i*64+64]
		for k := 0; k < 64; k++ {
			d := dctMatrix[i*64+k]
			ak := a[k*64 : k*64+64]
			for j := range ti {
				ti[j] += float32(d * ak[j])
			}
		}
	}
	for i := 0; i < 16; i++ {
		ti := t[i*64 : i*64+64]
		for j := 0; j < 16; j++ {
			dj := dctMatrix[j*64 : j*64+64]
			var s float32
			for k := range ti {
				s += float32(ti[k] * dj[k])
			}
			b[i*16+j] = s
		}
	}
}

// quality is the reference's image-domain gradient measure on the 64×64
// buffer: integer-truncated scaled differences, summed, divided by 90,
// capped at 100.
func quality(a *[64 * 64]float32) int {
	sum := 0
	for i := 0; i < 63; i++ {
		for j := 0; j < 64; j++ {
			d := int(float32(float32(a[i*64+j]-a[(i+1)*64+j])*100) / 255)
			sum += abs(d)
		}
	}
	for i := 0; i < 64; i++ {
		for j := 0; j < 63; j++ {
			d := int(float32(float32(a[i*64+j]-a[i*64+j+1])*100) / 255)
			sum += abs(d)
		}
	}
	return min(sum/90, 100)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// bitsAboveMedian sets bit k = 16i+j iff b[i][j] is strictly greater than
// the lower median (the 128th smallest value), as Torben's median does.
func bitsAboveMedian(b *[16 * 16]float32) Hash {
	median := median(b)
	var h Hash
	for k, v := range b {
		if v > median {
			h.setBit(k)
		}
	}
	return h
}

// Dihedral names one of the eight rotations and flips of an image.
type Dihedral int

// The eight dihedral variants, in the reference's order.
const (
	Original   Dihedral = iota
	Rotate90            // 90° counter-clockwise
	Rotate180           // 180°
	Rotate270           // 270° counter-clockwise (90° clockwise)
	FlipX               // top and bottom swapped
	FlipY               // left and right swapped (mirror image)
	FlipPlus1           // transpose
	FlipMinus1          // anti-transpose
)

var dihedralNames = [8]string{"orig", "rot90", "rot180", "rot270", "flipx", "flipy", "flipplus1", "flipminus1"}

// String returns the reference's name for the variant.
func (d Dihedral) String() string {
	if d < 0 || int(d) >= len(dihedralNames) {
		return "invalid"
	}
	return dihedralNames[d]
}

// dihedralBits derives the hashes of all eight variants from one DCT block.
// Rotations and flips of the image permute and negate DCT coefficients, so
// no pixels are re-hashed. "Odd" refers to a 0-based index.
func dihedralBits(b *[16 * 16]float32) (out [8]Hash) {
	var t [16 * 16]float32
	odd := func(x int) bool { return x&1 == 1 }
	sign := func(neg bool, v float32) float32 {
		if neg {
			return -v
		}
		return v
	}
	out[Original] = bitsAboveMedian(b)
	for d := Rotate90; d <= FlipMinus1; d++ {
		for i := 0; i < 16; i++ {
			for j := 0; j < 16; j++ {
				v := b[i*16+j]
				switch d {
				case Rotate90:
					t[j*16+i] = sign(!odd(j), v)
				case Rotate180:
					t[i*16+j] = sign(odd(i+j), v)
				case Rotate270:
					t[j*16+i] = sign(!odd(i), v)
				case FlipX:
					t[i*16+j] = sign(!odd(i), v)
				case FlipY:
					t[i*16+j] = sign(!odd(j), v)
				case FlipPlus1:
					t[j*16+i] = v
				case FlipMinus1:
					t[j*16+i] = sign(odd(i+j), v)
				}
			}
		}
		out[d] = bitsAboveMedian(&t)
	}
	return out
}
