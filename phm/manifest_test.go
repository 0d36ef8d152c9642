package phm

import (
	"bytes"
	"strings"
	"testing"
)

func testManifest() *Manifest {
	m := &Manifest{Version: 3, Parent: 2, N: 100, Slots: 125,
		Sources: []SourceCount{{"iwf", 60}, {"ncmec", 70}}}
	for w := range m.Seeds {
		m.Seeds[w][0] = byte(w + 1)
	}
	m.Public[1], m.Root[31] = 9, 8
	return m
}

func TestManifestRoundTrip(t *testing.T) {
	m := testManifest()
	text, err := m.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseManifest(text)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := got.MarshalText()
	if !bytes.Equal(text, again) {
		t.Fatalf("round trip differs:\n%s\n%s", text, again)
	}
}

func TestParseManifestRefuses(t *testing.T) {
	text, _ := testManifest().MarshalText()
	s := string(text)
	for name, bad := range map[string]string{
		"no newline":     strings.TrimSuffix(s, "\n"),
		"header":         strings.Replace(s, manifestHeader, "vigil-phm-manifest/v2", 1),
		"leading zero":   strings.Replace(s, "n 100\n", "n 0100\n", 1),
		"upper hex":      strings.Replace(s, "root 00", "root 0A", 1),
		"short seed":     strings.Replace(s, "seed 01", "seed 1", 1),
		"unsorted":       strings.Replace(s, "source iwf 60", "source zz 60", 1),
		"parent":         strings.Replace(s, "parent 2", "parent 3", 1),
		"n over m":       strings.Replace(s, "n 100", "n 200", 1),
		"extra field":    s + "extra 1\n",
		"space in name":  strings.Replace(s, "source iwf 60", "source i f 60", 1),
		"negative count": strings.Replace(s, "iwf 60", "iwf -60", 1),
		"crlf":           strings.ReplaceAll(s, "\n", "\r\n"),
	} {
		if _, err := ParseManifest([]byte(bad)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// FuzzParseManifest: never panics; whatever parses marshals back to the
// same bytes (one canonical text per manifest, so one log record).
func FuzzParseManifest(f *testing.F) {
	text, _ := testManifest().MarshalText()
	f.Add(text)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		out, err := m.MarshalText()
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("accepted manifest does not round-trip: %v", err)
		}
	})
}
