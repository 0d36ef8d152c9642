// Package pdq computes Meta's PDQ perceptual image hash, bit for bit as the
// C++ reference in the ThreatExchange repository does, in pure Go.
//
// A PDQ hash is 256 bits from the signs of a 16×16 block of DCT coefficients
// of a 64×64 downsampled luminance image, thresholded at their median, plus
// a quality score from 0 to 100. Two images are considered the same content
// when the Hamming distance between their hashes is at most 31.
//
// The package does no I/O: it hashes decoded images or float32 luminance.
package pdq

import (
	"encoding/hex"
	"fmt"
	"math/bits"
)

// Size is the length of a hash in bytes.
const Size = 32

// MatchThreshold is the customary maximum Hamming distance at which two PDQ
// hashes are taken as the same content (inclusive).
const MatchThreshold = 31

// MinQuality is the quality below which the reference recommends discarding
// a locally computed hash.
const MinQuality = 50

// Hash is a 256-bit PDQ hash. Its bytes are in the order of the hex text
// form, so that hex.EncodeToString(h[:]) is the reference's text form: the
// big-endian form of the integer Σ bit_k·2^k, where bit k = 16·row + col of
// the 16×16 DCT block. Bit k therefore lives in byte 31-k/8 at bit k%8.
type Hash [Size]byte

// String returns the 64-character lowercase hex form used by the reference
// and by shared hash lists.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText implements encoding.TextMarshaler.
func (h Hash) MarshalText() ([]byte, error) {
	b := make([]byte, 2*Size)
	hex.Encode(b, h[:])
	return b, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := ParseHash(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

// ParseHash parses a 64-character hex hash, in either case.
func ParseHash(s string) (Hash, error) {
	var h Hash
	if len(s) != 2*Size {
		return h, fmt.Errorf("pdq hash must be %d hex characters, got %d", 2*Size, len(s))
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("pdq hash is not hex: %w", err)
	}
	return h, nil
}

// Bit reports whether bit k (0..255) is set.
func (h Hash) Bit(k int) bool { return h[31-k/8]>>(k%8)&1 == 1 }

func (h *Hash) setBit(k int) { h[31-k/8] |= 1 << (k % 8) }

// Distance returns the Hamming distance between two hashes, 0..256.
func Distance(a, b Hash) int {
	n := 0
	for i := 0; i < Size; i += 8 {
		x := uint64(a[i]^b[i]) | uint64(a[i+1]^b[i+1])<<8 | uint64(a[i+2]^b[i+2])<<16 |
			uint64(a[i+3]^b[i+3])<<24 | uint64(a[i+4]^b[i+4])<<32 | uint64(a[i+5]^b[i+5])<<40 |
			uint64(a[i+6]^b[i+6])<<48 | uint64(a[i+7]^b[i+7])<<56
		n += bits.OnesCount64(x)
	}
	return n
}

// PopCount returns the number of set bits. Every non-degenerate image hashes
// to exactly 128; other counts come from flat or tiny images and make a
// cheap sanity check on incoming lists.
func (h Hash) PopCount() int { return Distance(h, Hash{}) }
