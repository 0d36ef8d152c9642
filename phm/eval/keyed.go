package eval

// Attacks on the keyed second hash (phm/second) by an adversary who knows
// its algorithm but not the service's key. The keyed hash reads a DCT
// band of PDQ's 64×64 buffer that PDQ's own bits do not; these attacks
// change that band, by adding its cosine patterns to the picture:
//
//   - own key (transfer): the attacker makes a key of its own and steers
//     the band until its own keyed hash of the picture equals its own
//     keyed hash of the target picture, then hopes the service's key
//     agrees;
//   - band copy: the attacker holds the target picture and copies its
//     whole band into the picture, which no key can tell apart; what it
//     costs is the PSNR.

import (
	"bytes"
	"fmt"
	"image"
	stddraw "image/draw"
	"image/jpeg"
	"math"
	"slices"

	"golang.org/x/image/draw"

	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/second"
)

// bandBasis holds the band's DCT rows sampled at a picture's pixel
// centres, as basis does for PDQ's block.
type bandBasis struct {
	rows, cols [32][]float32
}

func newBandBasis(w, h int) *bandBasis {
	b := &bandBasis{}
	f := func(n, u int) []float32 {
		s := make([]float32, n)
		scale := math.Sqrt(2.0 / 64.0)
		if u == 0 {
			scale = math.Sqrt(1.0 / 64.0)
		}
		for p := range s {
			x := (float64(p)+0.5)*64/float64(n) - 0.5
			s[p] = float32(scale * math.Cos(math.Pi/128*float64(u)*(2*x+1)))
		}
		return s
	}
	for u := range 32 {
		b.rows[u], b.cols[u] = f(h, u), f(w, u)
	}
	return b
}

// add adds Σ delta[i]·rows[u_i]⊗cols[v_i] over the band to l, clamped.
func (b *bandBasis) add(l *Luma, delta []float32) {
	var t [32][]float32
	for u := range 32 {
		t[u] = make([]float32, l.W)
	}
	for i, d := range delta {
		if d == 0 {
			continue
		}
		u, v := second.BandFrequency(i)
		for x, c := range b.cols[v] {
			t[u][x] += d * c
		}
	}
	for y := 0; y < l.H; y++ {
		row := l.Pix[y*l.W : (y+1)*l.W]
		for u := range 32 {
			r := b.rows[u][y]
			if r == 0 {
				continue
			}
			for x := range row {
				row[x] += r * t[u][x]
			}
		}
		for x, v := range row {
			row[x] = min(255, max(0, v))
		}
	}
}

// CopyBand moves cur's keyed-hash band onto target's (the band of the
// target picture), in a few closed-loop steps; PDQ's block is untouched
// but for clamping.
func CopyBand(cur *Luma, target *Luma, steps int) *Luma {
	h := second.NewHasher()
	want, ok := h.Band(target.Gray())
	if !ok {
		return cur
	}
	out := cur.Clone()
	bs := newBandBasis(out.W, out.H)
	for range steps {
		got, ok := h.Band(out.Gray())
		if !ok {
			break
		}
		delta := make([]float32, len(got))
		for i := range got {
			delta[i] = want[i] - got[i]
		}
		bs.add(out, delta)
	}
	return out
}

// SteerKeyed moves cur's band until its keyed hash under own equals
// targetHash (own's hash of the target) with every projection at least
// margin from the median, or until queries run out; it returns the
// picture and the queries spent.
func SteerKeyed(cur *Luma, own *second.Key, targetHash second.Hash, margin float32, queries int) (*Luma, int, bool) {
	h := second.NewHasher()
	out := cur.Clone()
	bs := newBandBasis(out.W, out.H)
	proj := make([][]float32, second.Bits)
	for b := range proj {
		proj[b] = own.Projection(b)
	}
	var norm2 float32
	for _, p := range proj[0] {
		norm2 += p * p
	}
	p := make([]float32, second.Bits)
	for q := 1; q <= queries; q++ {
		c, ok := h.Band(out.Gray())
		if !ok {
			return out, q, false
		}
		for b := range p {
			var s float32
			for i, w := range proj[b] {
				s += w * c[i]
			}
			p[b] = s
		}
		sorted := append([]float32(nil), p...)
		slicesSort(sorted)
		med := sorted[second.Bits/2-1]
		delta := make([]float32, len(c))
		left := 0
		for b := range p {
			bit := targetHash[b/8]&(1<<(b%8)) != 0
			want := med - margin
			if bit {
				want = med + margin
			}
			if bit && p[b] < want || !bit && p[b] > want {
				left++
				step := (want - p[b]) * 1.2 / norm2
				for i, w := range proj[b] {
					delta[i] += step * w
				}
			}
		}
		if got, _ := h.Hash(own, out.Gray()); left == 0 || got == targetHash && margin <= 0 {
			return out, q, got == targetHash
		}
		bs.add(out, delta)
	}
	got, _ := h.Hash(own, out.Gray())
	return out, queries, got == targetHash
}

