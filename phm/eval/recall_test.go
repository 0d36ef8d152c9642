package eval

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"testing"

	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/pdq"
)

// recallTestBases are rich generated pictures of PDQ quality ≥ 50, one per
// content.
func recallTestBases(t *testing.T, n int) []RecallBase {
	t.Helper()
	var pics []Picture
	for i := range 4 * n {
		pics = append(pics, RichPicture(21, i))
	}
	bases := SelectRecallBases(pics, nil, n, 1)
	if len(bases) != n {
		t.Fatalf("%d bases of %d asked", len(bases), n)
	}
	return bases
}

// TestRecallKnownAnswers: an identity "edit" is found by all three
// matchers and opens exactly its own base; a picture replaced by an
// unrelated one is found by none and opens nothing; a picture replaced by
// another base opens that base (an open of another base) and is not
// counted as found. The counts add up per row and in the total.
func TestRecallKnownAnswers(t *testing.T) {
	bases := recallTestBases(t, 6)
	unrelated := RichPicture(99, 7).Data
	edits := []Edit{
		{"identity", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodePNG(m) }},
		{"unrelated", func(*image.RGBA, uint64) ([]byte, error) { return unrelated, nil }},
	}
	extra := []ExtraPair{{Edit: "swapped", Base: 0, Data: bases[1].Data}, {Edit: "swapped", Base: 2, Data: bases[3].Data}}
	rep, err := Recall(t.Context(), bases, edits, extra)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Bases != 6 || rep.Listed != 6 || len(rep.Edits) != 3 {
		t.Fatalf("bases %d, listed %d, rows %d; want 6, 6, 3", rep.Bases, rep.Listed, len(rep.Edits))
	}
	id, un, sw := rep.Edits[0], rep.Edits[1], rep.Edits[2]
	if id.Edit != "identity" || id.Pairs != 6 || id.Plain != 6 || id.PlainOriginal != 6 || id.Exact != 6 || id.Probes != 6 || id.MultiOpen != 0 || id.Other != 0 || id.Ratio != 1 {
		t.Errorf("identity: %+v", id)
	}
	if un.Pairs != 6 || un.Plain != 0 || un.Exact != 0 || un.Probes != 0 || un.Other != 0 || un.MultiOpen != 0 || un.Ratio != 0 {
		t.Errorf("unrelated: %+v", un)
	}
	if sw.Edit != "swapped" || sw.Pairs != 2 || sw.Plain != 0 || sw.Exact != 0 || sw.Probes != 0 || sw.Other != 2 {
		t.Errorf("swapped: %+v", sw)
	}
	tot := rep.Total
	if tot.Pairs != 14 || tot.Plain != 6 || tot.Exact != 6 || tot.Probes != 6 || tot.Other != 2 {
		t.Errorf("total: %+v", tot)
	}
	if lo, hi := Wilson(6, 14); tot.ExactLow != lo || tot.ExactHigh != hi {
		t.Errorf("total exact interval [%g, %g], want [%g, %g]", tot.ExactLow, tot.ExactHigh, lo, hi)
	}
	if id.ProbeLow <= 0.5 || id.ProbeHigh != 1 || un.ProbeLow != 0 || un.ProbeHigh >= 0.5 {
		t.Errorf("intervals: identity [%g, %g], unrelated [%g, %g]", id.ProbeLow, id.ProbeHigh, un.ProbeLow, un.ProbeHigh)
	}
}

