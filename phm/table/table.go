// Package table builds, serialises, verifies and diffs the blinded 3-way
// cuckoo table of private hash matching (../shared/docs/e2ee.md §5.2): an
// occupied slot holds α·HashToGroup(key), an empty one an element derived
// from a secret build seed, so that an auditor given (α, list, seed)
// rebuilds the table byte for byte and confirms its logged Merkle root.
package table

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/cloudflare/circl/group"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/phm"
)

// MaxSlots bounds the slots of a table Load or ParseDiff accepts: 2^24
// slots is 512 MiB, above the design's 10M-entry ceiling (12.5M slots,
// 400 MB) and far below what would exhaust a phone.
const MaxSlots = 1 << 24

// headerSize is the serialised header: magic, version, n, m, seeds, P.
const headerSize = 8 + 3*8 + phm.Ways*32 + phm.ElementSize

var tableMagic = [8]byte{'V', 'P', 'H', 'M', 'T', 'B', 'L', '1'}

// Domain separation tags of what the build derives from its secret seed.
var (
	seedTag   = []byte("vigil-phm-v1-seeds")
	cuckooTag = []byte("vigil-phm-v1-cuckoo")
	emptyDST  = []byte("vigil-phm-v1-empty")
)

// maxKicks bounds one key's eviction walk; maxAttempts the seed sets tried.
// At load 0.8 a 3-way table (threshold ≈ 0.918) almost never needs a second
// attempt; the bound only keeps a pathological input from looping.
const (
	maxKicks    = 1000
	maxAttempts = 16
)

// Table is a built or loaded blinded table. It implements phm.Table. It is
// immutable: Apply returns a new table.
type Table struct {
	version uint64
	n       uint64
	seeds   [phm.Ways]phm.Seed
	public  [phm.ElementSize]byte
	pub     group.Element
	slots   []byte // m × ElementSize encoded elements
	root    [32]byte
}

var _ phm.Table = (*Table)(nil)

// Options tune Build.
type Options struct {
	// Version is the table's version, as in its manifest.
	Version uint64
	// Slots is m. Zero means phm.SlotsFor(len(keys)) (load 0.8). A larger
	// value leaves room for later versions to keep m and the seeds, which
	// is what lets Diff ship only changed slots; a smaller one is refused.
	Slots uint64
	// Workers computes the slot elements in parallel; zero means
	// GOMAXPROCS. The output does not depend on it.
	Workers int
}