// KeyedCollide crafts a collision against both halves of the second
// check as an attacker without the service's key can: Collide onto
// target's PDQ, then SteerKeyed onto own's keyed hash of targetPic, then
// Collide again to repair what the band's clamping moved. The result's
// Reached is PDQ equal and own's keyed hash within second.Threshold.
func KeyedCollide(orig *Luma, target pdq.Hash, targetPic *Luma, own *second.Key, bud Budget) AttackResult {
	bud = bud.withDefaults()
	r := Collide(orig, target, 1, Budget{Queries: bud.Queries / 2, MinPSNR: bud.MinPSNR})
	sh := second.NewHasher()
	want, _ := sh.Hash(own, targetPic.Gray())
	pic, q, _ := SteerKeyed(r.Picture, own, want, 4, bud.Queries/4)
	r2 := Collide(pic, target, 1, Budget{Queries: bud.Queries / 4, MinPSNR: bud.MinPSNR})
	got, _ := sh.Hash(own, r2.Picture.Gray())
	res := AttackResult{Queries: r.Queries + q + r2.Queries, Picture: r2.Picture, Distance: r2.Distance}
	res.Reached = r2.Reached && second.Distance(got, want) <= second.Threshold
	res.PSNR = PSNR(orig, r2.Picture)
	res.Success = res.Reached && res.PSNR >= bud.MinPSNR
	return res
}

func slicesSort(v []float32) { slices.Sort(v) }

// Band variants (issue 16, gap B): the band copy above passes the keyed
// hash whatever the key, so what it passes is set by the band the hash
// reads. A BandVariant is a candidate band for a keyed hash, measured
// against today's by BandStudy on benign pictures: the same construction
// as phm/second (Bits keyed ±1 projections of the band, each coefficient
// weighted by its frequency, each bit above or below their median), on
// another grid or band. Research only: the service's hash is phm/second.
type BandVariant struct {
	Name string
	// Side is the grid the DCT is taken on: 64, PDQ's filtered buffer
	// (pdq.Hasher.Filtered at 64, as phm/second), or 128, the device's
	// derivative as the reviewer sees it (Filtered at 128 for a listed
	// picture; the derivative itself, a 64×64 one scaled up, for an item).
	Side int
	// Freq bounds the band: frequencies 0..Freq-1 on each axis, the mean
	// left out.
	Freq int
	// SkipPDQ leaves out PDQ's own 16×16 block (frequencies 1..16 on both
	// axes of the 64×64 buffer; 2..32 at 128 is not it, so only at 64).
	SkipPDQ bool
	// MinHigh, if positive, keeps only frequencies with u or v at least
	// MinHigh: a band PDQ's 64×64 filter never sees (32 at 128).
	MinHigh int
	// ListedDerivative hashes the listed picture from its own device
	// derivative (as an item is), not from Filtered at Side.
	ListedDerivative bool
	// With, if set, is a second keyed hash that must pass too, at
	// WithThreshold: two keyed hashes of two bands. The band copy then
	// copies both bands.
	With          *BandVariant
	WithThreshold int
}

// pairHasher is a variant's hasher and, for a pair, its second one.
type pairHasher struct {
	h, with *variantHasher
	withT   int
}

func newPairHasher(v BandVariant, seed uint64) *pairHasher {
	p := &pairHasher{h: newVariantHasher(v, seed)}
	if v.With != nil {
		p.with, p.withT = newVariantHasher(*v.With, seed+500), v.WithThreshold
	}
	return p
}

// hash is img's hashes (item: a derivative).
func (p *pairHasher) hash(img image.Image, item bool) ([2]second.Hash, bool) {
	var out [2]second.Hash
	var ok bool
	if out[0], ok = p.h.Hash(img, item); !ok {
		return out, false
	}
	if p.with != nil {
		if out[1], ok = p.with.Hash(img, item); !ok {
			return out, false
		}
	}
	return out, true
}

