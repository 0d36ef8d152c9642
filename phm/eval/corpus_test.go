package eval

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/pdq"
)

// pairwiseRoots is ContentGroups' rule over every pair, the definition
// the index must reproduce: i joins an earlier j when their SHA-256 is
// the same or one of i's orientations is within the PDQ threshold of
// j's original.
func pairwiseRoots(imgs []CorpusImage) []int {
	u := newUnionFind(len(imgs))
	for i := range imgs {
		for j := range i {
			same := bytes.Equal(imgs[i].Query[0], imgs[j].Query[0])
			if len(imgs[i].PDQ) > 0 && len(imgs[j].PDQ) > 0 {
				for _, a := range imgs[i].PDQ {
					if pdq.Distance(a, imgs[j].PDQ[0]) <= vigil.DefaultPDQThreshold {
						same = true
					}
				}
			}
			if same {
				u.union(i, j)
			}
		}
	}
	return u.roots()
}

// samePartition reports whether two root vectors group the same indices.
func samePartition(a, b []int) bool {
	ab, ba := map[int]int{}, map[int]int{}
	for i := range a {
		if r, ok := ab[a[i]]; ok && r != b[i] {
			return false
		}
		if r, ok := ba[b[i]]; ok && r != a[i] {
			return false
		}
		ab[a[i]], ba[b[i]] = b[i], a[i]
	}
	return true
}

// flatPicture is a single-colour PNG: PDQ quality 0, keyed by digests only.
func flatPicture(i int) Picture {
	m := image.NewRGBA(image.Rect(0, 0, 40+i%7, 40))
	c := color.RGBA{uint8(i), uint8(i * 7), uint8(i * 13), 255}
	for y := range 40 {
		for x := range m.Bounds().Dx() {
			m.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		panic(err)
	}
	return Picture{Name: "flat-" + strconv.Itoa(i), Data: b.Bytes()}
}

// TestContentGroupsIndexEqualsPairwise: the index finds the same groups
// as the pass over every pair, on the PDQ test images (one photograph in
// all orientations and many edits), the simple generator's near
// duplicates, rich generated pictures, exact duplicates and digest-only
// pictures.
func TestContentGroupsIndexEqualsPairwise(t *testing.T) {
	pics, err := ReadPictures(filepath.Join("..", "..", "pdq", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	nGen, nRich := 1000, 1000
	if testing.Short() {
		nGen, nRich = 80, 80
	}
	pics = append(pics, GeneratePictures(nGen, 11)...)
	for i := range 50 {
		pics = append(pics, flatPicture(i))
	}
	for i := range nRich {
		pics = append(pics, RichPicture(5, i))
	}
	// Exact duplicates, of pictures with and without PDQ.
	for i := 0; i < len(pics); i += 37 {
		pics = append(pics, Picture{Name: pics[i].Name + "-copy", Data: pics[i].Data})
	}
	imgs := KeysOfAll(pics)
	sha, multi := 0, 0
	for _, img := range imgs {
		if len(img.PDQ) == 0 {
			sha++
		}
	}
	want := pairwiseRoots(imgs)
	got, err := contentRoots(imgs)
	if err != nil {
		t.Fatal(err)
	}
	if !samePartition(got, want) {
		t.Fatal("the index's content groups differ from the pairwise ones")
	}
	groups, err := ContentGroups(imgs)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range groups {
		n += len(g)
		if len(g) > 1 {
			multi++
		}
	}
	if n != len(imgs) {
		t.Fatalf("groups hold %d of %d images", n, len(imgs))
	}
	t.Logf("%d images (%d digest-only), %d groups, %d of more than one image", len(imgs), sha, len(groups), multi)
	// The test must be able to fail: the corpus has real groups of both
	// kinds.
	if sha < 50 || multi < 10 || len(groups) >= len(imgs) {
		t.Fatalf("corpus too easy: %d digest-only, %d multi-image groups", sha, multi)
	}
}

// BenchmarkContentGroups: the index against the pass over every pair
// (the baseline, the code before), on the same generated pictures.
func BenchmarkContentGroups(b *testing.B) {
	n := 4000
	imgs, err := RichKeys(n, 21)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("pairwise", func(b *testing.B) {
		for range b.N {
			pairwiseRoots(imgs)
		}
	})
	b.Run("index", func(b *testing.B) {
		for range b.N {
			if _, err := contentRoots(imgs); err != nil {
				b.Fatal(err)
			}
		}
	})
}
