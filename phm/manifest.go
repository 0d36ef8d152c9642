package phm

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-oss/vigil"
)

// Manifest limits: a manifest is a few hundred bytes; the bounds keep a
// hostile one from costing more than a page of memory per source.
const (
	MaxManifestBytes   = 64 << 10
	MaxManifestSources = 256
	MaxSourceNameLen   = 64
)

// manifestHeader is the first line of a manifest's text.
const manifestHeader = "vigil-phm-manifest/v1"

// Manifest describes one version of the blinded table: what a device
// checks the table against and what the transparency log records.
// Signatures are not fields: the manifest's text is a signed note
// (golang.org/x/mod/sumdb/note), signed by the list operator and cosigned
// by contributing organisations, and that signed note is the log record.
type Manifest struct {
	Version uint64
	// Parent is the version this one follows (its diff base), 0 for none.
	Parent uint64
	// N is the number of listed keys, Slots the table size m.
	N, Slots uint64
	Seeds    [Ways]Seed
	// Public is the encoding of P = α·G.
	Public [ElementSize]byte
	// Root is the Merkle root over the encoded slots.
	Root [32]byte
	// Sources counts, per contributing organisation, the listed entries it
	// vouched for, sorted by name.
	Sources []SourceCount
}

// SourceCount is one organisation's share of a table version.
type SourceCount struct {
	Source  string
	Entries uint64
}

// ValidSourceName reports whether s can name a source in a manifest:
// 1 to 64 printable ASCII bytes without spaces.
func ValidSourceName(s string) bool {
	if s == "" || len(s) > MaxSourceNameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// MarshalText returns the manifest's canonical text: one "key value" line
// per field in a fixed order, the text a note signs. It refuses a
// manifest that ParseManifest would refuse.
func (m *Manifest) MarshalText() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\nversion %d\nparent %d\nn %d\nslots %d\n", manifestHeader, m.Version, m.Parent, m.N, m.Slots)
	for _, s := range m.Seeds {
		fmt.Fprintf(&b, "seed %x\n", s[:])
	}
	fmt.Fprintf(&b, "public %x\nroot %x\n", m.Public[:], m.Root[:])
	for _, s := range m.Sources {
		fmt.Fprintf(&b, "source %s %d\n", s.Source, s.Entries)
	}
	return b.Bytes(), nil
}

func (m *Manifest) validate() error {
	if m.Version == 0 || m.Parent >= m.Version {
		return vigil.Errorf(vigil.EINVALID, "phm manifest: version %d after parent %d", m.Version, m.Parent)
	}
	if m.Slots == 0 || m.N > m.Slots {
		return vigil.Errorf(vigil.EINVALID, "phm manifest: %d keys in %d slots", m.N, m.Slots)
	}
	if len(m.Sources) > MaxManifestSources {
		return vigil.Errorf(vigil.ETOOLARGE, "phm manifest: more than %d sources", MaxManifestSources)
	}
	for i, s := range m.Sources {
		if !ValidSourceName(s.Source) {
			return vigil.Errorf(vigil.EINVALID, "phm manifest: bad source name %q", s.Source)
		}
		if i > 0 && m.Sources[i-1].Source >= s.Source {
			return vigil.Errorf(vigil.EINVALID, "phm manifest: sources not sorted and distinct")
		}
	}
	return nil
}

// ParseManifest parses MarshalText's form, strictly: every line in order,
// lowercase hex of the right length, decimal without leading zeros, sorted
// distinct sources. Whatever it accepts marshals back to the same bytes.
func ParseManifest(text []byte) (*Manifest, error) {
	if len(text) > MaxManifestBytes {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "phm manifest over %d bytes", MaxManifestBytes)
	}
	s, ok := strings.CutSuffix(string(text), "\n")
	if !ok {
		return nil, vigil.Errorf(vigil.EINVALID, "phm manifest: no final newline")
	}
	lines := strings.Split(s, "\n")
	if len(lines) < 10 || lines[0] != manifestHeader {
		return nil, vigil.Errorf(vigil.EINVALID, "phm manifest: not a %s text", manifestHeader)
	}
	bad := func(i int) error { return vigil.Errorf(vigil.EINVALID, "phm manifest: malformed line %d", i+1) }
	var m Manifest
	for i, f := range []*uint64{&m.Version, &m.Parent, &m.N, &m.Slots} {
		v, ok := field(lines[1+i], []string{"version", "parent", "n", "slots"}[i])
		if !ok {
			return nil, bad(1 + i)
		}
		if *f, ok = parseUint(v); !ok {
			return nil, bad(1 + i)
		}
	}
	for w := range m.Seeds {
		if !hexField(lines[5+w], "seed", m.Seeds[w][:]) {
			return nil, bad(5 + w)
		}
	}
	if !hexField(lines[8], "public", m.Public[:]) {
		return nil, bad(8)
	}
	if !hexField(lines[9], "root", m.Root[:]) {
		return nil, bad(9)
	}
	for i := 10; i < len(lines); i++ {
		v, ok := field(lines[i], "source")
		name, count, ok2 := strings.Cut(v, " ")
		n, ok3 := parseUint(count)
		if !ok || !ok2 || !ok3 {
			return nil, bad(i)
		}
		if len(m.Sources) == MaxManifestSources {
			return nil, vigil.Errorf(vigil.ETOOLARGE, "phm manifest: more than %d sources", MaxManifestSources)
		}
		m.Sources = append(m.Sources, SourceCount{Source: name, Entries: n})
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func field(line, key string) (string, bool) {
	return strings.CutPrefix(line, key+" ")
}

func hexField(line, key string, dst []byte) bool {
	v, ok := field(line, key)
	if !ok || len(v) != 2*len(dst) || strings.ToLower(v) != v {
		return false
	}
	_, err := hex.Decode(dst, []byte(v))
	return err == nil
}

// parseUint parses a canonical decimal: digits only, no leading zero.
func parseUint(s string) (uint64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// Check reports whether t is the table m describes: same m, seeds, public
// point and Merkle root (the caller checks version and N, which the Table
// interface does not expose).
func (m *Manifest) Check(t Table) error {
	if t.Slots() != m.Slots || t.Seeds() != m.Seeds {
		return vigil.Errorf(vigil.EINVALID, "phm table: slots or seeds differ from the manifest's")
	}
	p, err := t.Public().MarshalBinaryCompress()
	if err != nil || !slices.Equal(p, m.Public[:]) {
		return vigil.Errorf(vigil.EINVALID, "phm table: public point differs from the manifest's")
	}
	if t.Root() != m.Root {
		return vigil.Errorf(vigil.EINVALID, "phm table: root %x is not the manifest's %x", t.Root(), m.Root)
	}
	return nil
}