// listed is the hashes of a listed picture: of its derivative
// (ListedDerivative) or of the picture.
func (p *pairHasher) listed(pic *Luma, deriv Derivative) ([2]second.Hash, bool) {
	if p.h.v.ListedDerivative {
		img, err := decodeDerivative(pic, deriv)
		if err != nil {
			return [2]second.Hash{}, false
		}
		return p.hash(img, true)
	}
	return p.hash(pic.Gray(), false)
}

// distance is the first hash's distance, or past every threshold
// (second.Bits + 1) when the second hash of a pair is over its own.
func (p *pairHasher) distance(a, b [2]second.Hash) int {
	if p.with != nil && second.Distance(a[1], b[1]) > p.withT {
		return second.Bits + 1
	}
	return second.Distance(a[0], b[0])
}

// BandVariants are the candidates measured: today's band (phm/second's,
// recomputed here in the identity orientation), the band widened over
// PDQ's block, the derivative's own 128×128 band up to 63, and its upper
// half alone (frequencies PDQ's 64×64 buffer cannot hold), and that half
// paired with today's band (both keyed hashes must pass).
var BandVariants = []BandVariant{
	{Name: "today (64, 1..31 minus PDQ block)", Side: 64, Freq: 32, SkipPDQ: true},
	{Name: "wide (64, 0..31 with PDQ block)", Side: 64, Freq: 32},
	{Name: "deriv128 (128, 0..63)", Side: 128, Freq: 64},
	{Name: "deriv128-high (128, u or v 32..63)", Side: 128, Freq: 64, MinHigh: 32},
	{Name: "pair: deriv128-high and today at 64", Side: 128, Freq: 64, MinHigh: 32,
		With: &BandVariant{Name: "today", Side: 64, Freq: 32, SkipPDQ: true}, WithThreshold: 64},
	{Name: "deriv128, listed from its derivative", Side: 128, Freq: 64, ListedDerivative: true},
}

// band lists the variant's (u, v) frequencies.
func (v BandVariant) band() [][2]int {
	var out [][2]int
	for u := range v.Freq {
		for w := range v.Freq {
			switch {
			case u == 0 && w == 0:
			case v.SkipPDQ && u >= 1 && u <= 16 && w >= 1 && w <= 16:
			case v.MinHigh > 0 && u < v.MinHigh && w < v.MinHigh:
			default:
				out = append(out, [2]int{u, w})
			}
		}
	}
	return out
}

// variantHasher computes one variant's keyed hashes under a key of its
// own (a seed: no secret matters to a band copy, which copies every
// coefficient the hash reads).
type variantHasher struct {
	v     BandVariant
	band  [][2]int
	w     []float32
	sign  [second.Bits][]float32
	cos   [][]float32 // cos[u][x] on Side points, orthonormal
	pdq   *pdq.Hasher
	coefs []float32
}

func newVariantHasher(v BandVariant, seed uint64) *variantHasher {
	h := &variantHasher{v: v, band: v.band(), pdq: pdq.NewHasher(pdq.Full)}
	h.w = make([]float32, len(h.band))
	for i, f := range h.band {
		h.w[i] = float32(math.Hypot(float64(f[0]), float64(f[1])))
	}
	r := Seed(seed)
	for b := range h.sign {
		h.sign[b] = make([]float32, len(h.band))
		for i := range h.sign[b] {
			h.sign[b][i] = float32(2*int(r.Uint64()&1) - 1)
		}
	}
	h.cos = make([][]float32, v.Freq)
	for u := range h.cos {
		s := math.Sqrt(2 / float64(v.Side))
		if u == 0 {
			s = math.Sqrt(1 / float64(v.Side))
		}
		h.cos[u] = make([]float32, v.Side)
		for x := range h.cos[u] {
			h.cos[u][x] = float32(s * math.Cos(math.Pi/float64(2*v.Side)*float64(u)*float64(2*x+1)))
		}
	}
	return h
}

