package phm

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"

	"github.com/vigil-oss/vigil/pdq"
)

// RecodeQuality is the JPEG quality at which the service's second check
// re-encodes a derivative before hashing it again. A natural picture keeps
// its PDQ through such a re-encode (its bits sit at various distances from
// the DCT median); a collision hill-climbed onto a listed PDQ with every
// bit just across the median does not, as JPEG's quantisation moves those
// coefficients by more than the collision's margin. Chosen by measuring
// (docs/benchmarks.md, "the second check's re-encode"): of qualities 30 to
// 70, blurs and rescales, quality 50 alone rejected every crafted
// collision of vigil phm eval and kept the most true matches.
const RecodeQuality = 50

// Recoded returns the PDQ hashes, in the eight orientations, of img
// re-encoded once as JPEG at RecodeQuality: what the second check also
// requires within pdq.MatchThreshold of the bank entry the derivative
// matched. The re-encode is the service's own; the device neither knows
// nor changes anything.
func Recoded(h *pdq.Hasher, img image.Image) ([8]pdq.Hash, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: RecodeQuality}); err != nil {
		return [8]pdq.Hash{}, fmt.Errorf("recode derivative: %w", err)
	}
	re, err := jpeg.Decode(&buf)
	if err != nil {
		return [8]pdq.Hash{}, fmt.Errorf("recode derivative: %w", err)
	}
	// The re-encode's quality score is not a gate: the derivative's own
	// already was, and only the bits are compared.
	dih, _ := h.HashDihedral(re)
	return dih, nil
}

// NearestDistance is the smallest PDQ distance from any of dih to listed.
func NearestDistance(dih [8]pdq.Hash, listed pdq.Hash) int {
	best := 256
	for _, v := range dih {
		best = min(best, pdq.Distance(v, listed))
	}
	return best
}
