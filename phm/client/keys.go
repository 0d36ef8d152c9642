// Package client is the device side of private hash matching (docs
// e2ee.md §5.3): the part of Vigil a messenger embeds to make one
// constant-size safety voucher per image the user sends or forwards.
//
// Nothing in this package tells its caller whether an image matched: the
// table is blinded, every voucher has the same length and the same work
// behind it, and no call returns anything that depends on a match.
package client

import (
	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"image"
	"image/jpeg"
	"slices"

	"golang.org/x/image/draw"

	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
)

// ProbeBits is q, how many of the least reliable PDQ bits the probes swap
// among (docs e2ee.md §5.3, appendix B: q = 8 gives ~50 probes and doubles
// exact-PDQ recall).
const ProbeBits = 8

// MaxProbes is what K leaves for probes after SHA-256, MD5 and the eight
// dihedral PDQ keys.
const MaxProbes = phm.K - 2 - 8

// DerivativeSide is the side of the inner payload's greyscale derivative.
const DerivativeSide = 128

// Content is an image prepared for a voucher: its keys and its inner
// payload. It holds the image's digests, so keep it only as long as the
// voucher needs it.
type Content struct {
	keys    []phm.Key
	payload phm.Payload
	seen    [2][]byte // SHA-256 and PDQ, for the repeat-content check
}

// Keys returns the image's real keys, at most phm.K and without
// duplicates: SHA-256 and MD5 of the bytes, then, when the PDQ quality is
// at least pdq.MinQuality, PDQ in its eight orientations and the
// reliability probes of the original orientation. A voucher pads them to
// phm.K with random keys.
func Keys(img []byte) ([]phm.Key, error) {
	c, err := Prepare(img, hashing.Limits{})
	if err != nil {
		return nil, err
	}
	return slices.Clone(c.keys), nil
}

// Prepare decodes an image within limits (zero: hashing's defaults) and
// computes its keys and inner payload.
func Prepare(data []byte, limits hashing.Limits) (*Content, error) {
	l := limits.WithDefaults()
	if int64(len(data)) > l.MaxBytes {
		return nil, fmt.Errorf("image of %d bytes is over the %d-byte limit", len(data), l.MaxBytes)
	}
	img, _, release, err := hashing.DecodeImage(context.Background(), data, l)
	if err != nil {
		return nil, err
	}
	defer release()
	sha, md := sha256.Sum256(data), md5.Sum(data)
	c := &Content{payload: phm.Payload{SHA256: sha, Width: img.Bounds().Dx(), Height: img.Bounds().Dy()}}
	c.seen[0] = sha[:]
	var keys []phm.Key
	k, _ := phm.NewKey(phm.FamilySHA256, sha[:])
	keys = append(keys, k)
	k, _ = phm.NewKey(phm.FamilyMD5, md[:])
	keys = append(keys, k)
	h := pdq.NewHasher(pdq.Full)
	if d, ok := h.HashDetail(img); ok && d.Quality >= pdq.MinQuality {
		if b := img.Bounds(); b.Dx() == 64 && b.Dy() == 64 {
			// As in hashing: for exactly 64×64 the plain entry point skips
			// the filter, and lists hold the plain hash.
			d.Dihedral[pdq.Original], _ = h.Hash(img)
		}
		orig := d.Dihedral[pdq.Original]
		c.seen[1] = orig[:]
		for _, v := range d.Dihedral {
			keys = append(keys, pdqKey(v))
		}
		for _, p := range Probes(&d, ProbeBits, MaxProbes) {
			keys = append(keys, pdqKey(p))
		}
	}
	c.keys = dedupe(keys)
	var want *pdq.Hash
	if len(c.seen[1]) == 32 {
		want = (*pdq.Hash)(c.seen[1])
	}
	deriv, err := derivative(h, img, want)
	if err != nil {
		return nil, err
	}
	c.payload.Derivative = deriv
	return c, nil
}

func pdqKey(h pdq.Hash) phm.Key {
	k, _ := phm.NewKey(phm.FamilyPDQ, h[:])
	return k
}

// dedupe drops repeated keys, keeping the first: a symmetric image has
// equal dihedral hashes, and two equal keys would open two elements of one
// voucher, which the one-open rule forbids (it would tell real vouchers
// from synthetic ones).
func dedupe(keys []phm.Key) []phm.Key {
	out := keys[:0]
	for _, k := range keys {
		if !slices.ContainsFunc(out, func(o phm.Key) bool { return bytes.Equal(o, k) }) {
			out = append(out, k)
		}
	}
	if len(out) > phm.K {
		out = out[:phm.K]
	}
	return out
}