// grid is img on the variant's grid: Filtered at Side, or for an item's
// derivative (item true) the derivative itself at 128, scaled up from 64.
func (h *variantHasher) grid(img image.Image, item bool) (*image.Gray, bool) {
	b := img.Bounds()
	if item && h.v.Side == 128 {
		if b.Dx() == 128 && b.Dy() == 128 {
			g := image.NewGray(image.Rect(0, 0, 128, 128))
			stddraw.Draw(g, g.Bounds(), img, b.Min, stddraw.Src)
			return g, true
		}
		g := image.NewGray(image.Rect(0, 0, 128, 128))
		draw.BiLinear.Scale(g, g.Bounds(), img, b, draw.Src, nil)
		return g, true
	}
	return h.pdq.Filtered(img, h.v.Side)
}

// Coefficients returns the band of img (item: a derivative) in order.
func (h *variantHasher) Coefficients(img image.Image, item bool) ([]float32, bool) {
	g, ok := h.grid(img, item)
	if !ok {
		return nil, false
	}
	n, f := h.v.Side, h.v.Freq
	t := make([][]float32, f) // t[w][y] = Σ_x cos[w][x]·g[y][x]
	for w := range f {
		t[w] = make([]float32, n)
		for y := range n {
			row := g.Pix[y*g.Stride : y*g.Stride+n]
			var s float32
			for x, p := range row {
				s += h.cos[w][x] * float32(p)
			}
			t[w][y] = s
		}
	}
	out := make([]float32, len(h.band))
	for i, fr := range h.band {
		var s float32
		for y := range n {
			s += h.cos[fr[0]][y] * t[fr[1]][y]
		}
		out[i] = s
	}
	return out, true
}

// Hash is the variant's keyed hash of img (item: a derivative).
func (h *variantHasher) Hash(img image.Image, item bool) (second.Hash, bool) {
	c, ok := h.Coefficients(img, item)
	if !ok {
		return second.Hash{}, false
	}
	var proj, sorted [second.Bits]float32
	for b := range proj {
		var s float32
		for i, x := range c {
			s += h.sign[b][i] * x * h.w[i]
		}
		proj[b] = s
	}
	sorted = proj
	slices.Sort(sorted[:])
	med := sorted[second.Bits/2-1]
	var out second.Hash
	for b, p := range proj {
		if p > med {
			out[b/8] |= 1 << (b % 8)
		}
	}
	return out, true
}

// CopyVariantBand is CopyBand for a variant: it moves cur's coefficients
// of the variant's band onto target's, as the variant measures them on
// the picture (Filtered at its side), in steps closed-loop steps.
func CopyVariantBand(cur, target *Luma, v BandVariant, steps int) *Luma {
	h := newVariantHasher(v, 0)
	want, ok := h.Coefficients(target.Gray(), false)
	if !ok {
		return cur
	}
	out := cur.Clone()
	// The basis: cos at the variant's grid, sampled at the picture's
	// pixel centres, as newBandBasis at 64.
	basis := func(n, u int) []float32 {
		s := make([]float32, n)
		scale := math.Sqrt(2 / float64(v.Side))
		if u == 0 {
			scale = math.Sqrt(1 / float64(v.Side))
		}
		for p := range s {
			x := (float64(p)+0.5)*float64(v.Side)/float64(n) - 0.5
			s[p] = float32(scale * math.Cos(math.Pi/float64(2*v.Side)*float64(u)*(2*x+1)))
		}
		return s
	}
	rows, cols := make([][]float32, v.Freq), make([][]float32, v.Freq)
	for u := range v.Freq {
		rows[u], cols[u] = basis(out.H, u), basis(out.W, u)
	}
	for range steps {
		got, ok := h.Coefficients(out.Gray(), false)
		if !ok {
			break
		}
		t := make([][]float32, v.Freq)
		for u := range t {
			t[u] = make([]float32, out.W)
		}
		for i, fr := range h.band {
			d := want[i] - got[i]
			for x, c := range cols[fr[1]] {
				t[fr[0]][x] += d * c
			}
		}
		for y := range out.H {
			row := out.Pix[y*out.W : (y+1)*out.W]
			for u := range v.Freq {
				r := rows[u][y]
				for x := range row {
					row[x] += r * t[u][x]
				}
			}
			for x, p := range row {
				row[x] = min(255, max(0, p))
			}
		}
	}
	return out
}

// decodeDerivative is deriv of pic, decoded.
func decodeDerivative(pic *Luma, deriv Derivative) (image.Image, error) {
	b, err := deriv(pic.Gray())
	if err != nil {
		return nil, err
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("derivative: %w", err)
	}
	return img, nil
}