// TestRecallSuite runs the whole edit suite on a few generated pictures:
// probes ⊇ exact on every pair (the client's keys hold its dihedral
// hashes), plaintext ⊇ exact, every edit changes the picture's file and
// is deterministic, and the per-source rows add up to the total.
func TestRecallSuite(t *testing.T) {
	bases := recallTestBases(t, 6)
	for i := range bases {
		bases[i].Source = []string{"a", "b"}[i%2]
	}
	rep, err := Recall(t.Context(), bases, RecallEdits(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Edits) != len(RecallEdits()) || rep.Total.Pairs != 6*len(RecallEdits()) {
		t.Fatalf("%d rows, %d pairs", len(rep.Edits), rep.Total.Pairs)
	}
	for _, r := range rep.Edits {
		if r.ExactNotProbes != 0 || r.Probes < r.Exact {
			t.Errorf("%s: exact finds %d pairs the client's keys lose (exact %d, probes %d)", r.Edit, r.ExactNotProbes, r.Exact, r.Probes)
		}
		if r.Plain < r.Exact {
			t.Errorf("%s: plaintext ≤ 31 finds %d, fewer than exact %d", r.Edit, r.Plain, r.Exact)
		}
		if r.Failed != 0 {
			t.Errorf("%s: %d edited files do not hash", r.Edit, r.Failed)
		}
	}
	if len(rep.Sources) != 2 {
		t.Fatalf("%d sources, want 2", len(rep.Sources))
	}
	var sum RecallRow
	for _, s := range rep.Sources {
		if s.Bases != 3 {
			t.Errorf("source %s: %d bases", s.Source, s.Bases)
		}
		sum.add(s.Total)
	}
	if sum.Pairs != rep.Total.Pairs || sum.Plain != rep.Total.Plain || sum.Exact != rep.Total.Exact || sum.Probes != rep.Total.Probes {
		t.Errorf("sources add to %+v, total %+v", sum, rep.Total)
	}
	h := hashing.NewHasher(hashing.Options{Dihedral: true})
	p, err := prepareBase(h, bases[0].Data, MaxRecallSide)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := encodePNG(p.img)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range RecallEdits() {
		a, err := e.Apply(p.img, 5)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := e.Apply(p.img, 5)
		if !bytes.Equal(a, b) {
			t.Errorf("%s is not deterministic", e.Name)
		}
		if bytes.Equal(a, orig) {
			t.Errorf("%s leaves the picture as it is", e.Name)
		}
	}
}

// TestSelectRecallBases: bases are of quality ≥ 50 and one per content:
// a picture and its mirror (the same content in another orientation) are
// never both bases, and the draw is the same for a seed.
func TestSelectRecallBases(t *testing.T) {
	var pics []Picture
	for i := range 10 {
		pics = append(pics, RichPicture(23, i))
	}
	h := hashing.NewHasher(hashing.Options{Dihedral: true})
	for i := range 10 {
		p, err := prepareBase(h, pics[i].Data, 0)
		if err != nil {
			continue
		}
		m, err := encodePNG(mirrorRGBA(p.img))
		if err != nil {
			t.Fatal(err)
		}
		pics = append(pics, Picture{Name: pics[i].Name + "-mirror", Data: m})
	}
	a := SelectRecallBases(pics, nil, 100, 4)
	b := SelectRecallBases(pics, nil, 100, 4)
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("%d and %d bases", len(a), len(b))
	}
	var hs [][8]pdq.Hash
	for i := range a {
		if a[i].Name != b[i].Name {
			t.Fatalf("base %d: %s, then %s", i, a[i].Name, b[i].Name)
		}
		p, err := prepareBase(h, a[i].Data, MaxRecallSide)
		if err != nil || p.res.Quality < 50 {
			t.Fatalf("base %s: %v, quality %d", a[i].Name, err, p.res.Quality)
		}
		hs = append(hs, *p.res.Dihedral)
	}
	for i := range hs {
		for j := range i {
			best := 256
			for _, v := range hs[i] {
				best = min(best, pdq.Distance(v, hs[j][pdq.Original]))
			}
			if best <= pdq.MatchThreshold {
				t.Errorf("bases %s and %s are %d apart", a[i].Name, a[j].Name, best)
			}
		}
	}
	if len(a) > 10 {
		t.Errorf("%d bases of 10 contents", len(a))
	}
}

// TestRecallBaseFormats: the edits start from the pixels of the listed
// file, whatever its format: a 16-bit grey picture (PDQ reads the low byte
// of its samples, as the reference does) and a half-transparent one (PDQ
// drops alpha) are found by the identity edit. Without the check,
// pdq/testdata's 16-bit I16.png was 130 bits from its own JPEG 90.
func TestRecallBaseFormats(t *testing.T) {
	src, err := png.Decode(bytes.NewReader(RichPicture(31, 2).Data))
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	g16 := image.NewGray16(b)
	na := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := src.At(x, y).RGBA()
			g16.SetGray16(x, y, color.Gray16{Y: uint16((r*3 + g*5 + bl*2) / 10)})
			na.SetNRGBA(x, y, color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(64 + x%128)})
		}
	}
	var bases []RecallBase
	for _, m := range []image.Image{g16, na} {
		var buf bytes.Buffer
		if err := png.Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
		bases = append(bases, RecallBase{Name: fmt.Sprintf("%T", m), Data: buf.Bytes()})
	}
	identity := []Edit{{"identity", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodePNG(m) }}}
	rep, err := Recall(t.Context(), bases, identity, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Edits[0]; r.Exact != 2 || r.Probes != 2 || r.Plain != 2 {
		t.Fatalf("identity of a 16-bit and a transparent picture: %+v", r)
	}
}

// TestRecallTableCheck: the opens decided by list membership are checked
// through a real blinded table on the first pair of each base, and agree;
// the identity edit's vouchers open (so the check sees opens, not only
// misses).
func TestRecallTableCheck(t *testing.T) {
	bases := recallTestBases(t, 4)
	identity := []Edit{{"identity", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodePNG(m) }}}
	rep, err := Recall(t.Context(), bases, append(identity, RecallEdits()[0]), nil)
	if err != nil {
		t.Fatal(err)
	}
	tc := rep.TableCheck
	if tc.Images != 4 || tc.Opened != 4 || tc.Disagree != 0 || tc.Keys < 4*10 {
		t.Fatalf("table check %+v; want 4 vouchers, 4 opens, no disagreement", tc)
	}
}
