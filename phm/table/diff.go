package table

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/phm"
)

// diffHeaderSize is magic, from and to versions, the new N, m, both roots
// and the count; each changed slot then takes diffEntrySize bytes.
const (
	diffHeaderSize = 8 + 4*8 + 2*32 + 8
	diffEntrySize  = 4 + phm.ElementSize
)

var diffMagic = [8]byte{'V', 'P', 'H', 'M', 'D', 'I', 'F', '1'}

// Diff turns one table version into the next: the slots whose element
// changed, 36 bytes each (a 4-byte index and the new element). It only
// exists between tables of one shape (same m, seeds and α); a change of
// shape ships the whole table.
type Diff struct {
	From, To         uint64
	N                uint64 // the new version's key count
	Slots            uint64
	FromRoot, ToRoot [32]byte
	// Indexes are strictly increasing; Elements[i] is the new encoding of
	// slot Indexes[i].
	Indexes  []uint32
	Elements [][phm.ElementSize]byte
}

// MakeDiff returns the diff from old to new.
func MakeDiff(old, new *Table) (*Diff, error) {
	if old.Slots() != new.Slots() || old.seeds != new.seeds || old.public != new.public {
		return nil, vigil.Errorf(vigil.EINVALID, "phm diff: versions %d and %d differ in slots, seeds or blinding key; ship the whole table", old.version, new.version)
	}
	if new.version <= old.version {
		return nil, vigil.Errorf(vigil.EINVALID, "phm diff: version %d does not follow %d", new.version, old.version)
	}
	if old.Slots() > 1<<32 {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "phm diff: table over 2^32 slots")
	}
	d := &Diff{From: old.version, To: new.version, N: new.n, Slots: new.Slots(), FromRoot: old.root, ToRoot: new.root}
	for i := range old.Slots() {
		if a, b := old.SlotBytes(i), new.SlotBytes(i); !bytes.Equal(a, b) {
			d.Indexes = append(d.Indexes, uint32(i))
			d.Elements = append(d.Elements, [phm.ElementSize]byte(b))
		}
	}
	return d, nil
}

// MarshalBinary encodes the diff: the header, then (index, element) pairs.
func (d *Diff) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, diffHeaderSize+len(d.Indexes)*diffEntrySize)
	b = append(b, diffMagic[:]...)
	for _, v := range []uint64{d.From, d.To, d.N, d.Slots} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	b = append(b, d.FromRoot[:]...)
	b = append(b, d.ToRoot[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(d.Indexes)))
	for i, idx := range d.Indexes {
		b = binary.BigEndian.AppendUint32(b, idx)
		b = append(b, d.Elements[i][:]...)
	}
	return b, nil
}

// ParseDiff decodes MarshalBinary's form for a table of at most maxSlots
// slots (0 or more than MaxSlots means MaxSlots): exact length, indexes
// strictly increasing and below m, every element a valid encoding.
func ParseDiff(b []byte, maxSlots uint64) (*Diff, error) {
	if maxSlots == 0 || maxSlots > MaxSlots {
		maxSlots = MaxSlots
	}
	if len(b) < diffHeaderSize || !bytes.Equal(b[:8], diffMagic[:]) {
		return nil, vigil.Errorf(vigil.EINVALID, "phm diff: not a diff")
	}
	if uint64(len(b)) > diffHeaderSize+maxSlots*diffEntrySize {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "phm diff: over %d slots", maxSlots)
	}
	d := &Diff{
		From: binary.BigEndian.Uint64(b[8:]), To: binary.BigEndian.Uint64(b[16:]),
		N: binary.BigEndian.Uint64(b[24:]), Slots: binary.BigEndian.Uint64(b[32:]),
	}
	copy(d.FromRoot[:], b[40:72])
	copy(d.ToRoot[:], b[72:104])
	count := binary.BigEndian.Uint64(b[104:])
	if d.To <= d.From || d.Slots == 0 || d.Slots > maxSlots || d.N > d.Slots || count > d.Slots {
		return nil, vigil.Errorf(vigil.EINVALID, "phm diff: bad header")
	}
	if uint64(len(b)-diffHeaderSize) != count*diffEntrySize {
		return nil, vigil.Errorf(vigil.EINVALID, "phm diff: %d bytes of changes for %d slots", len(b)-diffHeaderSize, count)
	}
	d.Indexes = make([]uint32, count)
	d.Elements = make([][phm.ElementSize]byte, count)
	e := phm.Group.NewElement()
	rest := b[diffHeaderSize:]
	for i := range d.Indexes {
		idx := binary.BigEndian.Uint32(rest)
		if uint64(idx) >= d.Slots || i > 0 && idx <= d.Indexes[i-1] {
			return nil, vigil.Errorf(vigil.EINVALID, "phm diff: change %d: slot %d out of order or range", i+1, idx)
		}
		d.Indexes[i] = idx
		copy(d.Elements[i][:], rest[4:diffEntrySize])
		if e.UnmarshalBinary(d.Elements[i][:]) != nil {
			return nil, vigil.Errorf(vigil.EINVALID, "phm diff: change %d is not a group element", i+1)
		}
		rest = rest[diffEntrySize:]
	}
	return d, nil
}

// Apply returns the table d makes of old, after checking that d starts
// from old (version, shape and root) and that the result has d's target
// root. Verify the result against the new version's manifest before use.
func Apply(old *Table, d *Diff) (*Table, error) {
	if d.From != old.version || d.Slots != old.Slots() || d.FromRoot != old.root {
		return nil, vigil.Errorf(vigil.EINVALID, "phm diff: from version %d, not this table (version %d)", d.From, old.version)
	}
	if len(d.Indexes) != len(d.Elements) || d.N > d.Slots {
		return nil, vigil.Errorf(vigil.EINVALID, "phm diff: malformed")
	}
	t := *old
	t.slots = bytes.Clone(old.slots)
	t.version, t.n = d.To, d.N
	e := phm.Group.NewElement()
	for i, idx := range d.Indexes {
		if uint64(idx) >= d.Slots || i > 0 && idx <= d.Indexes[i-1] {
			return nil, vigil.Errorf(vigil.EINVALID, "phm diff: slot %d out of order or range", idx)
		}
		if e.UnmarshalBinary(d.Elements[i][:]) != nil {
			return nil, vigil.Errorf(vigil.EINVALID, "phm diff: change %d is not a group element", i+1)
		}
		copy(t.slots[uint64(idx)*phm.ElementSize:], d.Elements[i][:])
	}
	t.root = merkleRoot(t.slots)
	if t.root != d.ToRoot {
		return nil, vigil.Errorf(vigil.EINVALID, "phm diff: result root %x is not the diff's %x", t.root, d.ToRoot)
	}
	return &t, nil
}

// String summarises the diff for logs.
func (d *Diff) String() string {
	return fmt.Sprintf("phm diff %d→%d: %d of %d slots", d.From, d.To, len(d.Indexes), d.Slots)
}
