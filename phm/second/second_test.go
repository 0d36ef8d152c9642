package second_test

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/eval"
	"github.com/vigil-oss/vigil/phm/second"
)

func testKey(t testing.TB, b byte) *second.Key {
	t.Helper()
	k, err := second.NewKey(bytes.Repeat([]byte{b}, second.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// pictures are the distinct photographs of pdq/testdata that
// have a usable PDQ, fitted as the eval fits them (fixed files: the test
// is deterministic).
func pictures(t testing.TB) []image.Image {
	t.Helper()
	paths, _ := filepath.Glob("../../pdq/testdata/reg-test-input/labelme-subset/*.jpg")
	more, _ := filepath.Glob("../../pdq/testdata/pytx-resources/*.jpg")
	paths = append(paths, more...)
	h := pdq.NewHasher(pdq.Full)
	var out []image.Image
	var seen []pdq.Hash
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		img, _, err := image.Decode(f)
		f.Close()
		if err != nil {
			continue
		}
		img = eval.Fit(img)
		hh, q := h.Hash(img)
		if q < pdq.MinQuality || img.Bounds().Dx() < 64 || img.Bounds().Dy() < 64 {
			continue
		}
		dup := false
		for _, s := range seen {
			dup = dup || pdq.Distance(s, hh) <= 2*pdq.MatchThreshold
		}
		if dup {
			continue
		}
		seen = append(seen, hh)
		out = append(out, img)
	}
	if len(out) < 4 {
		t.Fatalf("only %d usable pictures in pdq/testdata", len(out))
	}
	return out
}

func decode(t testing.TB, b []byte) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func jpegOf(t testing.TB, m image.Image, q int) image.Image {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return decode(t, buf.Bytes())
}

// TestTrueMatchesKept: a picture's device derivative, after JPEG 30 and 90,
// is within Threshold of the bank's keyed hash of the
// picture itself; distinct pictures are not.
func TestTrueMatchesKept(t *testing.T) {
	k := testKey(t, 1)
	h := second.NewHasher()
	pics := pictures(t)
	listed := make([]second.Hash, len(pics))
	dih := make([][8]second.Hash, len(pics))
	for i, p := range pics {
		var ok bool
		if listed[i], ok = h.Hash(k, p); !ok {
			t.Fatal("no keyed hash")
		}
		dih[i], _ = h.Dihedral(k, p)
		if dih[i][0] != listed[i] {
			t.Fatalf("picture %d: Dihedral's first is not Hash", i)
		}
	}
	for i, p := range pics {
		for _, q := range []int{30, 90} {
			der, err := client.Derivative(jpegOf(t, p, q))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := h.Dihedral(k, decode(t, der))
			if d := second.Nearest(got, listed[i]); d > second.Threshold {
				t.Errorf("picture %d, JPEG %d: derivative %d bits from its keyed hash, over %d", i, q, d, second.Threshold)
			}
		}
		b := p.Bounds()
		m := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
		for y := range b.Dy() {
			for x := range b.Dx() {
				m.Set(b.Dx()-1-x, y, color.GrayModel.Convert(p.At(b.Min.X+x, b.Min.Y+y)))
			}
		}
		// A mirror is hashed from its own samples (Dihedral), so it is
		// within Threshold of its picture and nearer it than any other.
		got, _ := h.Dihedral(k, m)
		own := second.Nearest(got, listed[i])
		t.Logf("picture %d mirrored: %d bits", i, own)
		if own > second.Threshold {
			t.Errorf("picture %d mirrored: %d bits from its keyed hash, over %d", i, own, second.Threshold)
		}
		for j := range pics {
			if d := second.Nearest(got, listed[j]); j != i && d <= own {
				t.Errorf("picture %d mirrored is %d from picture %d's hash, %d from its own", i, d, j, own)
			}
		}
		for j := range pics {
			if j != i {
				if d := second.Nearest(dih[j], listed[i]); d <= second.Threshold {
					t.Errorf("pictures %d and %d are distinct but %d bits apart", i, j, d)
				}
			}
		}
	}
}

// TestCollisionDoesNotMoveIt: a white-box PDQ collision (deterministic)
// moves the picture's PDQ onto another picture's, but its keyed hash stays
// with the picture it was made from: the attack changes only PDQ's block,
// which the keyed hash does not read.
func TestCollisionDoesNotMoveIt(t *testing.T) {
	k := testKey(t, 2)
	h := second.NewHasher()
	ph := pdq.NewHasher(pdq.Full)
	pics := pictures(t)
	tried := 0
	for i := 0; i+1 < len(pics) && tried < 3; i++ {
		src, dst := eval.LumaOf(pics[i]), pics[i+1]
		target, _ := ph.Hash(dst)
		r := eval.Collide(src, target, 1, eval.Budget{Queries: 400})
		if !r.Reached {
			continue
		}
		tried++
		before, _ := h.Hash(k, src.Gray())
		after, _ := h.Hash(k, r.Picture.Gray())
		want, _ := h.Hash(k, dst)
		moved, toTarget := second.Distance(before, after), second.Distance(after, want)
		t.Logf("picture %d → %d: PSNR %.1f dB, keyed hash moved %d bits, %d from the target's", i, i+1, r.PSNR, moved, toTarget)
		if moved > second.Threshold/2 {
			t.Errorf("picture %d: the collision moved the keyed hash %d bits", i, moved)
		}
		if toTarget <= second.Threshold {
			t.Errorf("picture %d: the collision's keyed hash is %d from the target's, within %d", i, toTarget, second.Threshold)
		}
	}
	if tried == 0 {
		t.Fatal("no collision reached")
	}
}

// TestKeysDiffer: the same picture hashes differently under two keys (a
// hash made under one key says nothing under another), and each key has
// its own id.
func TestKeysDiffer(t *testing.T) {
	a, b := testKey(t, 3), testKey(t, 4)
	if a.ID() == b.ID() {
		t.Fatal("two keys share an id")
	}
	h := second.NewHasher()
	for i, p := range pictures(t) {
		x, _ := h.Hash(a, p)
		y, _ := h.Hash(b, p)
		if d := second.Distance(x, y); d <= second.Threshold {
			t.Errorf("picture %d: the two keys' hashes are %d apart", i, d)
		}
	}
}

func TestBalancedAndTiny(t *testing.T) {
	k := testKey(t, 5)
	h := second.NewHasher()
	for i, p := range pictures(t) {
		x, _ := h.Hash(k, p)
		ones := second.Distance(x, second.Hash{})
		if ones != second.Bits/2-1 && ones != second.Bits/2 {
			t.Errorf("picture %d: %d ones, want about %d", i, ones, second.Bits/2)
		}
	}
	if _, ok := h.Hash(k, image.NewGray(image.Rect(0, 0, 3, 3))); ok {
		t.Error("a 3×3 picture has a keyed hash")
	}
}

func TestParseKey(t *testing.T) {
	secret := bytes.Repeat([]byte{9}, second.KeySize)
	k, err := second.ParseKey([]byte(second.FormatKey(secret)))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := second.NewKey(secret)
	if k.ID() != want.ID() {
		t.Error("parsed key differs")
	}
	for _, bad := range []string{
		"", "vigil-phm-second-key-v1 ", "vigil-phm-second-key-v1 " + strings.Repeat("0", 63),
		"vigil-phm-second-key-v1 " + strings.Repeat("g", 64), strings.Repeat("0", 64),
		"vigil-phm-second-key-v1 " + strings.Repeat("0", 64) + "\n" + strings.Repeat("x", second.MaxKeyFile),
	} {
		if _, err := second.ParseKey([]byte(bad)); err == nil {
			t.Errorf("ParseKey(%.40q) accepted", bad)
		}
	}
	h, err := second.ParseHash(strings.Repeat("ab", second.Size))
	if err != nil || h.String() != strings.Repeat("ab", second.Size) {
		t.Errorf("ParseHash: %v %v", h, err)
	}
	if _, err := second.ParseHash("abc"); err == nil {
		t.Error("ParseHash accepted a short hash")
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add([]byte(second.FormatKey(bytes.Repeat([]byte{1}, second.KeySize))))
	f.Add([]byte("vigil-phm-second-key-v1 zz"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := second.ParseKey(b)
		if err != nil {
			return
		}
		if len(b) > second.MaxKeyFile {
			t.Fatal("accepted a key file over the bound")
		}
		if k.ID() == "" {
			t.Fatal("key without id")
		}
	})
}

func BenchmarkHash(b *testing.B) {
	k := testKey(b, 6)
	der, err := client.Derivative(pictures(b)[0])
	if err != nil {
		b.Fatal(err)
	}
	img := decode(b, der)
	h := second.NewHasher()
	b.Run("hash", func(b *testing.B) {
		for b.Loop() {
			h.Hash(k, img)
		}
	})
	b.Run("dihedral", func(b *testing.B) {
		for b.Loop() {
			h.Dihedral(k, img)
		}
	})
	ph := pdq.NewHasher(pdq.Full)
	b.Run("pdq-dihedral-baseline", func(b *testing.B) {
		for b.Loop() {
			ph.HashDihedral(img)
		}
	})
}
