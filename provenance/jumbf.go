package provenance

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// A JUMBF box (ISO/IEC 19566-5): a superbox ("jumb") holds a description
// box ("jumd": a content-type UUID and a label) followed by child boxes; a
// content box holds bytes ("cbor", "json", …).
type box struct {
	typ string
	// body is the box's bytes after its LBox/TBox(/XLBox) header: for a
	// superbox, the description box and the children. C2PA hashes an
	// assertion over exactly these bytes.
	body []byte
	// Superbox fields.
	uuid     [16]byte
	label    string
	children []*box
}

// jumbfParser bounds the work of one manifest store: nesting depth and the
// number of boxes, since each box costs an allocation.
type jumbfParser struct {
	maxDepth, maxBoxes, boxes int
}

// parseBoxes parses the boxes laid end to end in data.
func (p *jumbfParser) parseBoxes(data []byte, depth int) ([]*box, error) {
	if depth > p.maxDepth {
		return nil, fmt.Errorf("jumbf: boxes nested deeper than %d", p.maxDepth)
	}
	var out []*box
	for len(data) > 0 {
		b, n, err := p.parseBox(data, depth)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		data = data[n:]
	}
	return out, nil
}

// boxHeader reads a box header: the box's total size and type, and the
// header's own length. LBox 0 means "to the end of data", 1 that a 64-bit
// XLBox follows.
func boxHeader(data []byte) (size uint64, typ string, hdr int, err error) {
	if len(data) < 8 {
		return 0, "", 0, fmt.Errorf("jumbf: truncated box header")
	}
	size, typ, hdr = uint64(binary.BigEndian.Uint32(data)), string(data[4:8]), 8
	switch size {
	case 0:
		size = uint64(len(data))
	case 1:
		if len(data) < 16 {
			return 0, "", 0, fmt.Errorf("jumbf: truncated extended box header")
		}
		size, hdr = binary.BigEndian.Uint64(data[8:]), 16
	}
	if size < uint64(hdr) || size > uint64(len(data)) {
		return 0, "", 0, fmt.Errorf("jumbf: %q box size %d outside its %d bytes", printableType(typ), size, len(data))
	}
	return size, typ, hdr, nil
}

func (p *jumbfParser) parseBox(data []byte, depth int) (*box, int, error) {
	p.boxes++
	if p.boxes > p.maxBoxes {
		return nil, 0, fmt.Errorf("jumbf: more than %d boxes", p.maxBoxes)
	}
	size, typ, hdr, err := boxHeader(data)
	if err != nil {
		return nil, 0, err
	}
	b := &box{typ: typ, body: data[hdr:size]}
	if typ != "jumb" {
		return b, int(size), nil
	}
	kids, err := p.parseBoxes(b.body, depth+1)
	if err != nil {
		return nil, 0, err
	}
	if len(kids) == 0 || kids[0].typ != "jumd" {
		return nil, 0, fmt.Errorf("jumbf: superbox without a description box")
	}
	if err := b.describe(kids[0].body); err != nil {
		return nil, 0, err
	}
	b.children = kids[1:]
	return b, int(size), nil
}

// Description box toggles.
const (
	jumdLabel     = 0x02
	jumdID        = 0x04
	jumdSignature = 0x08
)

// maxLabelLen bounds a description box's label; C2PA labels are short
// (a manifest's is a URN).
const maxLabelLen = 1024

func (b *box) describe(d []byte) error {
	if len(d) < 17 {
		return fmt.Errorf("jumbf: truncated description box")
	}
	copy(b.uuid[:], d[:16])
	toggles, d := d[16], d[17:]
	if toggles&jumdLabel != 0 {
		end := bytes.IndexByte(d, 0)
		if end < 0 {
			return fmt.Errorf("jumbf: description label without its terminator")
		}
		if end > maxLabelLen {
			return fmt.Errorf("jumbf: description label longer than %d bytes", maxLabelLen)
		}
		b.label, d = string(d[:end]), d[end+1:]
	}
	if toggles&jumdID != 0 && len(d) < 4 {
		return fmt.Errorf("jumbf: truncated description id")
	}
	if toggles&jumdID != 0 {
		d = d[4:]
	}
	if toggles&jumdSignature != 0 && len(d) < 32 {
		return fmt.Errorf("jumbf: truncated description signature")
	}
	return nil
}

// child returns b's first child superbox labelled label.
func (b *box) child(label string) *box {
	for _, c := range b.children {
		if c.typ == "jumb" && c.label == label {
			return c
		}
	}
	return nil
}

// content returns the bytes of b's first content box of type typ.
func (b *box) content(typ string) ([]byte, bool) {
	for _, c := range b.children {
		if c.typ == typ {
			return c.body, true
		}
	}
	return nil, false
}

func printableType(t string) string {
	for _, c := range []byte(t) {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("%x", t)
		}
	}
	return t
}

// C2PA content-type UUIDs of the superboxes this reader looks at: the
// four-character code followed by ISO's 0011-0010-8000-00AA00389B71.
var (
	uuidManifestStore  = c2paUUID("c2pa")
	uuidManifest       = c2paUUID("c2ma")
	uuidUpdateManifest = c2paUUID("c2um")
)

func c2paUUID(code string) (u [16]byte) {
	copy(u[:4], code)
	copy(u[4:], []byte{0x00, 0x11, 0x00, 0x10, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71})
	return u
}
