package eval

// The recall of the private channel next to plaintext PDQ ≤ 31 on an edit
// suite (../shared/docs/e2ee.md §6, the "recall" row, and appendix B):
// every base picture is edited by each edit of RecallEdits, and each
// (base, edit) pair is matched three ways — plaintext PDQ ≤ 31 as the
// server-side matcher does, the client's exact dihedral PDQ keys, and all
// the client's keys (exact + reliability probes, phm/client) — and the
// number of listed elements a real voucher of the edited picture opens
// against a list of all the bases is counted (the one-open rule).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"golang.org/x/image/draw"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/table"
)

// MaxRecallSide is the longest side of a recall base: a larger picture is
// scaled down to it (bilinear) before it is listed and edited, as a chat
// app scales what it sends; PDQ reads a 64×64 buffer, and full-size
// wallpapers would only cost time.
const MaxRecallSide = 1024

// MinRecallSide is the shortest side a base may have.
const MinRecallSide = 64

// RecallTableSample is how many vouchers (the first edit of each of the
// first bases) are also opened through a real blinded table of the bases'
// keys, to check the list-membership opens against it.
const RecallTableSample = 200

// Edit is one benign edit of the recall suite: a deterministic function
// of the picture (seed is drawn from the picture's bytes) returning the
// edited picture's file.
type Edit struct {
	Name  string
	Apply func(m *image.RGBA, seed uint64) ([]byte, error)
}

// RecallEdits is the design's edit suite (e2ee.md §6 and appendix B): JPEG
// 90/70/50/30, scale ½, scale ¼ then JPEG 70, brightness +15, contrast
// ×1.2, gamma 0.8, Gaussian noise σ 5, box blur of radius 2, crops of 2, 5
// and 10 % off every side, a logo on 15 % × 15 % of a corner, a 5 % black
// border, rotation by 2° (same canvas, black corners) and a mirror.
// Pixel edits are written as PNG, so only the edit changes the picture.
func RecallEdits() []Edit {
	return []Edit{
		{"jpeg90", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodeJPEG(m, 90) }},
		{"jpeg70", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodeJPEG(m, 70) }},
		{"jpeg50", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodeJPEG(m, 50) }},
		{"jpeg30", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodeJPEG(m, 30) }},
		{"scale½", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodePNG(scaleRGBA(m, 0.5)) }},
		{"scale¼+jpeg70", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodeJPEG(scaleRGBA(m, 0.25), 70) }},
		{"brightness+15", func(m *image.RGBA, _ uint64) ([]byte, error) {
			return encodePNG(mapLevels(m, func(v float64) float64 { return v + 15 }))
		}},
		{"contrast×1.2", func(m *image.RGBA, _ uint64) ([]byte, error) {
			return encodePNG(mapLevels(m, func(v float64) float64 { return 128 + 1.2*(v-128) }))
		}},
		{"gamma0.8", func(m *image.RGBA, _ uint64) ([]byte, error) {
			return encodePNG(mapLevels(m, func(v float64) float64 { return 255 * math.Pow(v/255, 0.8) }))
		}},
		{"noise σ5", func(m *image.RGBA, seed uint64) ([]byte, error) { return encodePNG(addNoise(m, 5, seed)) }},
		{"blur r2", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodePNG(boxBlur(m, 2)) }},
		{"crop2%", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodePNG(cropRGBA(m, 0.02)) }},
		{"crop5%", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodePNG(cropRGBA(m, 0.05)) }},
		{"crop10%", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodePNG(cropRGBA(m, 0.10)) }},
		{"logo15%", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodePNG(addLogo(m, 0.15)) }},
		{"border5%", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodePNG(addBorder(m, 0.05)) }},
		{"rotate2°", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodePNG(rotateRGBA(m, 2)) }},
		{"mirror", func(m *image.RGBA, _ uint64) ([]byte, error) { return encodePNG(mirrorRGBA(m)) }},
	}
}

// BridgeEditName is the row of Meta's bridge edits (pdq/testdata's
// bridge-mods, each an edit of aaa-orig.jpg).
const BridgeEditName = "bridge edits"

func isBridgeOriginal(name string) bool {
	return strings.HasSuffix(filepath.ToSlash(name), "bridge-mods/aaa-orig.jpg")
}

func isBridgeEdit(name string) bool {
	return strings.Contains(filepath.ToSlash(name), "bridge-mods/") && !isBridgeOriginal(name)
}

