// Package second is the PHM review service's own perceptual hash: a keyed
// hash of the picture as PDQ's filter sees it, computed under a secret key
// that only the review service holds and that no device ever sees. It is
// the independent half of the second check (docs e2ee.md §1, "Second
// independent, secret server-side hash"): a picture crafted so that its
// PDQ collides with a listed one must also collide here, under a key the
// attacker does not know, in a band of the picture PDQ does not read.
//
// The hash. The picture is sampled as PDQ samples it (pdq.Hasher.Filtered
// at 64×64: the Jarosz-filtered luminance at PDQ's own points; for a
// device's derivative that is the derivative itself, which was sampled
// so). Its 2-D DCT is taken up to frequency 31 on each axis, and PDQ's own
// 16×16 block (frequencies 1–16 on both axes) and the mean are dropped:
// the 767 coefficients left form the band. PDQ's bits depend only on the
// block, and the DCT is orthogonal, so a change that moves PDQ's
// coefficients (every collision attack on PDQ adds exactly such cosine
// patterns) does not move the band but for clamping and rounding. The key
// seeds Bits random ±1 projections of the band; each bit is whether its
// projection is above the median of the Bits projections (so every hash
// has Bits/2 ones, and a change of contrast changes nothing). Without the
// key an attacker cannot tell which direction of the band any bit reads.
//
// Orientation: the device's picture may be the listed one mirrored or
// rotated (PDQ's second check matches eight orientations), so Dihedral
// gives the hash of all eight, each sampled at its own points.
package second

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/vigil-oss/vigil/pdq"
)

// Bits is the length of a keyed hash. 256 since phm-harden (128 before):
// with twice the projections the distance of a pair estimates the angle
// between their bands with half the variance, so true pairs and unrelated
// ones (and collisions steered with another key) overlap less at the same
// threshold fraction (docs/benchmarks.md, phm-harden).
const Bits = 256

// Size is a keyed hash's length in bytes.
const Size = Bits / 8

// Hash is a keyed hash.
type Hash [Size]byte

// String is the hash in lowercase hex.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// ParseHash reads a hash written by String.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*Size {
		return h, fmt.Errorf("keyed hash: %d hex digits, want %d", len(s), 2*Size)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("keyed hash: %w", err)
	}
	return h, nil
}

// Distance is the Hamming distance between two keyed hashes.
func Distance(a, b Hash) int {
	n := 0
	for i := range a {
		n += bits.OnesCount8(a[i] ^ b[i])
	}
	return n
}

// Threshold is the largest distance at which two keyed hashes are of the
// same picture. Chosen from benign data before any attack was measured
// (docs/benchmarks.md, "phm-harden"), on the 400 pictures of vigil phm
// eval --keyed-pictures 400 (pingus-data, mate-backgrounds, pdq/testdata,
// generated): the true pairs of the recall edits (JPEG 30–90, half scale,
// slight blur, each through the device's derivative) against 79,774
// unrelated pairs (distinct contents in every orientation). At 64 of 256
// (the fraction 32 of 128 was): 20 unrelated pairs within (26 with 128
// bits at 32), true pairs over it JPEG 90 0, JPEG 50 4, JPEG 30 15, half
// scale 156, blur 60 of 400 (128 bits at 32: 0, 6, 20, 152, 58). 72
// would keep 5–20 more true pairs and let 33 unrelated ones in; 56, 14
// unrelated for 11–31 fewer true pairs.
const Threshold = 64

// side is the sampling PDQ's filter feeds its DCT.
const side = 64

// maxFreq bounds the band: frequencies 0..maxFreq-1 on each axis.
const maxFreq = 32

// BandSize is the number of DCT coefficients a keyed hash projects.
const BandSize = maxFreq*maxFreq - 1 - 16*16

// band lists the (u, v) frequencies of the band in a fixed order.
var band = func() [][2]int {
	var out [][2]int
	for u := range maxFreq {
		for v := range maxFreq {
			if u == 0 && v == 0 || u >= 1 && u <= 16 && v >= 1 && v <= 16 {
				continue
			}
			out = append(out, [2]int{u, v})
		}
	}
	return out
}()

// weight whitens the band: natural pictures' DCT amplitudes fall about as
// 1/f with the frequency f, so unweighted the few lowest frequencies would
// decide every projection, and smooth pictures (gradients, wallpapers)
// would all share a handful of hashes. Each coefficient is multiplied by f.
var weight = func() []float32 {
	w := make([]float32, len(band))
	for i, f := range band {
		w[i] = float32(math.Hypot(float64(f[0]), float64(f[1])))
	}
	return w
}()

// InBand reports whether DCT frequency (u, v) of PDQ's 64×64 buffer is
// read by the keyed hash.
func InBand(u, v int) bool {
	return u >= 0 && v >= 0 && u < maxFreq && v < maxFreq && !(u == 0 && v == 0) && !(u >= 1 && u <= 16 && v >= 1 && v <= 16)
}

