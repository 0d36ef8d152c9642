// Package phm holds the shared primitives of private hash matching (PHM):
// Vigil's design for known-image matching inside end-to-end encrypted
// messaging (docs in ../shared/docs/e2ee.md, section 5). The table builder
// (phm/table), the client SDK (phm/client) and the service (phm/server)
// agree on the definitions here and nowhere else: how a key is encoded,
// where it sits in the cuckoo table, and which group element it maps to.
package phm

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/group"
)

// Group is the prime-order group every PHM element lives in.
var Group = group.Ristretto255

// ElementSize is the length of an encoded group element.
const ElementSize = 32

// Ways is the number of cuckoo positions a key may occupy.
const Ways = 3

// Load is the cuckoo table's target load factor: m = ceil(N / Load).
const Load = 0.8

// h2gDST is the domain separation tag of the key-to-group hash (RFC 9380).
var h2gDST = []byte("vigil-phm-v1-h2g")

// Family names the kind of digest a key carries. Keys of different
// families never collide because the family is part of the key's bytes.
type Family string

// The key families of PHM v1.
const (
	FamilySHA256 Family = "sha256"
	FamilyMD5    Family = "md5"
	FamilyPDQ    Family = "pdq"
)

// sizes is the digest length of each family.
var sizes = map[Family]int{FamilySHA256: 32, FamilyMD5: 16, FamilyPDQ: 32}

// Key is a domain-separated byte string: family ‖ 0x00 ‖ digest.
type Key []byte

// NewKey encodes a digest of the given family as a key. It refuses an
// unknown family or a digest of the wrong length.
func NewKey(f Family, digest []byte) (Key, error) {
	n, ok := sizes[f]
	if !ok {
		return nil, fmt.Errorf("phm: unknown key family %q", f)
	}
	if len(digest) != n {
		return nil, fmt.Errorf("phm: %s digest is %d bytes, want %d", f, len(digest), n)
	}
	k := make(Key, 0, len(f)+1+n)
	k = append(k, f...)
	k = append(k, 0)
	return append(k, digest...), nil
}

// Family returns the key's family, or "" if the key is malformed.
func (k Key) Family() Family {
	for f, n := range sizes {
		if len(k) == len(f)+1+n && string(k[:len(f)]) == string(f) && k[len(f)] == 0 {
			return f
		}
	}
	return ""
}

// Seed is one of the table's per-way slot seeds, published in the manifest.
type Seed [32]byte

// Slots returns the m-slot table positions of key for the given seeds:
// slot_w(key) = SHA-256(seed_w ‖ key) mod m, the first 8 bytes read big-endian.
func Slots(seeds [Ways]Seed, m uint64, key Key) ([Ways]uint64, error) {
	var out [Ways]uint64
	if m == 0 {
		return out, errors.New("phm: table has no slots")
	}
	for w := range Ways {
		h := sha256.New()
		h.Write(seeds[w][:])
		h.Write(key)
		var sum [sha256.Size]byte
		out[w] = binary.BigEndian.Uint64(h.Sum(sum[:0])[:8]) % m
	}
	return out, nil
}

// HashToGroup maps a key to its group element H2G(key) (RFC 9380
// hash-to-group for ristretto255 with Vigil's tag). The table stores
// α·H2G(key) for listed keys.
func HashToGroup(key Key) group.Element {
	return Group.HashToElement(key, h2gDST)
}

// SlotsFor returns m = ceil(n / Load), the slot count for n listed keys
// (at least 1).
func SlotsFor(n int) uint64 {
	m := uint64((float64(n) + Load - 1e-9) / Load)
	for float64(m)*Load < float64(n) {
		m++
	}
	return max(m, 1)
}

// Table is what the client and the service need from a blinded table:
// its size, its slot seeds, the public point P = α·G, and the encoded
// element in a slot. phm/table implements it.
type Table interface {
	// Slots is m, the number of slots.
	Slots() uint64
	// Seeds are the per-way slot seeds.
	Seeds() [Ways]Seed
	// Public is P = α·G.
	Public() group.Element
	// Element returns the element stored in slot i (i < Slots()).
	Element(i uint64) group.Element
	// Root is the Merkle root over the encoded slots, as logged.
	Root() [32]byte
}
