package provenance

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// embedded is what a file carries for this package: its C2PA manifest
// store (JUMBF) and its XMP packet.
type embedded struct {
	jumbf    []byte
	jumbfErr error
	xmp      []byte
	xmpErr   error
	bmff     bool // the store came from a BMFF file's C2PA uuid box
}

const xmpPrefix = "http://ns.adobe.com/xap/1.0/\x00"

// jpegSegments walks a JPEG's marker segments up to the start of scan (C2PA
// and XMP live in APPn segments before it), collecting APP11 JUMBF
// packets and the APP1 XMP packet. Malformed framing ends the walk with
// what was found so far: the image decoder judges the file itself.
func jpegSegments(data []byte, l Limits) embedded {
	var e embedded
	type packet struct {
		seq  uint32
		data []byte
	}
	jumbf := map[uint16][]packet{} // by box instance number
	total := 0
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xFF {
			break
		}
		marker := data[i+1]
		if marker == 0xFF { // fill byte
			i++
			continue
		}
		if marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) {
			i += 2
			continue
		}
		if marker == 0xDA || marker == 0xD9 { // start of scan, end of image
			break
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			break
		}
		seg := data[i+4 : i+2+n]
		i += 2 + n
		switch {
		case marker == 0xEB && len(seg) >= 8 && seg[0] == 'J' && seg[1] == 'P':
			// Common identifier "JP", box instance En, packet sequence Z.
			en, z := binary.BigEndian.Uint16(seg[2:]), binary.BigEndian.Uint32(seg[4:])
			if len(jumbf) >= l.MaxBoxes && jumbf[en] == nil {
				e.jumbfErr = fmt.Errorf("jpeg: more than %d JUMBF boxes", l.MaxBoxes)
				continue
			}
			total += len(seg)
			if total > l.MaxManifestBytes {
				e.jumbfErr = fmt.Errorf("jpeg: JUMBF segments larger than %d bytes", l.MaxManifestBytes)
				return e
			}
			jumbf[en] = append(jumbf[en], packet{z, seg[8:]})
		case marker == 0xE1 && e.xmp == nil && bytes.HasPrefix(seg, []byte(xmpPrefix)):
			e.xmp = seg[len(xmpPrefix):]
		}
	}
	// Reassemble each box: every packet repeats the superbox's header,
	// which the first one keeps and the others drop. The manifest store is
	// the box whose description is C2PA's; others (other JUMBF uses) are
	// skipped.
	ens := make([]int, 0, len(jumbf))
	for en := range jumbf {
		ens = append(ens, int(en))
	}
	sort.Ints(ens)
	for _, en := range ens {
		ps := jumbf[uint16(en)]
		sort.SliceStable(ps, func(a, b int) bool { return ps[a].seq < ps[b].seq })
		var buf []byte
		ok := true
		for k, p := range ps {
			if p.seq != ps[0].seq+uint32(k) {
				ok = false // a packet missing or repeated
				break
			}
			if k == 0 {
				buf = append(buf, p.data...)
				continue
			}
			// The repeated header's size is the whole box's, not this
			// packet's: only its length matters here.
			hdr := 8
			if len(p.data) >= 4 && binary.BigEndian.Uint32(p.data) == 1 {
				hdr = 16
			}
			if hdr > len(p.data) {
				ok = false
				break
			}
			buf = append(buf, p.data[hdr:]...)
		}
		if !ok {
			e.jumbfErr = fmt.Errorf("jpeg: JUMBF box %d has packets missing or out of sequence", en)
			continue
		}
		if isManifestStore(buf) {
			e.jumbf, e.jumbfErr = buf, nil
			break
		}
	}
	return e
}

// isManifestStore reports whether data starts with a superbox described
// as a C2PA manifest store.
func isManifestStore(data []byte) bool {
	_, typ, hdr, err := boxHeader(data)
	if err != nil || typ != "jumb" {
		return false
	}
	d := data[hdr:]
	if len(d) < 8+16 || string(d[4:8]) != "jumd" {
		return false
	}
	return bytes.Equal(d[8:24], uuidManifestStore[:])
}

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// pngChunks walks a PNG's chunks for the C2PA chunk (caBX) and the XMP
// packet (an iTXt chunk with keyword XML:com.adobe.xmp).
func pngChunks(data []byte, l Limits) embedded {
	var e embedded
	for i := len(pngSignature); i+12 <= len(data); {
		n := binary.BigEndian.Uint32(data[i:])
		typ := string(data[i+4 : i+8])
		if uint64(n) > uint64(len(data)-i-12) {
			break
		}
		chunk := data[i+8 : i+8+int(n)]
		i += 12 + int(n)
		switch typ {
		case "caBX":
			if e.jumbf != nil {
				continue // the first one is the manifest store
			}
			if len(chunk) > l.MaxManifestBytes {
				e.jumbfErr = fmt.Errorf("png: caBX chunk larger than %d bytes", l.MaxManifestBytes)
				continue
			}
			e.jumbf = chunk
		case "iTXt":
			if e.xmp != nil || !bytes.HasPrefix(chunk, []byte("XML:com.adobe.xmp\x00")) {
				continue
			}
			e.xmp, e.xmpErr = pngXMP(chunk[len("XML:com.adobe.xmp\x00"):], l.MaxXMPBytes)
		case "IEND":
			return e
		}
	}
	return e
}

// pngXMP returns the text of an iTXt chunk after its keyword: compression
// flag and method, language tag, translated keyword, text (zlib-inflated,
// within max, when compressed).
func pngXMP(d []byte, max int) ([]byte, error) {
	if len(d) < 2 {
		return nil, fmt.Errorf("png: truncated iTXt chunk")
	}
	compressed := d[0] == 1
	d = d[2:]
	for range 2 { // language tag, translated keyword
		end := bytes.IndexByte(d, 0)
		if end < 0 {
			return nil, fmt.Errorf("png: truncated iTXt chunk")
		}
		d = d[end+1:]
	}
	if !compressed {
		return d, nil
	}
	zr, err := zlib.NewReader(bytes.NewReader(d))
	if err != nil {
		return nil, fmt.Errorf("png: compressed XMP: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("png: compressed XMP: %w", err)
	}
	if len(out) > max {
		return nil, fmt.Errorf("png: XMP packet larger than %d bytes", max)
	}
	return out, nil
}
