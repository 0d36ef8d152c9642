// Package eval holds the measurements of private hash matching that run
// on benign material (../shared/docs/e2ee.md §6). This file is the part
// that needs only the table: the per-image false-match rate of exact keys
// against a large table padded with random balanced hashes.
package eval

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/cloudflare/circl/group"

	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
)

// PadKeys returns n random PDQ keys with exactly 128 ones each, like real
// PDQ hashes, from rng: the stand-in for a large real list, which benign
// tests cannot have.
func PadKeys(n int, rng *rand.Rand) []phm.Key {
	out := make([]phm.Key, n)
	var idx [256]int
	for i := range idx {
		idx[i] = i
	}
	for k := range out {
		var h [32]byte
		// A partial Fisher-Yates picks 128 distinct bit positions.
		for i := range 128 {
			j := i + rng.IntN(256-i)
			idx[i], idx[j] = idx[j], idx[i]
			h[idx[i]/8] |= 1 << (idx[i] % 8)
		}
		key, err := phm.NewKey(phm.FamilyPDQ, h[:])
		if err != nil {
			panic(err) // 32 bytes is PDQ's length
		}
		out[k] = key
	}
	return out
}

// Listed reports whether key is listed in t, the service's view: with α
// it computes α·H2G(key) and looks in the key's slots. A client cannot do
// this; the eval runs as the service.
func Listed(t phm.Table, alpha group.Scalar, key phm.Key) bool {
	slots, err := phm.Slots(t.Seeds(), t.Slots(), key)
	if err != nil {
		return false
	}
	want, err := phm.Group.NewElement().Mul(phm.HashToGroup(key), alpha).MarshalBinaryCompress()
	if err != nil {
		return false
	}
	for _, s := range slots {
		if got, err := t.Element(s).MarshalBinaryCompress(); err == nil && bytes.Equal(got, want) {
			return true
		}
	}
	return false
}

// FalseMatchResult is the outcome of FalseMatches.
type FalseMatchResult struct {
	// Images is the number of query images, Matched how many had at least
	// one listed key (a voucher of theirs would open).
	Images, Matched int
	// Rate is Matched/Images with its 95 % Wilson score interval.
	Rate, Low, High float64
	// PerFamily counts, per key family, the images with a listed key of it.
	PerFamily map[phm.Family]int
	// MultiOpen counts images with more than one listed key, which the
	// one-open rule is meant to keep at zero.
	MultiOpen int
	// Contents is the number of distinct contents among the images.
	Contents int
	// Families is the rate per key class (KeyClass): a picture too flat
	// for PDQ quality 50 carries digests only and counts in "digest"
	// alone, never in the PDQ classes' Images.
	Families map[KeyClass]FamilyResult `json:",omitempty"`
}

// KeyClass is the kind of a client key, as the design's table counts
// false matches: digests (SHA-256, MD5), PDQ exact (the eight
// orientations) and the reliability probes (PDQ keys with bits swapped).
type KeyClass string

// The key classes.
const (
	ClassDigest KeyClass = "digest"
	ClassPDQ    KeyClass = "pdq"
	ClassProbe  KeyClass = "probe"
)

// FamilyResult is the false-match count of one key class: Images query
// pictures (Contents distinct contents) carried at least one key of it,
// Matched of them had one such key listed; Low and High are the 95 %
// Wilson interval of Matched/Images.
type FamilyResult struct {
	Images   int     `json:"images"`
	Contents int     `json:"contents"`
	Matched  int     `json:"matched"`
	Low      float64 `json:"low"`
	High     float64 `json:"high"`
}

// ClassOf returns the class of key k among img's query keys.
func ClassOf(img *CorpusImage, k phm.Key) KeyClass {
	switch k.Family() {
	case phm.FamilySHA256, phm.FamilyMD5:
		return ClassDigest
	case phm.FamilyPDQ:
		h := k[len(k)-pdq.Size:]
		// The listed key is PDQ's plain hash when quality allows (for a
		// 64×64 picture it can differ from the filtered Original).
		if img.Listed.Family() == phm.FamilyPDQ && bytes.Equal(h, img.Listed[len(img.Listed)-pdq.Size:]) {
			return ClassPDQ
		}
		for _, d := range img.PDQ {
			if bytes.Equal(h, d[:]) {
				return ClassPDQ
			}
		}
		return ClassProbe
	}
	return KeyClass(k.Family())
}

