package c2patest

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// UUIDBMFF is the extended type of the uuid box holding a C2PA manifest
// store in an ISO BMFF file.
var UUIDBMFF = []byte{0xd8, 0xfe, 0xc3, 0xd6, 0x1b, 0x0e, 0x48, 0x3c, 0x92, 0x97, 0x58, 0x28, 0x87, 0x7e, 0xc4, 0x81}

// bmffExclusions are what a BMFF binding leaves out, as C2PA writers do:
// the C2PA box itself (told by its extended type at offset 8), ftyp
// (whose brands a remux may change) and mfra (a fragment index).
var bmffExclusions = []map[string]any{
	{"xpath": "/uuid", "data": []map[string]any{{"offset": 8, "value": UUIDBMFF}}},
	{"xpath": "/ftyp"},
	{"xpath": "/mfra"},
}

// Box is one top-level box of a BMFF file.
type Box struct {
	Type        string
	Start, Size int
}

// TopBoxes lists a BMFF file's top-level boxes (32-bit sizes, and 64-bit
// ones; no size-0 box but the last).
func TopBoxes(data []byte) ([]Box, error) {
	var out []Box
	for pos := 0; pos < len(data); {
		if len(data)-pos < 8 {
			return nil, errors.New("c2patest: truncated box")
		}
		size, hdr := int(binary.BigEndian.Uint32(data[pos:])), 8
		switch size {
		case 0:
			size = len(data) - pos
		case 1:
			size, hdr = int(binary.BigEndian.Uint64(data[pos+8:])), 16
		}
		if size < hdr || size > len(data)-pos {
			return nil, errors.New("c2patest: box outside the file")
		}
		out = append(out, Box{string(data[pos+4 : pos+8]), pos, size})
		pos += size
	}
	return out, nil
}

// EmbedBMFF returns mp4 (an ISO BMFF file starting with ftyp) with the
// manifest in a C2PA uuid box right after ftyp, bound by a
// c2pa.hash.bmff assertion of version 2 (box offsets hashed) or 3; the
// chunk offsets (stco, co64) are moved by the box's size, so the video
// still plays.
func EmbedBMFF(mp4 []byte, m Manifest, version int) (*Embedded, error) {
	if version != 2 && version != 3 {
		return nil, fmt.Errorf("c2patest: c2pa.hash.bmff version %d", version)
	}
	boxes, err := TopBoxes(mp4)
	if err != nil {
		return nil, err
	}
	if len(boxes) == 0 || boxes[0].Type != "ftyp" {
		return nil, errors.New("c2patest: not a BMFF file starting with ftyp")
	}
	m.bmff = version
	at := boxes[0].Size
	n := 0
	for range 8 {
		patched, err := moveChunkOffsets(mp4, uint64(n))
		if err != nil {
			return nil, err
		}
		// The file as it will be, the C2PA box's contents aside (they are
		// excluded): hash it as a BMFF binding does.
		placeholder := uuidBox(make([]byte, max(n-uuidBoxOverhead, 0)))
		file := bytes.Join([][]byte{patched[:at], placeholder, patched[at:]}, nil)
		sum, err := bmffSum(file, version)
		if err != nil {
			return nil, err
		}
		store, sig, claim, err := m.store(sum, 0, 0, "video/mp4")
		if err != nil {
			return nil, err
		}
		w := uuidBox(store)
		if len(w) == n {
			out := bytes.Join([][]byte{patched[:at], w, patched[at:]}, nil)
			return &Embedded{Data: out, Signature: sig, Claim: claim, TSASignature: m.tsaSig}, nil
		}
		n = len(w)
	}
	return nil, errors.New("c2patest: manifest size does not settle")
}

// uuidBoxOverhead is a C2PA uuid box's bytes before its store: header,
// extended type, version and flags, purpose, Merkle offset.
const uuidBoxOverhead = 8 + 16 + 4 + len("manifest\x00") + 8

func uuidBox(store []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(uuidBoxOverhead+len(store)))
	b = append(append(b, "uuid"...), UUIDBMFF...)
	b = append(b, 0, 0, 0, 0)
	b = append(b, "manifest\x00"...)
	b = binary.BigEndian.AppendUint64(b, 0)
	return append(b, store...)
}

// bmffSum hashes file as a c2pa.hash.bmff binding with bmffExclusions
// does: top-level boxes but ftyp, mfra and the C2PA box, each (version
// 2) after its offset.
func bmffSum(file []byte, version int) ([]byte, error) {
	boxes, err := TopBoxes(file)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	for _, b := range boxes {
		if b.Type == "ftyp" || b.Type == "mfra" || (b.Type == "uuid" && bytes.Equal(file[b.Start+8:b.Start+24], UUIDBMFF)) {
			continue
		}
		if version == 2 {
			h.Write(binary.BigEndian.AppendUint64(nil, uint64(b.Start)))
		}
		h.Write(file[b.Start : b.Start+b.Size])
	}
	return h.Sum(nil), nil
}

// moveChunkOffsets returns a copy of mp4 whose stco and co64 chunk
// offsets are moved by delta, as inserting delta bytes before mdat needs.
func moveChunkOffsets(mp4 []byte, delta uint64) ([]byte, error) {
	out := bytes.Clone(mp4)
	var walk func(start, end int, path string) error
	walk = func(start, end int, path string) error {
		for pos := start; pos+8 <= end; {
			size, typ := int(binary.BigEndian.Uint32(out[pos:])), string(out[pos+4:pos+8])
			if size < 8 || pos+size > end {
				return fmt.Errorf("c2patest: %s box at %d", typ, pos)
			}
			switch p := path + "/" + typ; p {
			case "/moov", "/moov/trak", "/moov/trak/mdia", "/moov/trak/mdia/minf", "/moov/trak/mdia/minf/stbl":
				if err := walk(pos+8, pos+size, p); err != nil {
					return err
				}
			case "/moov/trak/mdia/minf/stbl/stco", "/moov/trak/mdia/minf/stbl/co64":
				count := int(binary.BigEndian.Uint32(out[pos+12:]))
				for i := range count {
					if typ == "stco" {
						o := pos + 16 + 4*i
						binary.BigEndian.PutUint32(out[o:], binary.BigEndian.Uint32(out[o:])+uint32(delta))
					} else {
						o := pos + 16 + 8*i
						binary.BigEndian.PutUint64(out[o:], binary.BigEndian.Uint64(out[o:])+delta)
					}
				}
			}
			pos += size
		}
		return nil
	}
	return out, walk(0, len(out), "")
}