func encodeJPEG(m image.Image, q int) ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: q}); err != nil {
		return nil, fmt.Errorf("jpeg: %w", err)
	}
	return buf.Bytes(), nil
}

func encodePNG(m image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.NoCompression} // cheap to write and to read: the bytes are hashed, not kept
	if err := enc.Encode(&buf, m); err != nil {
		return nil, fmt.Errorf("png: %w", err)
	}
	return buf.Bytes(), nil
}

// toRGBA copies img into an opaque RGBA at the origin. Like PDQ's reader,
// alpha is dropped (the stored colour is kept, not composited); other
// differences from what PDQ reads (16-bit samples) are caught by
// prepareBase, which then lists the converted picture.
func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	m := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	switch s := img.(type) {
	case *image.YCbCr, *image.Gray:
		draw.Draw(m, m.Bounds(), s, b.Min, draw.Src)
		return m
	case *image.NRGBA:
		for y := range b.Dy() {
			copy(m.Pix[y*m.Stride:][:4*b.Dx()], s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):])
		}
	default:
		for y := range b.Dy() {
			for x := range b.Dx() {
				c := color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
				m.SetRGBA(x, y, color.RGBA{c.R, c.G, c.B, 255})
			}
		}
	}
	for i := 3; i < len(m.Pix); i += 4 {
		m.Pix[i] = 255
	}
	return m
}

func scaleRGBA(m *image.RGBA, f float64) *image.RGBA {
	b := m.Bounds()
	d := image.NewRGBA(image.Rect(0, 0, max(1, int(float64(b.Dx())*f)), max(1, int(float64(b.Dy())*f))))
	draw.ApproxBiLinear.Scale(d, d.Bounds(), m, b, draw.Src, nil)
	return d
}

func clamp8(v float64) uint8 { return uint8(max(0, min(255, math.Round(v)))) }

// mapLevels applies f to each colour channel through a lookup table.
func mapLevels(m *image.RGBA, f func(float64) float64) *image.RGBA {
	var lut [256]uint8
	for i := range lut {
		lut[i] = clamp8(f(float64(i)))
	}
	d := image.NewRGBA(m.Rect)
	for i := 0; i < len(m.Pix); i += 4 {
		d.Pix[i], d.Pix[i+1], d.Pix[i+2], d.Pix[i+3] = lut[m.Pix[i]], lut[m.Pix[i+1]], lut[m.Pix[i+2]], 255
	}
	return d
}

func addNoise(m *image.RGBA, sigma float64, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 0x6e6f697365))
	d := image.NewRGBA(m.Rect)
	for i := 0; i < len(m.Pix); i += 4 {
		for c := range 3 {
			d.Pix[i+c] = clamp8(float64(m.Pix[i+c]) + sigma*r.NormFloat64())
		}
		d.Pix[i+3] = 255
	}
	return d
}

// boxBlur is a separable box blur of radius r (edges clamped).
func boxBlur(m *image.RGBA, r int) *image.RGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	pass := func(src *image.RGBA, dx, dy int) *image.RGBA {
		d := image.NewRGBA(src.Rect)
		for y := range h {
			for x := range w {
				var s [3]int
				for k := -r; k <= r; k++ {
					xx, yy := min(max(x+k*dx, 0), w-1), min(max(y+k*dy, 0), h-1)
					o := yy*src.Stride + xx*4
					s[0], s[1], s[2] = s[0]+int(src.Pix[o]), s[1]+int(src.Pix[o+1]), s[2]+int(src.Pix[o+2])
				}
				o := y*d.Stride + x*4
				n := 2*r + 1
				d.Pix[o], d.Pix[o+1], d.Pix[o+2], d.Pix[o+3] = uint8((s[0]+n/2)/n), uint8((s[1]+n/2)/n), uint8((s[2]+n/2)/n), 255
			}
		}
		return d
	}
	return pass(pass(m, 1, 0), 0, 1)
}

// cropRGBA cuts f of the width and of the height off every side.
func cropRGBA(m *image.RGBA, f float64) *image.RGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	cx, cy := int(math.Round(f*float64(w))), int(math.Round(f*float64(h)))
	r := image.Rect(cx, cy, max(cx+1, w-cx), max(cy+1, h-cy))
	d := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(d, d.Bounds(), m, r.Min, draw.Src)
	return d
}

