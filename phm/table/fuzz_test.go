package table

import (
	"bytes"
	"testing"

	"github.com/vigil-oss/vigil/phm"
)

// FuzzLoad: Load never panics, and what it accepts serialises back to the
// bytes it read.
func FuzzLoad(f *testing.F) {
	tbl := mustBuild(f, testKeys(f, 8, "fuzz"), [32]byte{8}, Options{Version: 1})
	var b bytes.Buffer
	tbl.WriteTo(&b)
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:headerSize])
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Load(bytes.NewReader(data), 64)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if _, err := got.WriteTo(&out); err != nil || !bytes.Equal(out.Bytes(), data) {
			t.Fatal("accepted table does not round-trip")
		}
	})
}

// FuzzParseDiff: ParseDiff never panics, what it accepts round-trips, and
// applying it to a table either fails or yields the diff's root.
func FuzzParseDiff(f *testing.F) {
	m := phm.SlotsFor(12)
	v1 := mustBuild(f, testKeys(f, 10, "fuzz-diff"), [32]byte{9}, Options{Version: 1, Slots: m})
	v2 := mustBuild(f, testKeys(f, 9, "fuzz-diff"), [32]byte{9}, Options{Version: 2, Slots: m})
	d, err := MakeDiff(v1, v2)
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := d.MarshalBinary()
	f.Add(raw)
	f.Add(raw[:diffHeaderSize])
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDiff(data, 64)
		if err != nil {
			return
		}
		out, _ := d.MarshalBinary()
		if !bytes.Equal(out, data) {
			t.Fatal("accepted diff does not round-trip")
		}
		if got, err := Apply(v1, d); err == nil && got.Root() != d.ToRoot {
			t.Fatal("applied diff has another root")
		}
	})
}