// dct[u][x] is the orthonormal DCT-II basis on 64 points.
var dct = func() *[maxFreq][side]float32 {
	var d [maxFreq][side]float32
	for u := range maxFreq {
		s := math.Sqrt(2.0 / side)
		if u == 0 {
			s = math.Sqrt(1.0 / side)
		}
		for x := range side {
			d[u][x] = float32(s * math.Cos(math.Pi/(2*side)*float64(u)*float64(2*x+1)))
		}
	}
	return &d
}()

// KeySize is the length of a secret key.
const KeySize = 32

// Key is a secret key with the projections it seeds. It is read-only once
// made, and safe for concurrent use.
type Key struct {
	id   string
	sign [Bits][BandSize]float32
}

// NewKey expands secret (KeySize bytes) into a key.
func NewKey(secret []byte) (*Key, error) {
	if len(secret) != KeySize {
		return nil, fmt.Errorf("keyed hash key: %d bytes, want %d", len(secret), KeySize)
	}
	var seed [32]byte
	copy(seed[:], secret)
	r := rand.New(rand.NewChaCha8(seed))
	k := &Key{}
	for i := range k.sign {
		for j := range k.sign[i] {
			k.sign[i][j] = float32(2*int(r.Uint64()&1) - 1)
		}
	}
	sum := sha256.Sum256(append([]byte("vigil-phm-second-key-id-v2\x00"), secret...))
	k.id = hex.EncodeToString(sum[:8])
	return k, nil
}

// ID names the key without revealing it: stored with every keyed hash,
// so that a hash made under another key is never compared under this one.
// It names the hash's version too (v2: 256 bits, each orientation from its
// own samples), so a v1 hash under the same secret has another id.
func (k *Key) ID() string { return k.id }

// MaxKeyFile bounds a key file.
const MaxKeyFile = 1024

// keyPrefix starts a key file's single line.
const keyPrefix = "vigil-phm-second-key-v1 "

// FormatKey writes secret as a key file's content.
func FormatKey(secret []byte) string { return keyPrefix + hex.EncodeToString(secret) + "\n" }

// ParseKey reads a key file's content: one line "vigil-phm-second-key-v1 "
// followed by 64 hex digits, at most MaxKeyFile bytes.
func ParseKey(b []byte) (*Key, error) {
	if len(b) > MaxKeyFile {
		return nil, fmt.Errorf("keyed hash key file: over %d bytes", MaxKeyFile)
	}
	s := strings.TrimRight(string(b), "\r\n")
	rest, ok := strings.CutPrefix(s, keyPrefix)
	if !ok {
		return nil, fmt.Errorf("keyed hash key file: does not start %q", strings.TrimSpace(keyPrefix))
	}
	if len(rest) != 2*KeySize {
		return nil, fmt.Errorf("keyed hash key file: %d hex digits, want %d", len(rest), 2*KeySize)
	}
	secret, err := hex.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("keyed hash key file: %w", err)
	}
	return NewKey(secret)
}

// Hasher computes keyed hashes, reusing its buffers. It is not safe for
// concurrent use; give each goroutine its own.
type Hasher struct {
	pdq  *pdq.Hasher
	t    [maxFreq][side]float32
	c    [maxFreq][maxFreq]float32
	proj [Bits]float32
	sort [Bits]float32
	vec  [BandSize]float32

	// Mirrored copies of the picture Dihedral hashes.
	gray  *image.Gray
	rgba  *image.RGBA
	nrgba *image.NRGBA
}

// NewHasher returns a Hasher.
func NewHasher() *Hasher { return &Hasher{pdq: pdq.NewHasher(pdq.Full)} }

// Band returns the band coefficients of img (in the package's fixed
// order), as the keyed hash reads them. ok is false for a picture under
// PDQ's smallest size.
func (h *Hasher) Band(img image.Image) ([]float32, bool) {
	if !h.coefficients(img) {
		return nil, false
	}
	out := make([]float32, BandSize)
	for i, f := range band {
		out[i] = h.c[f[0]][f[1]]
	}
	return out, true
}

// coefficients fills h.c with the 32×32 DCT of img as PDQ samples it.
func (h *Hasher) coefficients(img image.Image) bool {
	g, ok := h.pdq.Filtered(img, side)
	if !ok {
		return false
	}
	// Rows first: t[v][y] = Σ_x dct[v][x]·g[y][x].
	for y := range side {
		row := g.Pix[y*g.Stride : y*g.Stride+side]
		for v := range maxFreq {
			var s float32
			d := &dct[v]
			for x, p := range row {
				s += d[x] * float32(p)
			}
			h.t[v][y] = s
		}
	}
	for u := range maxFreq {
		d := &dct[u]
		for v := range maxFreq {
			var s float32
			t := &h.t[v]
			for y := range side {
				s += d[y] * t[y]
			}
			h.c[u][v] = s
		}
	}
	return true
}

