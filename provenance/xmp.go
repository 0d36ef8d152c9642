package provenance

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

const (
	iptcExtNS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
	rdfNS     = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
)

// digitalSourceType returns the IPTC code of an XMP packet's
// Iptc4xmpExt:DigitalSourceType, written either as an attribute of
// rdf:Description, as an element with text, or as an element with an
// rdf:resource; "" when the packet has none.
func digitalSourceType(packet []byte, l Limits) (string, error) {
	if len(packet) > l.MaxXMPBytes {
		return "", fmt.Errorf("xmp: packet larger than %d bytes", l.MaxXMPBytes)
	}
	// Token resolves prefixes to namespace names, so a packet that binds
	// Iptc4xmpExt to another prefix is read the same.
	d := xml.NewDecoder(bytes.NewReader(packet))
	depth := 0
	in := false // inside a DigitalSourceType element
	var text strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("xmp: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > l.MaxXMPDepth {
				return "", fmt.Errorf("xmp: elements nested deeper than %d", l.MaxXMPDepth)
			}
			for _, a := range t.Attr {
				if a.Name.Local == "DigitalSourceType" && a.Name.Space == iptcExtNS {
					return sourceTypeCode(a.Value), nil
				}
			}
			if t.Name.Local == "DigitalSourceType" && t.Name.Space == iptcExtNS {
				for _, a := range t.Attr {
					if a.Name.Local == "resource" && a.Name.Space == rdfNS {
						return sourceTypeCode(a.Value), nil
					}
				}
				in = true
			}
		case xml.CharData:
			if in && text.Len() < 1024 {
				text.Write(t)
			}
		case xml.EndElement:
			depth--
			if in {
				return sourceTypeCode(text.String()), nil
			}
		}
	}
}
