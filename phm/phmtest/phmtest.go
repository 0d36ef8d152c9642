// Package phmtest holds test helpers for private hash matching: the
// smallest blinded table that satisfies phm.Table, a map of slots with no
// cuckoo eviction, and the keys tests need. It is not the table builder
// (phm/table); it exists so that client and server tests do not depend on
// it.
package phmtest

import (
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	mrand "math/rand/v2"
	"testing"

	"github.com/cloudflare/circl/group"

	"github.com/vigil-oss/vigil/phm"
)

// Table is a map-backed blinded table: slot → α·H2G(key) for listed keys,
// a fixed pseudo-random element elsewhere.
type Table struct {
	Alpha group.Scalar
	m     uint64
	seeds [phm.Ways]phm.Seed
	pub   group.Element
	slots map[uint64]group.Element
}

// NewTable lists keys under a fresh α in a table of 64·len(keys)+64 slots
// (sparse enough that the first free way always exists in tests).
func NewTable(tb testing.TB, keys ...phm.Key) *Table {
	tb.Helper()
	t := &Table{Alpha: phm.Group.RandomNonZeroScalar(rand.Reader), m: uint64(64*len(keys) + 64), slots: map[uint64]group.Element{}}
	for w := range t.seeds {
		_, _ = rand.Read(t.seeds[w][:])
	}
	t.pub = phm.Group.NewElement().MulGen(t.Alpha)
	for _, k := range keys {
		if err := t.Add(k); err != nil {
			tb.Fatal(err)
		}
	}
	return t
}

// Add lists one more key in its first free way.
func (t *Table) Add(k phm.Key) error {
	slots, err := phm.Slots(t.seeds, t.m, k)
	if err != nil {
		return err
	}
	for _, s := range slots {
		if _, used := t.slots[s]; !used {
			t.slots[s] = phm.Group.NewElement().Mul(phm.HashToGroup(k), t.Alpha)
			return nil
		}
	}
	return fmt.Errorf("phmtest: no free way for a key in %d slots", t.m)
}

// Slots implements phm.Table.
func (t *Table) Slots() uint64 { return t.m }

// Seeds implements phm.Table.
func (t *Table) Seeds() [phm.Ways]phm.Seed { return t.seeds }

// Public implements phm.Table.
func (t *Table) Public() group.Element { return t.pub }

// Element implements phm.Table.
func (t *Table) Element(i uint64) group.Element {
	if e, ok := t.slots[i]; ok {
		return e
	}
	return phm.Group.HashToElement(binary.BigEndian.AppendUint64(nil, i), []byte("vigil-phmtest-empty"))
}

// Root implements phm.Table; the test table is not logged.
func (t *Table) Root() [32]byte { return sha256.Sum256(nil) }

// ReviewKey returns a fresh review-service key pair of phm.InnerKEM.
func ReviewKey(tb testing.TB) hpke.PrivateKey {
	tb.Helper()
	k, err := phm.InnerKEM.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// Picture is a benign generated image: a gradient with a dozen coloured
// discs and bars placed by seed, so different seeds give unrelated PDQ
// hashes of good quality. The same seed always gives the same picture.
func Picture(seed, side int) *image.RGBA {
	r := mrand.New(mrand.NewPCG(uint64(seed), 7))
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	for y := range side {
		for x := range side {
			img.Set(x, y, color.RGBA{uint8(x * 255 / side), uint8(y * 255 / side), 128, 255})
		}
	}
	for range 12 {
		c := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
		cx, cy, rad := r.IntN(side), r.IntN(side), 4+r.IntN(side/4)
		disc := r.IntN(2) == 0
		for y := max(0, cy-rad); y < min(side, cy+rad); y++ {
			for x := max(0, cx-rad); x < min(side, cx+rad); x++ {
				if !disc || (x-cx)*(x-cx)+(y-cy)*(y-cy) <= rad*rad {
					img.Set(x, y, c)
				}
			}
		}
	}
	return img
}
