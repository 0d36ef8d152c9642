package eval

import (
	"bytes"
	"testing"
)

func TestRichPictureDeterministic(t *testing.T) {
	for i := range 5 {
		a, b := RichPicture(9, i), RichPicture(9, i)
		if !bytes.Equal(a.Data, b.Data) {
			t.Fatalf("picture %d differs between two calls", i)
		}
		if c := RichPicture(10, i); bytes.Equal(a.Data, c.Data) {
			t.Fatalf("picture %d is the same under seeds 9 and 10", i)
		}
	}
	if bytes.Equal(RichPicture(9, 0).Data, RichPicture(9, 1).Data) {
		t.Fatal("pictures 0 and 1 are the same")
	}
}

// TestRichPicturesDistinct: of a sample of generated pictures, most are
// of PDQ quality ≥ 50 and alone in their content group (no other within
// PDQ's 31 in any orientation), so they are independent PDQ queries.
// The bound is below what was measured on 2,000 (see the log line).
func TestRichPicturesDistinct(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 400
	}
	imgs, err := RichKeys(n, 3)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := ContentGroups(imgs)
	if err != nil {
		t.Fatal(err)
	}
	withPDQ, alone := 0, 0
	for _, g := range groups {
		for _, img := range g {
			if len(img.PDQ) > 0 {
				withPDQ++
				if len(g) == 1 {
					alone++
				}
			}
		}
	}
	t.Logf("%d generated: %d decode, %d of quality ≥ 50, %d of those alone in their content (%d groups)", n, len(imgs), withPDQ, alone, len(groups))
	if len(imgs) != n {
		t.Fatalf("%d of %d decode", len(imgs), n)
	}
	if alone*100 < 90*n {
		t.Fatalf("only %d of %d generated pictures are distinct contents of quality ≥ 50", alone, n)
	}
}