// Build places keys in a 3-way cuckoo table and blinds them under alpha.
// The result depends only on (alpha, the set of keys, buildSeed, Slots):
// keys are sorted first and every choice the build makes comes from
// buildSeed. Keys must be valid and distinct.
func Build(alpha group.Scalar, keys []phm.Key, buildSeed [32]byte, opts Options) (*Table, error) {
	if alpha == nil || alpha.IsZero() {
		return nil, errors.New("phm table: zero blinding key")
	}
	sorted := slices.Clone(keys)
	slices.SortFunc(sorted, func(a, b phm.Key) int { return bytes.Compare(a, b) })
	for i, k := range sorted {
		if k.Family() == "" {
			return nil, fmt.Errorf("phm table: malformed key %x", []byte(k))
		}
		if i > 0 && bytes.Equal(k, sorted[i-1]) {
			return nil, fmt.Errorf("phm table: duplicate key %x", []byte(k))
		}
	}
	m := phm.SlotsFor(len(sorted))
	if opts.Slots != 0 {
		if opts.Slots < m {
			return nil, fmt.Errorf("phm table: %d slots for %d keys is over load %.1f", opts.Slots, len(sorted), phm.Load)
		}
		m = opts.Slots
	}
	if m > MaxSlots {
		return nil, fmt.Errorf("phm table: %d slots is over %d", m, MaxSlots)
	}
	var (
		seeds [phm.Ways]phm.Seed
		owner []int32
		err   error
	)
	for attempt := range uint32(maxAttempts) {
		seeds = deriveSeeds(buildSeed, m, attempt)
		if owner, err = place(sorted, seeds, m, buildSeed, attempt); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	t := &Table{version: opts.Version, n: uint64(len(sorted)), seeds: seeds, slots: make([]byte, m*phm.ElementSize)}
	t.pub = phm.Group.NewElement().MulGen(alpha)
	enc, err := t.pub.MarshalBinaryCompress()
	if err != nil {
		return nil, fmt.Errorf("phm table: encode public point: %w", err)
	}
	copy(t.public[:], enc)
	if err := t.fill(alpha, sorted, owner, buildSeed, opts.Workers); err != nil {
		return nil, err
	}
	t.root = merkleRoot(t.slots)
	return t, nil
}

// deriveSeeds returns the published per-way slot seeds of one build
// attempt. They come from the secret build seed by a one-way function, so
// publishing them reveals nothing of it.
func deriveSeeds(buildSeed [32]byte, m uint64, attempt uint32) [phm.Ways]phm.Seed {
	var out [phm.Ways]phm.Seed
	for w := range out {
		h := sha256.New()
		h.Write(seedTag)
		h.Write(buildSeed[:])
		h.Write(binary.BigEndian.AppendUint64(nil, m))
		h.Write(binary.BigEndian.AppendUint32(nil, attempt))
		h.Write([]byte{byte(w)})
		h.Sum(out[w][:0])
	}
	return out
}

// place runs cuckoo insertion of the sorted keys and returns the key index
// owning each slot (-1 for empty). Each eviction choice is a function of
// the build seed, the key being moved and the step of its walk, not of a
// shared random stream: the placement is reproducible, and a key added or
// removed in the next version disturbs only the slots its own walks touch,
// which keeps diffs small.
func place(keys []phm.Key, seeds [phm.Ways]phm.Seed, m uint64, buildSeed [32]byte, attempt uint32) ([]int32, error) {
	if uint64(len(keys)) > m || len(keys) > 1<<31-1 {
		return nil, errors.New("phm table: more keys than slots")
	}
	pos := make([][phm.Ways]uint64, len(keys))
	salt := make([]uint64, len(keys))
	for i, k := range keys {
		p, err := phm.Slots(seeds, m, k)
		if err != nil {
			return nil, err
		}
		pos[i] = p
		h := sha256.New()
		h.Write(cuckooTag)
		h.Write(buildSeed[:])
		h.Write(binary.BigEndian.AppendUint32(nil, attempt))
		h.Write(k)
		var sum [sha256.Size]byte
		salt[i] = binary.BigEndian.Uint64(h.Sum(sum[:0]))
	}
	owner := make([]int32, m)
	for i := range owner {
		owner[i] = -1
	}
	for i := range keys {
		cur, from := int32(i), uint64(m) // m: no slot
		placed := false
		for kick := range uint64(maxKicks) {
			p := pos[cur]
			for w := range phm.Ways {
				if owner[p[w]] == -1 {
					owner[p[w]] = cur
					placed = true
					break
				}
			}
			if placed {
				break
			}
			// Evict from a way other than the slot we were just pushed
			// out of, so the walk does not bounce between two slots.
			r := mix(salt[cur] + kick*0x9e3779b97f4a7c15)
			w := int(r % phm.Ways)
			if p[w] == from {
				w = (w + 1 + int(r>>32)%(phm.Ways-1)) % phm.Ways
			}
			s := p[w]
			owner[s], cur = cur, owner[s]
			from = s
		}
		if !placed {
			return nil, fmt.Errorf("phm table: cuckoo insertion failed at key %d of %d", i+1, len(keys))
		}
	}
	return owner, nil
}

// mix is SplitMix64's finaliser: a cheap, well-spread function of its input.
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// fill computes every slot's element: α·H2G(key) where a key sits, an
// element derived from the build seed elsewhere. Workers take fixed
// ranges, so the bytes do not depend on scheduling.
func (t *Table) fill(alpha group.Scalar, keys []phm.Key, owner []int32, buildSeed [32]byte, workers int) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	m := len(owner)
	chunk := (m + workers - 1) / workers
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, m)
		if lo >= hi {
			break
		}
		wg.Go(func() {
			e := phm.Group.NewElement()
			for s := lo; s < hi; s++ {
				if k := owner[s]; k >= 0 {
					e.Mul(phm.HashToGroup(keys[k]), alpha)
				} else {
					e = emptyElement(buildSeed, uint64(s))
				}
				b, err := e.MarshalBinaryCompress()
				if err != nil {
					errs[w] = fmt.Errorf("phm table: encode slot %d: %w", s, err)
					return
				}
				copy(t.slots[s*phm.ElementSize:], b)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// emptyElement is the filler of empty slot s: a hash to the group of the
// secret build seed and the index, uniform like a blinded key, so the
// device cannot tell empty slots from occupied ones.
func emptyElement(buildSeed [32]byte, s uint64) group.Element {
	msg := binary.BigEndian.AppendUint64(buildSeed[:len(buildSeed):len(buildSeed)], s)
	return phm.Group.HashToElement(msg, emptyDST)
}

// merkleRoot is the RFC 6962 Merkle tree hash over the encoded slots,
// with tlog's leaf and node hashing (tlog.TreeHash over the same records
// gives the same value; a test checks it). Pairing level by level and
// carrying an unpaired last node up is RFC 6962's split at the largest
// power of two.
func merkleRoot(slots []byte) [32]byte {
	n := len(slots) / phm.ElementSize
	if n == 0 {
		return sha256.Sum256(nil)
	}
	level := make([]tlog.Hash, n)
	for i := range n {
		level[i] = tlog.RecordHash(slots[i*phm.ElementSize : (i+1)*phm.ElementSize])
	}
	for len(level) > 1 {
		next := level[:0]
		for i := 0; i < len(level); i += 2 {
			if i+1 == len(level) {
				next = append(next, level[i])
			} else {
				next = append(next, tlog.NodeHash(level[i], level[i+1]))
			}
		}
		level = next
	}
	return level[0]
}

// Slots is m, the number of slots.
func (t *Table) Slots() uint64 { return uint64(len(t.slots) / phm.ElementSize) }

// Seeds are the per-way slot seeds.
func (t *Table) Seeds() [phm.Ways]phm.Seed { return t.seeds }

// Public is P = α·G.
func (t *Table) Public() group.Element { return t.pub.Copy() }

// PublicBytes is P's encoding, as in the manifest.
func (t *Table) PublicBytes() [phm.ElementSize]byte { return t.public }

// Element returns the element in slot i. It returns the identity, which
// no key opens, for i out of range or a slot that is not a valid encoding
// (see Check).
func (t *Table) Element(i uint64) group.Element {
	if i >= t.Slots() {
		return phm.Group.Identity()
	}
	e := phm.Group.NewElement()
	if err := e.UnmarshalBinary(t.SlotBytes(i)); err != nil {
		return phm.Group.Identity()
	}
	return e
}

// SlotBytes returns the encoding in slot i (i < Slots()); the caller must
// not modify it.
func (t *Table) SlotBytes(i uint64) []byte {
	return t.slots[i*phm.ElementSize : (i+1)*phm.ElementSize : (i+1)*phm.ElementSize]
}

// Root is the Merkle root over the encoded slots, as logged.
func (t *Table) Root() [32]byte { return t.root }

// Version is the table's version.
func (t *Table) Version() uint64 { return t.version }

// Len is N, the number of listed keys.
func (t *Table) Len() uint64 { return t.n }

// Size is the serialised length in bytes.
func (t *Table) Size() int { return headerSize + len(t.slots) }

// WriteTo writes the compact serialisation: a 160-byte header (magic,
// version, N, m, seeds, P) then the m encoded slots. It implements
// io.WriterTo.
func (t *Table) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(t.header())
	if err != nil {
		return int64(n), err
	}
	k, err := w.Write(t.slots)
	return int64(n + k), err
}

func (t *Table) header() []byte {
	b := make([]byte, 0, headerSize)
	b = append(b, tableMagic[:]...)
	b = binary.BigEndian.AppendUint64(b, t.version)
	b = binary.BigEndian.AppendUint64(b, t.n)
	b = binary.BigEndian.AppendUint64(b, t.Slots())
	for _, s := range t.seeds {
		b = append(b, s[:]...)
	}
	return append(b, t.public[:]...)
}

// Load reads a table written by WriteTo, of at most maxSlots slots (0 or
// more than MaxSlots means MaxSlots). It refuses a short or long body and
// a public point that is not a valid group element, and computes the
// root; check it against a manifest with Verify (and with Check to also
// refuse undecodable slots). Memory grows with
// the bytes actually read, not with the header's claim.
func Load(r io.Reader, maxSlots uint64) (*Table, error) {
	if maxSlots == 0 || maxSlots > MaxSlots {
		maxSlots = MaxSlots
	}
	var hdr [headerSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "phm table: short header")
	}
	if !bytes.Equal(hdr[:8], tableMagic[:]) {
		return nil, vigil.Errorf(vigil.EINVALID, "phm table: not a table file")
	}
	t := &Table{version: binary.BigEndian.Uint64(hdr[8:]), n: binary.BigEndian.Uint64(hdr[16:])}
	m := binary.BigEndian.Uint64(hdr[24:])
	if m == 0 || m > maxSlots {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "phm table: %d slots, want 1 to %d", m, maxSlots)
	}
	if t.n > m {
		return nil, vigil.Errorf(vigil.EINVALID, "phm table: %d keys in %d slots", t.n, m)
	}
	off := 32
	for w := range t.seeds {
		copy(t.seeds[w][:], hdr[off:off+32])
		off += 32
	}
	copy(t.public[:], hdr[off:])
	t.pub = phm.Group.NewElement()
	if err := t.pub.UnmarshalBinary(t.public[:]); err != nil || t.pub.IsIdentity() {
		return nil, vigil.Errorf(vigil.EINVALID, "phm table: bad public point")
	}
	want := int64(m) * phm.ElementSize
	slots, err := io.ReadAll(io.LimitReader(r, want+1))
	if err != nil {
		return nil, fmt.Errorf("phm table: read slots: %w", err)
	}
	if int64(len(slots)) != want {
		return nil, vigil.Errorf(vigil.EINVALID, "phm table: %d slot bytes, want %d", len(slots), want)
	}
	t.slots = slots
	t.root = merkleRoot(slots)
	return t, nil
}