// Probes returns up to limit variants of d's Original hash that swap bits
// among its q least reliable ones (smallest |coefficient − median|),
// most likely first: fewer swaps first, then smaller total margin. Only
// balanced swaps are made (as many 1→0 as 0→1), because every PDQ hash of a
// real image has exactly 128 ones and so every distance between two is
// even.
func Probes(d *pdq.Detail, q, limit int) []pdq.Hash {
	// 2^q masks are tried; 16 bits (65,536 masks) is far past useful
	// (appendix B: q = 16 with ≤ 2 swaps already costs 736 probes).
	q = min(max(q, 0), 16)
	bitsByMargin := make([]int, 256)
	for k := range bitsByMargin {
		bitsByMargin[k] = k
	}
	slices.SortStableFunc(bitsByMargin, func(a, b int) int { return cmp.Compare(d.Margin(a), d.Margin(b)) })
	weak := bitsByMargin[:q]
	orig := d.Dihedral[pdq.Original]
	type probe struct {
		h      pdq.Hash
		swaps  int
		margin float32
	}
	var out []probe
	for mask := 1; mask < 1<<q; mask++ {
		var n1, n0 int
		var m float32
		h := orig
		for i, k := range weak {
			if mask>>i&1 == 0 {
				continue
			}
			if orig.Bit(k) {
				n1++
			} else {
				n0++
			}
			m += d.Margin(k)
			h[31-k/8] ^= 1 << (k % 8)
		}
		if n1 == n0 {
			out = append(out, probe{h, n1, m})
		}
	}
	slices.SortStableFunc(out, func(a, b probe) int {
		return cmp.Or(cmp.Compare(a.swaps, b.swaps), cmp.Compare(a.margin, b.margin))
	})
	n := min(len(out), max(limit, 0))
	hs := make([]pdq.Hash, 0, n)
	for _, p := range out[:n] {
		hs = append(hs, p.h)
	}
	return hs
}

// Derivative returns the inner payload's picture for img, as a voucher
// carries it: what the service's second check hashes.
func Derivative(img image.Image) ([]byte, error) {
	h := pdq.NewHasher(pdq.Full)
	var want *pdq.Hash
	if d, ok := h.HashDetail(img); ok && d.Quality >= pdq.MinQuality {
		want = &d.Dihedral[pdq.Original]
	}
	return derivative(h, img, want)
}

// DerivativeDrift is how far, in bits, a derivative's PDQ may be from the
// image's own before a smaller or sharper candidate is tried.
const DerivativeDrift = 8

// derivative is the inner payload's picture: the image as PDQ sees it
// (pdq.Hasher.Filtered: its Jarosz-filtered luminance at PDQ's own sample
// points), 128×128 greyscale, JPEG-encoded small enough to fit. Sampled
// so, the service's PDQ of the derivative is the image's PDQ but for the
// JPEG's losses (a plain resize to 128 is not: PDQ's filter on a large
// image aliases detail a resized copy has lost, 4 of 20 pictures of
// vigil phm eval drifted 32–70 bits). JPEG's losses are measured here:
// when even the best 128×128 encoding that fits moves the PDQ more than
// DerivativeDrift bits from want (detailed pictures need more than 4 KB at
// the qualities that keep it), the 64×64 sampling (exactly PDQ's buffer)
// at a higher quality is tried, and the closest candidate that fits is
// kept. want is nil for an image without a usable PDQ: the first 128×128
// candidate that fits is taken. The choice depends on the image alone.
func derivative(h *pdq.Hasher, img image.Image, want *pdq.Hash) ([]byte, error) {
	type candidate struct {
		side      int
		qualities []int
	}
	var best []byte
	bestDist := 257
	for _, c := range []candidate{{DerivativeSide, []int{90, 85, 80, 75, 60, 45, 30, 15}}, {64, []int{95, 90, 75, 60, 45}}} {
		g, ok := h.Filtered(img, c.side)
		if !ok {
			// Under PDQ's smallest size: a plain resize, PDQ has nothing
			// to keep.
			g = image.NewGray(image.Rect(0, 0, c.side, c.side))
			draw.ApproxBiLinear.Scale(g, g.Bounds(), img, img.Bounds(), draw.Src, nil)
		}
		for _, q := range c.qualities {
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, g, &jpeg.Options{Quality: q}); err != nil {
				return nil, fmt.Errorf("encode derivative: %w", err)
			}
			if buf.Len() > phm.MaxDerivative {
				continue
			}
			if want == nil {
				return buf.Bytes(), nil
			}
			dec, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
			if err != nil {
				return nil, fmt.Errorf("decode derivative: %w", err)
			}
			got, _ := h.Hash(dec)
			d := pdq.Distance(got, *want)
			if d <= DerivativeDrift {
				return buf.Bytes(), nil
			}
			if d < bestDist {
				best, bestDist = buf.Bytes(), d
			}
			break // a lower quality of this side seldom drifts less: try the other
		}
	}
	if best == nil {
		return nil, fmt.Errorf("derivative does not fit %d bytes", phm.MaxDerivative)
	}
	return best, nil
}