// Hash returns the keyed hash of img under k. ok is false for a picture
// under PDQ's smallest size.
func (h *Hasher) Hash(k *Key, img image.Image) (Hash, bool) {
	if !h.coefficients(img) {
		return Hash{}, false
	}
	return h.hashOf(k, false), true
}

// Dihedral returns the keyed hashes of img's eight orientations (the
// identity first; the order is otherwise this package's, not PDQ's) under
// k. A match in any of them is a match of the picture.
//
// Each orientation is hashed from samples taken at its own points: the
// picture's pixels are mirrored (left–right, top–bottom, both) before
// PDQ's filter and sampling, as a device holding the mirrored copy would
// sample it. Deriving the mirrors from one DCT by sign flips, as this did
// before, assumed PDQ's 64 points and its filter are symmetric, and they
// are not (at 256 px the points and the even filter window are 3 px off
// their mirror, most of a cell): a mirrored copy lost 34–54 of the then 128 bits.
// The transposes are the transposed coefficients of the four mirrors,
// which is exact: the sample points and filter windows of a transposed
// picture are the transposed ones, and the filter's row and column passes
// commute (up to float rounding).
func (h *Hasher) Dihedral(k *Key, img image.Image) ([8]Hash, bool) {
	var out [8]Hash
	b := img.Bounds()
	if !h.coefficients(img) {
		return out, false
	}
	out[0], out[4] = h.hashOf(k, false), h.hashOf(k, true)
	src := h.flippable(img)
	for d := 1; d < 4; d++ {
		if !h.coefficients(h.flip(src, b.Dx(), b.Dy(), d&1 != 0, d&2 != 0)) {
			return out, false
		}
		out[d], out[d|4] = h.hashOf(k, false), h.hashOf(k, true)
	}
	return out, true
}

// flippable returns img as a picture whose pixels flip keeps PDQ's
// luminance of every pixel: a grey, RGBA or NRGBA picture as it is (flip
// copies its bytes), a YCbCr one converted with the colour conversion
// PDQ uses (color.YCbCrToRGB), any other through its colour model.
func (h *Hasher) flippable(img image.Image) image.Image {
	switch img.(type) {
	case *image.Gray, *image.RGBA, *image.NRGBA:
		return img
	}
	b := img.Bounds()
	m := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	if yc, ok := img.(*image.YCbCr); ok {
		for y := range b.Dy() {
			for x := range b.Dx() {
				yi, ci := yc.YOffset(b.Min.X+x, b.Min.Y+y), yc.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bl := color.YCbCrToRGB(yc.Y[yi], yc.Cb[ci], yc.Cr[ci])
				copy(m.Pix[m.PixOffset(x, y):], []byte{r, g, bl, 255})
			}
		}
		return m
	}
	for y := range b.Dy() {
		for x := range b.Dx() {
			m.Set(x, y, img.At(b.Min.X+x, b.Min.Y+y))
		}
	}
	return m
}

// flip returns src (w×h, from flippable) mirrored left–right (fx) and/or
// top–bottom (fy), in a buffer of h reused until the next call.
func (h *Hasher) flip(src image.Image, w, h0 int, fx, fy bool) image.Image {
	var pix []byte
	var stride, bpp int
	var out image.Image
	switch m := src.(type) {
	case *image.Gray:
		pix, stride, bpp = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 1
		g := h.grayBuf(w, h0)
		out = g
		h.flipBytes(g.Pix, pix, w, h0, stride, bpp, fx, fy)
	case *image.RGBA:
		pix, stride, bpp = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 4
		r := h.rgbaBuf(w, h0)
		out = r
		h.flipBytes(r.Pix, pix, w, h0, stride, bpp, fx, fy)
	case *image.NRGBA:
		pix, stride, bpp = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 4
		r := h.nrgbaBuf(w, h0)
		out = r
		h.flipBytes(r.Pix, pix, w, h0, stride, bpp, fx, fy)
	}
	return out
}