// Check refuses a table with a slot that is not a canonical element
// encoding. Load does not run it: decoding costs a square root per slot
// (about 15 µs, 20 s for a 1M-entry table on a loaded core), and a bad
// slot is harmless to a device, since Element reads it as the identity,
// which no key opens, exactly as if the service had put a random element
// there. Auditors and the builder's own tests run it.
func (t *Table) Check() error { return checkElements(t.slots) }

// checkElements refuses a slot that is not a canonical element encoding.
func checkElements(slots []byte) error {
	n := len(slots) / phm.ElementSize
	workers := runtime.GOMAXPROCS(0)
	chunk := (n + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, n)
		if lo >= hi {
			break
		}
		wg.Go(func() {
			e := phm.Group.NewElement()
			for i := lo; i < hi; i++ {
				if e.UnmarshalBinary(slots[i*phm.ElementSize:(i+1)*phm.ElementSize]) != nil {
					errs[w] = vigil.Errorf(vigil.EINVALID, "phm table: slot %d is not a group element", i)
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Verify checks t against its manifest: version, N, m, seeds, P and the
// Merkle root must all be the manifest's. A client uses a table only after
// Verify and after checking the manifest against a verified checkpoint
// (phm/translog).
func (t *Table) Verify(m *phm.Manifest) error {
	if m.Version != t.version || m.N != t.n {
		return vigil.Errorf(vigil.EINVALID, "phm table: version %d with %d keys, manifest says %d with %d", t.version, t.n, m.Version, m.N)
	}
	return m.Check(t)
}