// VariantBenign is one variant on benign pictures: the distances of true
// derivatives (per edit) and of unrelated pairs, at thresholds.
type VariantBenign struct {
	Variant    string `json:"variant"`
	Thresholds []int  `json:"thresholds"`
	// Unrelated pairs (PDQ more than 62 apart in every orientation) and,
	// per threshold, how many are within it (identity orientation).
	Unrelated int   `json:"unrelated_pairs"`
	WithinAt  []int `json:"unrelated_within"`
	// Edits: per edit, the derivatives measured and, per threshold, how
	// many are over it (lost true matches).
	Edits []VariantEdit `json:"edits"`
}

// VariantEdit is one edit's true derivatives under a variant.
type VariantEdit struct {
	Edit     string `json:"edit"`
	Pictures int    `json:"pictures"`
	OverAt   []int  `json:"over"`
}

// BandBenign measures each variant on pics (benign, one per content): the
// recall edits' derivatives against the listed picture's hash, and the
// unrelated pairs, at thresholds (of second.Bits). Identity orientation
// only, for every variant alike: the edits do not mirror.
func BandBenign(pics []*Luma, variants []BandVariant, thresholds []int, deriv Derivative) ([]VariantBenign, error) {
	ph := pdq.NewHasher(pdq.Full)
	pdqDih := make([][8]pdq.Hash, len(pics))
	for i, p := range pics {
		pdqDih[i], _ = ph.HashDihedral(p.Gray())
	}
	// The edited derivatives, decoded once for every variant.
	edited := make([][]image.Image, len(keyedEdits))
	for e, ed := range keyedEdits {
		edited[e] = make([]image.Image, len(pics))
		for i, p := range pics {
			img, err := ed.fn(p.Gray())
			if err != nil {
				return nil, err
			}
			if edited[e][i], err = decodeDerivative(LumaOf(img), deriv); err != nil {
				edited[e][i] = nil // no derivative fits: not a voucher
			}
		}
	}
	var out []VariantBenign
	for vi, v := range variants {
		h := newPairHasher(v, uint64(1000+vi))
		vb := VariantBenign{Variant: v.Name, Thresholds: thresholds, WithinAt: make([]int, len(thresholds))}
		listed := make([][2]second.Hash, len(pics))
		items := make([][2]second.Hash, len(pics)) // the unedited derivative's
		for i, p := range pics {
			listed[i], _ = h.listed(p, deriv)
		}
		for e, ed := range keyedEdits {
			ve := VariantEdit{Edit: ed.name, OverAt: make([]int, len(thresholds))}
			for i := range pics {
				if edited[e][i] == nil {
					continue
				}
				got, ok := h.hash(edited[e][i], true)
				if !ok {
					continue
				}
				if e == 0 {
					items[i] = got
				}
				ve.Pictures++
				d := h.distance(got, listed[i])
				for k, t := range thresholds {
					if d > t {
						ve.OverAt[k]++
					}
				}
			}
			vb.Edits = append(vb.Edits, ve)
		}
		for i := range pics {
			for j := i + 1; j < len(pics); j++ {
				if phm.NearestDistance(pdqDih[j], pdqDih[i][pdq.Original]) <= 2*pdq.MatchThreshold {
					continue
				}
				vb.Unrelated++
				d := h.distance(items[j], listed[i])
				for k, t := range thresholds {
					if d <= t {
						vb.WithinAt[k]++
					}
				}
			}
		}
		out = append(out, vb)
	}
	return out, nil
}

// VariantAttack is the band copy against one variant: a PDQ collision
// from each carrier onto another content's PDQ, the variant's band copied
// from the target picture, the PDQ collided again.
type VariantAttack struct {
	Variant   string `json:"variant"`
	Threshold int    `json:"threshold"`
	// Reached: PDQ collisions reached; Confirmed: of those, the service's
	// PDQ + re-encode confirm; Passed: of those, the variant's hash is
	// within Threshold of the target's (both is what the strict second
	// check would confirm); Copies of Passed: closer to the target than to
	// the carrier at the reviewer's derivative (PSNR), NonCopies the rest.
	Pairs     int `json:"pairs"`
	Reached   int `json:"reached"`
	Confirmed int `json:"confirmed"`
	Passed    int `json:"passed"`
	Copies    int `json:"passed_copies"`
	NonCopies int `json:"passed_non_copies"`
	// AllCopies counts the reached collisions that are copies, passed or not.
	AllCopies int `json:"reached_copies"`
	// WhiteBox counts the plain PDQ collisions (margin 1, before the band
	// copy) that reached, and WhiteBoxPassed those of them whose
	// derivative passes PDQ ≤ 31 and the variant (the re-encode left out,
	// as the attack table's "PDQ + keyed").
	WhiteBox       int `json:"white_box_reached"`
	WhiteBoxPassed int `json:"white_box_pdq_variant_pass"`
	// NonCopyPSNR lists the passed non-copies' derivative PSNR against
	// the carrier's and against the target's, dB.
	NonCopyPSNR [][2]float64 `json:"non_copies_psnr_carrier_target_db"`
	// CopyPSNRTarget is the median PSNR of the passed copies' derivative
	// against the target's, dB.
	CopyPSNRTarget float64 `json:"copies_psnr_target_median_db"`
}