// addLogo paints a fixed badge (a white square, a dark ring and a bar)
// over f of the width and height at the bottom-right corner.
func addLogo(m *image.RGBA, f float64) *image.RGBA {
	d := image.NewRGBA(m.Rect)
	copy(d.Pix, m.Pix)
	w, h := m.Rect.Dx(), m.Rect.Dy()
	lw, lh := max(1, int(f*float64(w))), max(1, int(f*float64(h)))
	x0, y0 := w-lw, h-lh
	for y := range lh {
		for x := range lw {
			u, v := (float64(x)+0.5)/float64(lw)*2-1, (float64(y)+0.5)/float64(lh)*2-1
			c := color.RGBA{245, 245, 240, 255}
			if r := math.Hypot(u, v); r > 0.5 && r < 0.75 {
				c = color.RGBA{200, 30, 40, 255}
			} else if math.Abs(u-v) < 0.15 && r < 0.5 {
				c = color.RGBA{20, 40, 120, 255}
			}
			d.SetRGBA(x0+x, y0+y, c)
		}
	}
	return d
}

// addBorder puts the picture on a black canvas f wider and higher on
// every side.
func addBorder(m *image.RGBA, f float64) *image.RGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	bx, by := max(1, int(math.Round(f*float64(w)))), max(1, int(math.Round(f*float64(h))))
	d := image.NewRGBA(image.Rect(0, 0, w+2*bx, h+2*by))
	draw.Draw(d, d.Bounds(), image.NewUniform(color.Black), image.Point{}, draw.Src)
	draw.Draw(d, image.Rect(bx, by, bx+w, by+h), m, image.Point{}, draw.Src)
	return d
}

// rotateRGBA turns the picture by deg degrees about its centre on the same
// canvas (bilinear; corners from outside the picture are black).
func rotateRGBA(m *image.RGBA, deg float64) *image.RGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	d := image.NewRGBA(m.Rect)
	s, c := math.Sincos(deg * math.Pi / 180)
	cx, cy := float64(w-1)/2, float64(h-1)/2
	at := func(x, y, ch int) float64 {
		if x < 0 || y < 0 || x >= w || y >= h {
			return 0
		}
		return float64(m.Pix[y*m.Stride+x*4+ch])
	}
	for y := range h {
		for x := range w {
			fx, fy := float64(x)-cx, float64(y)-cy
			sx, sy := c*fx+s*fy+cx, -s*fx+c*fy+cy
			x0, y0 := int(math.Floor(sx)), int(math.Floor(sy))
			ax, ay := sx-float64(x0), sy-float64(y0)
			o := y*d.Stride + x*4
			for ch := range 3 {
				v := (1-ay)*((1-ax)*at(x0, y0, ch)+ax*at(x0+1, y0, ch)) + ay*((1-ax)*at(x0, y0+1, ch)+ax*at(x0+1, y0+1, ch))
				d.Pix[o+ch] = clamp8(v)
			}
			d.Pix[o+3] = 255
		}
	}
	return d
}

func mirrorRGBA(m *image.RGBA) *image.RGBA {
	w, h := m.Rect.Dx(), m.Rect.Dy()
	d := image.NewRGBA(m.Rect)
	for y := range h {
		for x := range w {
			copy(d.Pix[y*d.Stride+(w-1-x)*4:][:4], m.Pix[y*m.Stride+x*4:][:4])
		}
	}
	return d
}

// RecallBase is one base picture of the recall measurement.
type RecallBase struct {
	Name   string
	Source string // the corpus it came from (an --images directory, "generated")
	Data   []byte // the file as read
}

// preparedBase is a base as listed: scaled to MaxRecallSide when larger
// (then re-encoded as PNG, and that file is the one listed; a base with
// extra pairs is not scaled), with its PDQ.
type preparedBase struct {
	img    *image.RGBA
	data   []byte
	res    *hashing.Result
	scaled bool
	// converted: the file's pixels as PDQ reads them are not the RGBA the
	// edits start from (16-bit or transparent pictures), so the RGBA's
	// PNG is listed instead.
	converted bool
}

