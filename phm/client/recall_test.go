package client

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/image/draw"

	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
)

// TestProbeRecall measures, on the benign PDQ test images, how many edited
// copies the private channel still finds next to plaintext PDQ ≤ 31: a
// pair counts for "exact" if the edit's 8 dihedral PDQ keys hold the
// original's PDQ, for "probes" if any of its keys does. It reports
// numbers (the design's appendix B, redone on this code); the only
// assertion is that probes never lose a pair exact finds.
func TestProbeRecall(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes about 150 edited images")
	}
	dir := "../../pdq/testdata/"
	var bases []string
	for _, g := range []string{"reg-test-input/labelme-subset/*.jpg", "reg-test-input/pen-and-coaster.png", "reg-test-input/dih/bridge-1-original.jpg", "misc-images/*", "pytx-resources/*"} {
		m, _ := filepath.Glob(dir + g)
		bases = append(bases, m...)
	}
	type edit struct {
		name string
		fn   func(image.Image) []byte
	}
	edits := []edit{
		{"jpeg90", func(m image.Image) []byte { return jpegOf(m, 90) }},
		{"jpeg70", func(m image.Image) []byte { return jpegOf(m, 70) }},
		{"jpeg50", func(m image.Image) []byte { return jpegOf(m, 50) }},
		{"jpeg30", func(m image.Image) []byte { return jpegOf(m, 30) }},
		{"brightness+15", func(m image.Image) []byte { return pngOf(mapPixels(m, func(v float64) float64 { return v + 15 })) }},
		{"contrast×1.2", func(m image.Image) []byte {
			return pngOf(mapPixels(m, func(v float64) float64 { return 128 + 1.2*(v-128) }))
		}},
		{"gamma0.8", func(m image.Image) []byte {
			return pngOf(mapPixels(m, func(v float64) float64 { return 255 * math.Pow(v/255, 0.8) }))
		}},
		{"noise σ5", func(m image.Image) []byte {
			r := mrand.New(mrand.NewPCG(1, 1))
			return pngOf(mapPixels(m, func(v float64) float64 { return v + 5*r.NormFloat64() }))
		}},
		{"scale½", func(m image.Image) []byte {
			b := m.Bounds()
			d := image.NewRGBA(image.Rect(0, 0, max(b.Dx()/2, 1), max(b.Dy()/2, 1)))
			draw.ApproxBiLinear.Scale(d, d.Bounds(), m, b, draw.Src, nil)
			return pngOf(d)
		}},
		{"mirror", func(m image.Image) []byte {
			b := m.Bounds()
			d := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
			for y := range b.Dy() {
				for x := range b.Dx() {
					d.Set(b.Dx()-1-x, y, m.At(b.Min.X+x, b.Min.Y+y))
				}
			}
			return pngOf(d)
		}},
	}
	type row struct{ n, plain, exact, probes int }
	rows := map[string]*row{}
	h := pdq.NewHasher(pdq.Full)
	count := func(name string, orig pdq.Hash, edited []byte) {
		r := rows[name]
		if r == nil {
			r = &row{}
			rows[name] = r
		}
		img, _, release, err := hashing.DecodeImage(t.Context(), edited, hashing.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		d, _ := h.HashDetail(img)
		release()
		c, err := Prepare(edited, hashing.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := phm.NewKey(phm.FamilyPDQ, orig[:])
		r.n++
		dist := 256
		for _, v := range d.Dihedral {
			dist = min(dist, pdq.Distance(v, orig))
		}
		if dist <= pdq.MatchThreshold {
			r.plain++
		}
		has := func(keys []phm.Key) bool {
			return slices.ContainsFunc(keys, func(k phm.Key) bool { return bytes.Equal(k, want) })
		}
		// Keys are SHA-256, MD5, then the dihedral PDQ (deduplicated), then probes.
		var dihedral []phm.Key
		for _, v := range d.Dihedral {
			dihedral = append(dihedral, pdqKey(v))
		}
		exact := d.Quality >= pdq.MinQuality && has(dihedral)
		if exact {
			r.exact++
		}
		if has(c.keys) {
			r.probes++
		} else if exact {
			t.Errorf("%s: exact finds a pair the probes lose", name)
		}
	}
	used := 0
	for _, path := range bases {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		img, _, release, err := hashing.DecodeImage(t.Context(), data, hashing.Limits{})
		if err != nil {
			continue
		}
		orig, q := h.Hash(img)
		if q < pdq.MinQuality || img.Bounds().Dx() < 64 || img.Bounds().Dy() < 64 {
			release()
			continue
		}
		used++
		for _, e := range edits {
			count(e.name, orig, e.fn(img))
		}
		release()
	}
	// Meta's bridge edits against the original.
	orig := func() pdq.Hash {
		data, _ := os.ReadFile(dir + "bridge-mods/aaa-orig.jpg")
		img, _, release, _ := hashing.DecodeImage(t.Context(), data, hashing.Limits{})
		defer release()
		hh, _ := h.Hash(img)
		return hh
	}()
	mods, _ := filepath.Glob(dir + "bridge-mods/*.jpg")
	for _, m := range mods {
		if strings.HasSuffix(m, "aaa-orig.jpg") {
			continue
		}
		data, _ := os.ReadFile(m)
		count("bridge edits", orig, data)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d base images (quality ≥ 50)\n| edit | n | ≤ 31 | exact | exact + probes |\n|---|---|---|---|---|\n", used)
	var total row
	var names []string
	for _, e := range edits {
		names = append(names, e.name)
	}
	names = append(names, "bridge edits")
	for _, name := range names {
		r := rows[name]
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d |\n", name, r.n, r.plain, r.exact, r.probes)
		total.n, total.plain, total.exact, total.probes = total.n+r.n, total.plain+r.plain, total.exact+r.exact, total.probes+r.probes
	}
	fmt.Fprintf(&b, "| **total** | %d | %d | %d | %d |\n", total.n, total.plain, total.exact, total.probes)
	t.Log("\n" + b.String())
}

func jpegOf(m image.Image, q int) []byte {
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, m, &jpeg.Options{Quality: q})
	return buf.Bytes()
}

func pngOf(m image.Image) []byte {
	var buf bytes.Buffer
	_ = png.Encode(&buf, m)
	return buf.Bytes()
}

// mapPixels applies f to each RGB channel (clamped to 0..255).
func mapPixels(m image.Image, f func(float64) float64) *image.RGBA {
	b := m.Bounds()
	d := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	cl := func(v float64) uint8 { return uint8(max(0, min(255, math.Round(v)))) }
	for y := range b.Dy() {
		for x := range b.Dx() {
			r, g, bl, _ := m.At(b.Min.X+x, b.Min.Y+y).RGBA()
			d.Set(x, y, color.RGBA{cl(f(float64(r >> 8))), cl(f(float64(g >> 8))), cl(f(float64(bl >> 8))), 255})
		}
	}
	return d
}
