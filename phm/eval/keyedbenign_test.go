package eval

import (
	"bytes"
	"image"
	"math"
	"testing"

	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/second"
)

// mirrored is l mirrored left–right.
func mirrored(l *Luma) *Luma {
	m := l.Clone()
	for y := range l.H {
		for x := range l.W {
			m.Pix[y*l.W+x] = l.Pix[y*l.W+l.W-1-x]
		}
	}
	return m
}

// TestKeyedBenignMirrorIsNotUnrelated: a picture and its mirror are one
// content, not an unrelated pair whose keyed hashes happen to agree (the
// pair was counted unrelated when contents were told apart by the PDQ of
// the original orientation only, while the keyed hash matches the nearest
// orientation).
func TestKeyedBenignMirrorIsNotUnrelated(t *testing.T) {
	// Generated 96×96 pictures: PDQ's points on 96 pixels are their own
	// mirror, so PDQ's orientations see the mirror exactly (at 256 px
	// they are not, and PDQ itself can miss a mirror). The first one whose
	// mirror is far in the original orientation, and another content.
	h := pdq.NewHasher(pdq.Full)
	var pics []*Luma
	for _, p := range GeneratePictures(30, 5) {
		img, _, err := image.Decode(bytes.NewReader(p.Data))
		if err != nil {
			t.Fatal(err)
		}
		l := LumaOf(img)
		dl, _ := h.HashDihedral(l.Gray())
		dm, _ := h.HashDihedral(mirrored(l).Gray())
		switch {
		case len(pics) == 0 && l.W == 96 && pdq.Distance(dl[0], dm[0]) > 2*pdq.MatchThreshold && phm.NearestDistance(dm, dl[0]) <= pdq.MatchThreshold:
			pics = append(pics, l, mirrored(l))
		case len(pics) == 2:
			d0, _ := h.HashDihedral(pics[0].Gray())
			if phm.NearestDistance(dl, d0[0]) > 2*pdq.MatchThreshold {
				pics = append(pics, l)
			}
		}
	}
	if len(pics) != 3 {
		t.Fatal("no generated picture whose mirror only PDQ's orientations match")
	}
	key, err := second.NewKey(bytes.Repeat([]byte{7}, second.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := KeyedBenign(pics, key, client.Derivative)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Unrelated != 2 {
		t.Errorf("%d unrelated pairs among a picture, its mirror and another picture, want 2", rep.Unrelated)
	}
}

// TestPSNRNearest: a rotated copy is as close as can be to its picture in
// the nearest orientation (so a collision that is the target mirrored
// counts as a copy of it), and a different picture is not.
func TestPSNRNearest(t *testing.T) {
	pics := attackPictures(t, 3)
	a := pics[2]
	for d := range 8 {
		if p := PSNRNearest(a, a.Oriented(d)); !math.IsInf(p, 1) {
			t.Errorf("orientation %d: PSNR %.1f dB against its own picture, want +Inf", d, p)
		}
		if d&4 == 0 {
			if back := a.Oriented(d).Oriented(d); PSNR(a, back) != math.Inf(1) {
				t.Errorf("orientation %d twice is not the picture", d)
			}
		}
	}
	if p := PSNRNearest(pics[0], a); p > 30 {
		t.Errorf("two pictures %.1f dB apart", p)
	}
}