func prepareBase(h *hashing.Hasher, data []byte, maxSide int) (*preparedBase, error) {
	img, _, release, err := hashing.DecodeImage(context.Background(), data, hashing.Limits{})
	if err != nil {
		return nil, err
	}
	m := toRGBA(img)
	release()
	w, ht := m.Rect.Dx(), m.Rect.Dy()
	if min(w, ht) < MinRecallSide {
		return nil, fmt.Errorf("%d×%d is under %d pixels", w, ht, MinRecallSide)
	}
	p := &preparedBase{img: m, data: data}
	if long := max(w, ht); maxSide > 0 && long > maxSide {
		p.img = scaleRGBA(m, float64(maxSide)/float64(long))
		if p.data, err = encodePNG(p.img); err != nil {
			return nil, err
		}
		p.scaled = true
	}
	if p.res, err = h.HashImageBytes(p.data); err != nil {
		return nil, err
	}
	if !p.scaled {
		conv, err := encodePNG(p.img)
		if err != nil {
			return nil, err
		}
		rc, err := h.HashImageBytes(conv)
		if err != nil {
			return nil, err
		}
		if *rc.Dihedral != *p.res.Dihedral {
			p.data, p.res, p.converted = conv, rc, true
		}
	}
	return p, nil
}

// SelectRecallBases draws up to n bases from pics in an order shuffled
// with seed: pictures that decode, at least MinRecallSide on each side,
// of PDQ quality ≥ 50 (once scaled to MaxRecallSide), one per content (no
// two within PDQ ≤ 31 in any orientation). Meta's bridge original
// (bridge-mods/aaa-orig.jpg), when among pics, is taken first, so that its
// edits (BridgePairs) are measured; its edits are never bases. sources[i]
// names pics[i]'s corpus (nil: none).
func SelectRecallBases(pics []Picture, sources []string, n int, seed uint64) []RecallBase {
	order := Seed(seed).Perm(len(pics))
	if i := slices.IndexFunc(order, func(i int) bool { return isBridgeOriginal(pics[i].Name) }); i > 0 {
		order = slices.Concat([]int{order[i]}, order[:i], order[i+1:])
	}
	order = slices.DeleteFunc(order, func(i int) bool { return isBridgeEdit(pics[i].Name) })
	var out []RecallBase
	var chosen []pdq.Hash
	// Candidates are hashed on every core a batch at a time and accepted
	// in order, so the choice does not depend on scheduling.
	batch := 4 * runtime.GOMAXPROCS(0)
	for start := 0; start < len(order) && len(out) < n; start += batch {
		idx := order[start:min(len(order), start+batch)]
		res := make([]*hashing.Result, len(idx))
		parallel(len(idx), func(h *hashing.Hasher, k int) {
			if p, err := prepareBase(h, pics[idx[k]].Data, MaxRecallSide); err == nil && p.res.Quality >= vigil.DefaultMinQuality {
				res[k] = p.res
			}
		})
		for k, r := range res {
			if r == nil || len(out) == n {
				continue
			}
			if slices.ContainsFunc(chosen, func(c pdq.Hash) bool { return phm.NearestDistance(*r.Dihedral, c) <= pdq.MatchThreshold }) {
				continue
			}
			chosen = append(chosen, r.PDQ)
			b := RecallBase{Name: pics[idx[k]].Name, Data: pics[idx[k]].Data}
			if sources != nil {
				b.Source = sources[idx[k]]
			}
			out = append(out, b)
		}
	}
	return out
}

