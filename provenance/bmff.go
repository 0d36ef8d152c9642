package provenance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// uuidC2PABMFF is the extended type of the top-level uuid box that holds
// a C2PA manifest store in an ISO BMFF file (MP4, MOV, HEIF, …).
var uuidC2PABMFF = [16]byte{0xd8, 0xfe, 0xc3, 0xd6, 0x1b, 0x0e, 0x48, 0x3c, 0x92, 0x97, 0x58, 0x28, 0x87, 0x7e, 0xc4, 0x81}

// bmffTopLevel are box types a BMFF file starts with: a reader that sees
// one tries the file as BMFF.
var bmffTopLevel = map[string]bool{"ftyp": true, "styp": true, "moov": true, "wide": true, "free": true, "skip": true, "mdat": true}

// isBMFF reports whether data starts with a BMFF box of a type files
// start with.
func isBMFF(data []byte) bool {
	return len(data) >= 8 && bmffTopLevel[string(data[4:8])]
}

// bmffBox is one box of a BMFF file: its place and its path from the
// top ("/moov/trak").
type bmffBox struct {
	path        string
	start, size uint64
	hdr         uint64 // header length, the uuid's extended type included
}

// bmffContainers are the box types whose payload is boxes, walked for
// exclusions that name a nested box; meta is a full box (4 bytes of
// version and flags before its children).
var bmffContainers = map[string]int{
	"moov": 0, "trak": 0, "mdia": 0, "minf": 0, "stbl": 0, "dinf": 0, "edts": 0, "udta": 0,
	"mvex": 0, "moof": 0, "traf": 0, "mfra": 0, "iprp": 0, "ipco": 0, "sinf": 0, "schi": 0,
	"meta": 4,
}

// bmffWalk lists the boxes of data, top-level first then, when nested,
// those in containers, at most max of them; a box that does not fit its
// parent ends the walk with an error.
func bmffWalk(data []byte, max int, nested bool) ([]bmffBox, error) {
	var out []bmffBox
	type span struct {
		prefix     string
		start, end uint64
	}
	todo := []span{{"", 0, uint64(len(data))}}
	for len(todo) > 0 {
		s := todo[0]
		todo = todo[1:]
		for pos := s.start; pos < s.end; {
			if len(out) == max {
				return nil, fmt.Errorf("bmff: more than %d boxes", max)
			}
			if s.end-pos < 8 {
				return nil, fmt.Errorf("bmff: truncated box header at %d", pos)
			}
			size, typ, hdr := uint64(binary.BigEndian.Uint32(data[pos:])), string(data[pos+4:pos+8]), uint64(8)
			switch size {
			case 0:
				size = s.end - pos
			case 1:
				if s.end-pos < 16 {
					return nil, fmt.Errorf("bmff: truncated box header at %d", pos)
				}
				size, hdr = binary.BigEndian.Uint64(data[pos+8:]), 16
			}
			if typ == "uuid" {
				hdr += 16
			}
			if size < hdr || size > s.end-pos {
				return nil, fmt.Errorf("bmff: %q box at %d of size %d outside its %d bytes", printableType(typ), pos, size, s.end-pos)
			}
			b := bmffBox{path: s.prefix + "/" + typ, start: pos, size: size, hdr: hdr}
			out = append(out, b)
			if skip, ok := bmffContainers[typ]; ok && nested && size-hdr >= uint64(skip) {
				todo = append(todo, span{b.path, pos + hdr + uint64(skip), pos + size})
			}
			pos += size
		}
	}
	return out, nil
}