// BandCopyAttack runs the band copy of each variant (CopyVariantBand) on
// pics, each carrier aimed at the next picture of another content, and
// judges the result at the reviewer's derivative: PSNR of the collision's
// derivative against the carrier's and against the target's (nearest
// orientation). thresholds are the variants' (chosen on benign pairs
// first: BandBenign).
func BandCopyAttack(pics []*Luma, variants []BandVariant, thresholds []int, deriv Derivative, bud Budget) ([]VariantAttack, error) {
	ph := pdq.NewHasher(pdq.Full)
	hashes := make([]pdq.Hash, len(pics))
	dihs := make([][8]pdq.Hash, len(pics))
	for i, p := range pics {
		dihs[i], _ = ph.HashDihedral(p.Gray())
		hashes[i] = dihs[i][pdq.Original]
	}
	derivs := make([]*Luma, len(pics))
	for i, p := range pics {
		img, err := decodeDerivative(p, deriv)
		if err != nil {
			return nil, err
		}
		derivs[i] = LumaOf(img)
	}
	var out []VariantAttack
	for vi, v := range variants {
		h := newPairHasher(v, uint64(1000+vi))
		va := VariantAttack{Variant: v.Name, Threshold: thresholds[vi]}
		var copyPSNR []float64
		for i, p := range pics {
			ti := -1
			for j := 1; j < len(pics); j++ {
				if phm.NearestDistance(dihs[i], hashes[(i+j)%len(pics)]) > 2*pdq.MatchThreshold {
					ti = (i + j) % len(pics)
					break
				}
			}
			if ti < 0 {
				continue
			}
			va.Pairs++
			r := Collide(p, hashes[ti], 1, bud)
			listed, _ := h.listed(pics[ti], deriv)
			if r.Reached {
				va.WhiteBox++
				c, err := SecondCheck(r.Picture, hashes[ti], deriv)
				if err == nil && c.Plain {
					if img, err := decodeDerivative(r.Picture, deriv); err == nil {
						if got, ok := h.hash(img, true); ok && h.distance(got, listed) <= thresholds[vi] {
							va.WhiteBoxPassed++
						}
					}
				}
			}
			pic := CopyVariantBand(r.Picture, pics[ti], v, 3)
			if v.With != nil {
				pic = CopyVariantBand(pic, pics[ti], *v.With, 3)
			}
			r2 := Collide(pic, hashes[ti], 1, bud)
			if !r2.Reached {
				continue
			}
			va.Reached++
			img, err := decodeDerivative(r2.Picture, deriv)
			if err != nil {
				continue
			}
			dl := LumaOf(img)
			toCarrier, toTarget := PSNRNearest(derivs[i], dl), PSNRNearest(derivs[ti], dl)
			copyOf := toTarget >= toCarrier
			if copyOf {
				va.AllCopies++
			}
			c, err := SecondCheck(r2.Picture, hashes[ti], deriv)
			if err != nil || !c.Confirmed {
				continue
			}
			va.Confirmed++
			got, ok := h.hash(img, true)
			if !ok || h.distance(got, listed) > thresholds[vi] {
				continue
			}
			va.Passed++
			if copyOf {
				va.Copies++
				copyPSNR = append(copyPSNR, toTarget)
			} else {
				va.NonCopies++
				va.NonCopyPSNR = append(va.NonCopyPSNR, [2]float64{math.Round(toCarrier*10) / 10, math.Round(toTarget*10) / 10})
			}
		}
		va.CopyPSNRTarget = math.Round(medianF(copyPSNR)*10) / 10
		out = append(out, va)
	}
	return out, nil
}
