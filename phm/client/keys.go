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
	deriv, err := derivative(img)
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
func Derivative(img image.Image) ([]byte, error) { return derivative(img) }

// derivative is the inner payload's picture: the image stretched to
// 128×128 greyscale (PDQ ignores aspect too, so the service's second PDQ
// check sees what the device hashed) and JPEG-encoded small enough to fit,
// lowering the quality as needed.
func derivative(img image.Image) ([]byte, error) {
	for _, side := range []int{DerivativeSide, 96, 64} {
		g := image.NewGray(image.Rect(0, 0, side, side))
		draw.ApproxBiLinear.Scale(g, g.Bounds(), img, img.Bounds(), draw.Src, nil)
		for _, q := range []int{75, 60, 45, 30, 15} {
			var buf bytes.Buffer
			if err := jpeg.Encode(&buf, g, &jpeg.Options{Quality: q}); err != nil {
				return nil, fmt.Errorf("encode derivative: %w", err)
			}
			if buf.Len() <= phm.MaxDerivative {
				return buf.Bytes(), nil
			}
		}
	}
	return nil, fmt.Errorf("derivative does not fit %d bytes", phm.MaxDerivative)
}