// bmffManifest returns the manifest store in data's C2PA uuid box, or nil.
func bmffManifest(data []byte, l Limits) embedded {
	var e embedded
	boxes, err := bmffTop(data, l)
	if err != nil {
		e.jumbfErr = err
		return e
	}
	for _, b := range boxes {
		if b.path != "/uuid" || !bytes.Equal(data[b.start+b.hdr-16:b.start+b.hdr], uuidC2PABMFF[:]) {
			continue
		}
		// Full box version and flags, a purpose ("manifest"; "merkle" for
		// the boxes of a fragmented file's Merkle tree), and for a
		// manifest the offset of the first Merkle box, then the store.
		p := data[b.start+b.hdr : b.start+b.size]
		if len(p) < 4 {
			e.jumbfErr = errors.New("bmff: truncated C2PA box")
			return e
		}
		p = p[4:]
		end := bytes.IndexByte(p, 0)
		if end < 0 || end > maxLabelLen {
			e.jumbfErr = errors.New("bmff: C2PA box without its purpose")
			return e
		}
		purpose := string(p[:end])
		if purpose != "manifest" {
			continue
		}
		p = p[end+1:]
		if len(p) < 8 {
			e.jumbfErr = errors.New("bmff: truncated C2PA box")
			return e
		}
		p = p[8:]
		if len(p) > l.MaxManifestBytes {
			e.jumbfErr = fmt.Errorf("bmff: C2PA box larger than %d bytes", l.MaxManifestBytes)
			return e
		}
		e.jumbf, e.bmff = p, true
		return e
	}
	return e
}

// bmffTop lists data's top-level boxes only.
func bmffTop(data []byte, l Limits) ([]bmffBox, error) {
	return bmffWalk(data, l.MaxBMFFBoxes, false)
}

// bmffHash is a c2pa.hash.bmff (v1, v2, v3) assertion: the hard binding of
// a BMFF file, its exclusions named by box path.
type bmffHash struct {
	Exclusions []bmffExclusion `cbor:"exclusions"`
	Alg        string          `cbor:"alg,omitempty"`
	Hash       []byte          `cbor:"hash,omitempty"`
	// Merkle trees bind a fragmented file fragment by fragment; this
	// reader does not check them.
	Merkle []any `cbor:"merkle,omitempty"`
}

type bmffExclusion struct {
	XPath  string  `cbor:"xpath"`
	Length *uint64 `cbor:"length,omitempty"`
	Data   []struct {
		Offset uint64 `cbor:"offset"`
		Value  []byte `cbor:"value"`
	} `cbor:"data,omitempty"`
	Subset []struct {
		Offset uint64 `cbor:"offset"`
		Length uint64 `cbor:"length"`
	} `cbor:"subset,omitempty"`
	Version *uint64 `cbor:"version,omitempty"`
	Flags   []byte  `cbor:"flags,omitempty"`
	Exact   *bool   `cbor:"exact,omitempty"`
}

// matches says whether box b of file satisfies e's conditions: length,
// version, flags and data at given offsets. budget is what is left of
// the bytes data comparisons may read, and is spent.
func (e *bmffExclusion) matches(b bmffBox, file []byte, budget *int) bool {
	if e.Length != nil && *e.Length != b.size {
		return false
	}
	payload := file[b.start+b.hdr : b.start+b.size]
	if e.Version != nil && (len(payload) < 1 || uint64(payload[0]) != *e.Version) {
		return false
	}
	if len(e.Flags) > 0 {
		if len(e.Flags) != 3 || len(payload) < 4 {
			return false
		}
		want := uint32(e.Flags[0])<<16 | uint32(e.Flags[1])<<8 | uint32(e.Flags[2])
		got := uint32(payload[1])<<16 | uint32(payload[2])<<8 | uint32(payload[3])
		if e.Exact == nil || *e.Exact {
			if got != want {
				return false
			}
		} else if got|want != want {
			return false
		}
	}
	for _, d := range e.Data {
		if *budget -= len(d.Value); *budget < 0 {
			return false
		}
		if d.Offset > b.size || uint64(len(d.Value)) > b.size-d.Offset ||
			!bytes.Equal(file[b.start+d.Offset:b.start+d.Offset+uint64(len(d.Value))], d.Value) {
			return false
		}
	}
	return true
}

// span is a byte range [start, end) of a file.
type span struct{ start, end uint64 }