// flipBytes writes the w×h pixels of src (stride bytes a row, bpp a
// pixel) into dst (packed), mirrored as asked.
func (h *Hasher) flipBytes(dst, src []byte, w, h0, stride, bpp int, fx, fy bool) {
	for y := range h0 {
		sy := y
		if fy {
			sy = h0 - 1 - y
		}
		in := src[sy*stride : sy*stride+w*bpp]
		row := dst[y*w*bpp : (y+1)*w*bpp]
		if !fx {
			copy(row, in)
			continue
		}
		for x := range w {
			copy(row[x*bpp:(x+1)*bpp], in[(w-1-x)*bpp:(w-x)*bpp])
		}
	}
	// A device's derivative holds its picture's filtered luminance at
	// points of the picture's n pixels, at 128 a side j·n/128 (PDQ's
	// points of the picture are its odd samples, which Filtered at 64
	// reads), at 64 a side PDQ's points. Neither grid is its own mirror:
	// the mirrored picture's points fall after the flipped samples Filtered
	// reads, by an amount that depends on n, which the derivative does not
	// tell (at 128: 0 to 1.5 samples for most n, 0 for large pictures, 1.5
	// at n = 256; at 64: 0 to 0.75, 0.75 at n = 256). A flipped axis of a
	// derivative's size is therefore read half a sample on (each sample
	// averaged with its neighbour): measured over copies 64–1,500 px wide
	// in TestDerivativeOrientations.
	if fx && (w == derivSide || w == side) {
		off := bpp
		if w == derivSide {
			off = -bpp // Filtered reads the odd samples: average with the even one before
		}
		for y := range h0 {
			halfStep(dst[y*w*bpp:(y+1)*w*bpp], off)
		}
	}
	if fy && (h0 == derivSide || h0 == side) {
		n := w * bpp
		col := make([]byte, h0)
		off := 1
		if h0 == derivSide {
			off = -1
		}
		for x := range n {
			for y := range h0 {
				col[y] = dst[y*n+x]
			}
			halfStep(col, off)
			for y := range h0 {
				dst[y*n+x] = col[y]
			}
		}
	}
}

// halfStep replaces each v[i] with the rounded mean of v[i] and v[i+off]
// (off ±bpp), where that exists: the line read half a sample on.
func halfStep(v []byte, off int) {
	if off > 0 {
		for i := 0; i+off < len(v); i++ {
			v[i] = uint8((int(v[i]) + int(v[i+off]) + 1) / 2)
		}
		return
	}
	for i := len(v) - 1; i+off >= 0; i-- {
		v[i] = uint8((int(v[i]) + int(v[i+off]) + 1) / 2)
	}
}

// derivSide is the side of a device's derivative (phm/client's
// DerivativeSide): Filtered at 64 reads its odd samples.
const derivSide = 2 * side

func (h *Hasher) grayBuf(w, h0 int) *image.Gray {
	if h.gray == nil || h.gray.Rect.Dx() != w || h.gray.Rect.Dy() != h0 {
		h.gray = image.NewGray(image.Rect(0, 0, w, h0))
	}
	return h.gray
}

func (h *Hasher) rgbaBuf(w, h0 int) *image.RGBA {
	if h.rgba == nil || h.rgba.Rect.Dx() != w || h.rgba.Rect.Dy() != h0 {
		h.rgba = image.NewRGBA(image.Rect(0, 0, w, h0))
	}
	return h.rgba
}

func (h *Hasher) nrgbaBuf(w, h0 int) *image.NRGBA {
	if h.nrgba == nil || h.nrgba.Rect.Dx() != w || h.nrgba.Rect.Dy() != h0 {
		h.nrgba = image.NewNRGBA(image.Rect(0, 0, w, h0))
	}
	return h.nrgba
}

// hashOf projects h.c, transposed if asked (the coefficients of the
// transposed picture).
func (h *Hasher) hashOf(k *Key, transpose bool) Hash {
	for i, f := range band {
		u, v := f[0], f[1]
		if transpose {
			u, v = v, u
		}
		h.vec[i] = h.c[u][v] * weight[i]
	}
	for b := range Bits {
		var s float32
		sg := &k.sign[b]
		for i, c := range h.vec {
			s += sg[i] * c
		}
		h.proj[b] = s
	}
	h.sort = h.proj
	slices.Sort(h.sort[:])
	med := h.sort[Bits/2-1]
	var out Hash
	for b, p := range h.proj {
		if p > med {
			out[b/8] |= 1 << (b % 8)
		}
	}
	return out
}

// Nearest is the smallest distance from any of dih to listed.
func Nearest(dih [8]Hash, listed Hash) int {
	best := Bits
	for _, v := range dih {
		best = min(best, Distance(v, listed))
	}
	return best
}

// Projection returns the weighted direction bit b of k projects the band
// (as Hasher.Band returns it) on: bit b is whether the dot product is
// above the median of the Bits dot products. For evaluation: an attacker
// with a key of its own steers a picture with its own key's directions
// (phm/eval); the service's never leave the service.
func (k *Key) Projection(b int) []float32 {
	out := make([]float32, BandSize)
	for i := range out {
		out[i] = k.sign[b][i] * weight[i]
	}
	return out
}

// BandFrequency is the (u, v) DCT frequency of band coefficient i: u
// vertical, v horizontal, of PDQ's 64×64 buffer.
func BandFrequency(i int) (u, v int) { return band[i][0], band[i][1] }