// parallel runs f(h, i) for i in [0, n) on every core, each worker with its
// own dihedral hasher.
func parallel(n int, f func(h *hashing.Hasher, i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			h := hashing.NewHasher(hashing.Options{Dihedral: true})
			for i := range next {
				f(h, i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// ExtraPair is an edited file of a base made elsewhere (Meta's bridge
// edits): Edit names its row, Base indexes the bases.
type ExtraPair struct {
	Edit string
	Base int
	Data []byte
}

// BridgePairs returns Meta's bridge edits among pics as pairs of the
// bridge original, when it is one of bases.
func BridgePairs(pics []Picture, bases []RecallBase) []ExtraPair {
	b := slices.IndexFunc(bases, func(r RecallBase) bool { return isBridgeOriginal(r.Name) })
	if b < 0 {
		return nil
	}
	var out []ExtraPair
	for _, p := range pics {
		if isBridgeEdit(p.Name) && strings.HasSuffix(strings.ToLower(p.Name), ".jpg") {
			out = append(out, ExtraPair{Edit: BridgeEditName, Base: b, Data: p.Data})
		}
	}
	slices.SortFunc(out, func(x, y ExtraPair) int { return bytes.Compare(x.Data, y.Data) })
	return out
}

// RecallRow counts one edit's pairs (or a total).
type RecallRow struct {
	Edit  string `json:"edit"`
	Pairs int    `json:"pairs"`
	// Plain: the edited picture's PDQ (quality ≥ 50) is within 31 of the
	// base's in the nearest of its 8 orientations, as `vigil match
	// --dihedral` matches (without --dihedral it compares the original
	// orientation only; PlainOriginal counts that).
	Plain         int `json:"plain_pdq_31"`
	PlainOriginal int `json:"plain_pdq_31_original"`
	// Exact: the base's PDQ is one of the edited picture's 8 dihedral
	// hashes (quality ≥ 50): what the client's exact keys find.
	Exact int `json:"exact"`
	// Probes: the base's listed key is among the client's keys for the
	// edited file (phm/client.Keys: digests, dihedral PDQ and the
	// reliability probes): exact + probes.
	Probes int `json:"exact_probes"`
	// Ratio is Probes/Exact (0 when Exact is 0).
	Ratio float64 `json:"probes_over_exact"`
	// 95 % Wilson intervals of Plain, Exact and Probes over Pairs.
	PlainLow  float64 `json:"plain_low"`
	PlainHigh float64 `json:"plain_high"`
	ExactLow  float64 `json:"exact_low"`
	ExactHigh float64 `json:"exact_high"`
	ProbeLow  float64 `json:"exact_probes_low"`
	ProbeHigh float64 `json:"exact_probes_high"`
	// MultiOpen counts the pairs whose real voucher (the client's keys)
	// opens more than one element of the list of all bases; Other those
	// that open an element of a base other than their own.
	MultiOpen int `json:"multi_open"`
	Other     int `json:"opens_other_base"`
	// LowQuality counts edited pictures under PDQ quality 50 (digests
	// only: no PDQ key, no plaintext match); Failed edited files that did
	// not hash.
	LowQuality int `json:"low_quality"`
	Failed     int `json:"failed"`
	// ExactNotProbes counts pairs exact finds and the client's keys do
	// not: 0 unless the client drops a dihedral key.
	ExactNotProbes int `json:"exact_not_probes"`
}

func (r *RecallRow) add(o RecallRow) {
	r.Pairs += o.Pairs
	r.Plain += o.Plain
	r.PlainOriginal += o.PlainOriginal
	r.Exact += o.Exact
	r.Probes += o.Probes
	r.MultiOpen += o.MultiOpen
	r.Other += o.Other
	r.LowQuality += o.LowQuality
	r.Failed += o.Failed
	r.ExactNotProbes += o.ExactNotProbes
}

func (r *RecallRow) finish() {
	r.PlainLow, r.PlainHigh = Wilson(r.Plain, r.Pairs)
	r.ExactLow, r.ExactHigh = Wilson(r.Exact, r.Pairs)
	r.ProbeLow, r.ProbeHigh = Wilson(r.Probes, r.Pairs)
	r.Ratio = 0
	if r.Exact > 0 {
		r.Ratio = float64(r.Probes) / float64(r.Exact)
	}
}

// RecallSource is the recall of the bases of one corpus.
type RecallSource struct {
	Source string      `json:"source"`
	Bases  int         `json:"bases"`
	Edits  []RecallRow `json:"edits"`
	Total  RecallRow   `json:"total"`
}

// RecallReport is the outcome of Recall.
type RecallReport struct {
	Bases int `json:"bases"`
	// Scaled counts bases scaled down to MaxRecallSide, Converted those
	// listed as the PNG of their pixels because PDQ reads the file's
	// pixels otherwise (16-bit samples, alpha).
	Scaled    int `json:"scaled"`
	Converted int `json:"converted"`
	// Listed is the size of the list of the bases' PDQ keys the vouchers
	// are opened against (one key a base).
	Listed  int            `json:"listed"`
	Edits   []RecallRow    `json:"edits"`
	Total   RecallRow      `json:"total"`
	Sources []RecallSource `json:"sources,omitempty"`
	// TableCheck opens the keys of up to RecallTableSample vouchers
	// through a real blinded table of the list as well: the opens above
	// are decided by membership in the list, which the table computes
	// but for hash-to-group collisions. Disagree must be 0.
	TableCheck TableCheck `json:"table_check"`
}

// pairOutcome is one pair's result.
type pairOutcome struct {
	plain, plainOrig, exact, probes, lowQ, failed bool
	opens                                         int
	other                                         bool
	keys                                          []phm.Key // kept for the table check only
}

func (o pairOutcome) row() RecallRow {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	return RecallRow{Pairs: 1, Plain: b(o.plain), PlainOriginal: b(o.plainOrig), Exact: b(o.exact), Probes: b(o.probes),
		MultiOpen: b(o.opens > 1), Other: b(o.other), LowQuality: b(o.lowQ), Failed: b(o.failed), ExactNotProbes: b(o.exact && !o.probes)}
}

// Recall edits every base with every edit, adds the extra pairs, and
// matches each pair (see RecallRow). The list the vouchers are opened
// against holds every base's PDQ key (bases are one per content, more
// than 31 apart, so the list's clustering radius keeps them all).
func Recall(ctx context.Context, bases []RecallBase, edits []Edit, extra []ExtraPair) (*RecallReport, error) {
	type listedBase struct {
		hash              pdq.Hash
		key               phm.Key
		scaled, converted bool
	}
	listed := make([]listedBase, len(bases))
	errs := make([]error, len(bases))
	// A base with extra pairs is kept at its size: those were made from
	// the file as it is.
	unscaled := map[int]bool{}
	for _, x := range extra {
		if x.Base < 0 || x.Base >= len(bases) {
			return nil, fmt.Errorf("recall: extra pair of base %d, of %d", x.Base, len(bases))
		}
		unscaled[x.Base] = true
	}
	// The bases are prepared twice, here for their keys and again in the
	// edits' pass, so that only one picture a core is held in memory.
	prepare := func(h *hashing.Hasher, i int) (*preparedBase, error) {
		side := MaxRecallSide
		if unscaled[i] {
			side = 0
		}
		p, err := prepareBase(h, bases[i].Data, side)
		if err != nil {
			return nil, fmt.Errorf("recall base %s: %w", bases[i].Name, err)
		}
		if p.res.Quality < vigil.DefaultMinQuality {
			return nil, fmt.Errorf("recall base %s: PDQ quality %d is under %d", bases[i].Name, p.res.Quality, vigil.DefaultMinQuality)
		}
		return p, nil
	}
	parallel(len(bases), func(h *hashing.Hasher, i int) {
		p, err := prepare(h, i)
		if err != nil {
			errs[i] = err
			return
		}
		k, _ := phm.NewKey(phm.FamilyPDQ, p.res.PDQ[:])
		listed[i] = listedBase{hash: p.res.PDQ, key: k, scaled: p.scaled, converted: p.converted}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	rep := &RecallReport{Bases: len(bases)}
	set := make(map[string]int, len(bases))
	for i, l := range listed {
		if _, dup := set[string(l.key)]; !dup {
			set[string(l.key)] = i
		}
		if l.scaled {
			rep.Scaled++
		}
		if l.converted {
			rep.Converted++
		}
	}
	rep.Listed = len(set)
	match := func(h *hashing.Hasher, base int, data []byte) pairOutcome {
		var o pairOutcome
		res, err := h.HashImageBytes(data)
		if err != nil {
			o.failed = true
			return o
		}
		want := listed[base].hash
		if res.Quality < vigil.DefaultMinQuality {
			o.lowQ = true
		} else {
			o.plain = phm.NearestDistance(*res.Dihedral, want) <= vigil.DefaultPDQThreshold
			o.plainOrig = pdq.Distance(res.PDQ, want) <= vigil.DefaultPDQThreshold
			o.exact = slices.Contains(res.Dihedral[:], want)
		}
		keys, err := client.Keys(data)
		if err != nil {
			o.failed = true
			return o
		}
		if base < RecallTableSample {
			o.keys = keys
		}
		for _, k := range keys {
			j, ok := set[string(k)]
			if !ok {
				continue
			}
			o.opens++
			if j == base {
				o.probes = true
			} else {
				o.other = true
			}
		}
		return o
	}
	// Per base: every edit (one worker prepares the base once); then the
	// extra pairs.
	outs := make([][]pairOutcome, len(bases))
	var failure error
	var mu sync.Mutex
	parallel(len(bases), func(h *hashing.Hasher, i int) {
		if ctx.Err() != nil {
			return
		}
		fail := func(err error) {
			mu.Lock()
			failure = err
			mu.Unlock()
		}
		p, err := prepare(h, i)
		if err != nil {
			fail(err)
			return
		}
		if p.res.PDQ != listed[i].hash {
			fail(fmt.Errorf("recall base %s: PDQ differs between two preparations", bases[i].Name))
			return
		}
		seed := seedOf(bases[i].Data)
		row := make([]pairOutcome, len(edits))
		for e, ed := range edits {
			data, err := ed.Apply(p.img, seed)
			if err != nil {
				fail(fmt.Errorf("recall edit %s of %s: %w", ed.Name, bases[i].Name, err))
				return
			}
			row[e] = match(h, i, data)
			if e > 0 {
				row[e].keys = nil
			}
		}
		outs[i] = row
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if failure != nil {
		return nil, failure
	}
	extraOuts := make([]pairOutcome, len(extra))
	parallel(len(extra), func(h *hashing.Hasher, i int) {
		extraOuts[i] = match(h, extra[i].Base, extra[i].Data)
	})
	names := make([]string, 0, len(edits)+1)
	for _, e := range edits {
		names = append(names, e.Name)
	}
	extraNames := map[string]bool{}
	for _, x := range extra {
		if !extraNames[x.Edit] && !slices.Contains(names, x.Edit) {
			names = append(names, x.Edit)
		}
		extraNames[x.Edit] = true
	}
	// tally builds the rows of the bases keep admits.
	tally := func(keep func(base int) bool) ([]RecallRow, RecallRow) {
		rows := make([]RecallRow, len(names))
		for k, n := range names {
			rows[k].Edit = n
		}
		for i, row := range outs {
			if !keep(i) {
				continue
			}
			for e, o := range row {
				rows[e].add(o.row())
			}
		}
		for i, x := range extra {
			if keep(x.Base) {
				rows[slices.Index(names, x.Edit)].add(extraOuts[i].row())
			}
		}
		total := RecallRow{Edit: "total"}
		for k := range rows {
			rows[k].finish()
			total.add(rows[k])
		}
		total.finish()
		return rows, total
	}
	rep.Edits, rep.Total = tally(func(int) bool { return true })
	keys := make([]phm.Key, len(listed))
	for i, l := range listed {
		keys[i] = l.key
	}
	if err := rep.checkTable(keys, set, outs); err != nil {
		return nil, err
	}
	var sources []string
	for _, b := range bases {
		if b.Source != "" && !slices.Contains(sources, b.Source) {
			sources = append(sources, b.Source)
		}
	}
	if len(sources) > 1 {
		for _, s := range sources {
			rs := RecallSource{Source: s}
			for _, b := range bases {
				if b.Source == s {
					rs.Bases++
				}
			}
			rs.Edits, rs.Total = tally(func(i int) bool { return bases[i].Source == s })
			rep.Sources = append(rep.Sources, rs)
		}
	}
	return rep, nil
}

// checkTable builds a real blinded table of keys and opens through it the
// kept keys of the first pair of each base, comparing with set.
func (rep *RecallReport) checkTable(keys []phm.Key, set map[string]int, outs [][]pairOutcome) error {
	var sample [][]phm.Key
	for _, row := range outs {
		if len(row) > 0 && row[0].keys != nil {
			sample = append(sample, row[0].keys)
		}
	}
	if len(sample) == 0 {
		return nil
	}
	list := slices.Clone(keys)
	slices.SortFunc(list, func(a, b phm.Key) int { return bytes.Compare(a, b) })
	list = slices.CompactFunc(list, func(a, b phm.Key) bool { return bytes.Equal(a, b) })
	alpha := phm.Group.HashToScalar([]byte("eval recall alpha"), []byte("vigil-phm-eval"))
	tbl, err := table.Build(alpha, list, [32]byte{8}, table.Options{Version: 1})
	if err != nil {
		return fmt.Errorf("build the recall table: %w", err)
	}
	imgs := make([]CorpusImage, len(sample))
	for i, k := range sample {
		imgs[i] = CorpusImage{Query: k}
	}
	member := make(map[string]bool, len(set))
	for k := range set {
		member[k] = true
	}
	idx := make([]int, len(imgs))
	for i := range idx {
		idx[i] = i
	}
	rep.TableCheck.add(imgs, idx, member, func(k phm.Key) bool { return Listed(tbl, alpha, k) })
	return nil
}

// seedOf draws an edit's seed from the picture's bytes: the noise of one
// picture is the same on every run, and differs between pictures.
func seedOf(data []byte) uint64 {
	s := sha256.Sum256(data)
	return binary.LittleEndian.Uint64(s[:8])
}