// checkBMFFHash checks a c2pa.hash.bmff assertion of version (1, 2 or 3)
// against file: the hash of its bytes less the boxes (or parts of boxes)
// the exclusions name; for version 2, each top-level box not wholly
// excluded also contributes its file offset (8 bytes, big-endian) before
// its bytes, so that boxes cannot be moved (as the C2PA reference
// implementation hashes; versions 1 and 3 do not).
func (r *Reader) checkBMFFHash(content []byte, claimAlg string, version int, file []byte) error {
	var bh bmffHash
	if err := r.dec.Unmarshal(content, &bh); err != nil {
		return err
	}
	if len(bh.Hash) == 0 {
		if len(bh.Merkle) > 0 {
			return errors.New("a Merkle-tree BMFF binding (fragmented file) is not checked by this reader")
		}
		return errors.New("BMFF binding without a hash")
	}
	if len(bh.Exclusions) > r.limits.MaxExclusions {
		return fmt.Errorf("%d exclusions, over the limit of %d", len(bh.Exclusions), r.limits.MaxExclusions)
	}
	h, err := hashAlg(firstNonEmpty(bh.Alg, claimAlg))
	if err != nil {
		return err
	}
	var boxes []bmffBox
	nested := slices.ContainsFunc(bh.Exclusions, func(e bmffExclusion) bool { return strings.Count(e.XPath, "/") > 1 })
	if nested {
		boxes, err = bmffWalk(file, r.limits.MaxBMFFBoxes, true)
	} else {
		boxes, err = bmffTop(file, r.limits)
	}
	if err != nil {
		return err
	}
	var excl []span
	whole := map[uint64]bool{} // top-level boxes excluded whole, by start
	// A hostile assertion could name many boxes, with long data to
	// compare in each: comparisons may read twice the file, and the
	// ranges excluded are at most one a box walked.
	budget := 2*len(file) + 4096
	for i := range bh.Exclusions {
		e := &bh.Exclusions[i]
		if len(e.Subset) > r.limits.MaxExclusions || len(e.Data) > r.limits.MaxExclusions {
			return fmt.Errorf("exclusion %q: over the limit of %d subsets or data", printableType(e.XPath), r.limits.MaxExclusions)
		}
		for _, b := range boxes {
			if b.path != e.XPath || !e.matches(b, file, &budget) {
				if budget < 0 {
					return errors.New("exclusions compare more data than the file holds")
				}
				continue
			}
			if len(excl) >= len(boxes)+r.limits.MaxExclusions {
				return fmt.Errorf("exclusions name more than %d ranges", len(boxes)+r.limits.MaxExclusions)
			}
			if len(e.Subset) == 0 {
				excl = append(excl, span{b.start, b.start + b.size})
				if strings.Count(b.path, "/") == 1 {
					whole[b.start] = true
				}
				continue
			}
			for _, s := range e.Subset {
				if s.Offset > b.size {
					continue
				}
				n := b.size - s.Offset
				if s.Length != 0 {
					n = min(s.Length, n)
				}
				excl = append(excl, span{b.start + s.Offset, b.start + s.Offset + n})
			}
		}
	}
	slices.SortFunc(excl, func(a, b span) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	var marks []uint64 // version 2: offsets hashed before their boxes
	if version == 2 {
		for _, b := range boxes {
			if strings.Count(b.path, "/") == 1 && !whole[b.start] {
				marks = append(marks, b.start)
			}
		}
	}
	w := h.New()
	pos := uint64(0)
	emit := func(end uint64) {
		// Bytes [pos, end), each mark inside hashing its offset first.
		for len(marks) > 0 && marks[0] < end {
			if m := marks[0]; m >= pos {
				w.Write(file[pos:m])
				w.Write(binary.BigEndian.AppendUint64(nil, m))
				pos = m
			}
			marks = marks[1:]
		}
		w.Write(file[pos:end])
		pos = end
	}
	for _, x := range excl {
		if x.end <= pos {
			continue // inside one already excluded
		}
		if x.start > pos {
			emit(x.start)
		}
		pos = x.end
		for len(marks) > 0 && marks[0] < pos {
			marks = marks[1:] // inside the excluded range
		}
	}
	emit(uint64(len(file)))
	if !bytes.Equal(w.Sum(nil), bh.Hash) {
		return errors.New("the file's hash differs from the signed one: changed after signing")
	}
	return nil
}