// countOpens decides with open which of each image's keys are listed and
// counts images, per key class too; content[i] names image i's content.
// Opens run on every core.
func countOpens(imgs []CorpusImage, content []int, open func(phm.Key) bool) FalseMatchResult {
	type outcome struct {
		opened  int
		carried map[KeyClass]bool // class → opened
		fams    map[phm.Family]bool
	}
	outs := make([]outcome, len(imgs))
	next := make(chan int, 256)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				o := outcome{carried: map[KeyClass]bool{}, fams: map[phm.Family]bool{}}
				seen := map[string]bool{}
				for _, k := range imgs[i].Query {
					if seen[string(k)] {
						continue // the client drops duplicate keys within a voucher
					}
					seen[string(k)] = true
					c := ClassOf(&imgs[i], k)
					hit := open(k)
					o.carried[c] = o.carried[c] || hit
					if hit {
						o.opened++
						o.fams[k.Family()] = true
					}
				}
				outs[i] = o
			}
		})
	}
	for i := range imgs {
		next <- i
	}
	close(next)
	wg.Wait()
	r := FalseMatchResult{Images: len(imgs), PerFamily: map[phm.Family]int{}, Families: map[KeyClass]FamilyResult{}}
	contents := map[int]bool{}
	classContents := map[KeyClass]map[int]bool{}
	for i, o := range outs {
		contents[content[i]] = true
		if o.opened > 0 {
			r.Matched++
		}
		if o.opened > 1 {
			r.MultiOpen++
		}
		for f := range o.fams {
			r.PerFamily[f]++
		}
		for c, hit := range o.carried {
			f := r.Families[c]
			f.Images++
			if hit {
				f.Matched++
			}
			r.Families[c] = f
			if classContents[c] == nil {
				classContents[c] = map[int]bool{}
			}
			classContents[c][content[i]] = true
		}
	}
	r.Contents = len(contents)
	for c, f := range r.Families {
		f.Contents = len(classContents[c])
		f.Low, f.High = Wilson(f.Matched, f.Images)
		r.Families[c] = f
	}
	r.Low, r.High = Wilson(r.Matched, r.Images)
	if r.Images > 0 {
		r.Rate = float64(r.Matched) / float64(r.Images)
	}
	return r
}

// FalseMatches runs each query image's keys against t and counts the
// images that would open. Queries must be benign content not in the list.
func FalseMatches(t phm.Table, alpha group.Scalar, queries [][]phm.Key) FalseMatchResult {
	r := FalseMatchResult{Images: len(queries), PerFamily: map[phm.Family]int{}}
	for _, keys := range queries {
		opened := 0
		fams := map[phm.Family]bool{}
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[string(k)] {
				continue // the client drops duplicate keys within a voucher
			}
			seen[string(k)] = true
			if Listed(t, alpha, k) {
				opened++
				fams[k.Family()] = true
			}
		}
		if opened > 0 {
			r.Matched++
		}
		if opened > 1 {
			r.MultiOpen++
		}
		for f := range fams {
			r.PerFamily[f]++
		}
	}
	r.Low, r.High = Wilson(r.Matched, r.Images)
	if r.Images > 0 {
		r.Rate = float64(r.Matched) / float64(r.Images)
	}
	return r
}

// Wilson returns the 95 % Wilson score interval of k successes in n
// trials. Unlike the normal approximation it stays inside [0, 1] and is
// not empty at k = 0, which is the case that matters here: 0 of n gives
// an upper bound of about 3.84/n.
func Wilson(k, n int) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	const z = 1.959963984540054
	p, nf := float64(k)/float64(n), float64(n)
	den := 1 + z*z/nf
	mid := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return max(0, mid-half), min(1, mid+half)
}

// Seed returns a deterministic RNG for an eval run, so a reported number
// can be reproduced.
func Seed(s uint64) *rand.Rand {
	var b [32]byte
	binary.BigEndian.PutUint64(b[:], s)
	return rand.New(rand.NewChaCha8(b))
}
