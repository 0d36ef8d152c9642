package eval

// The evasion and collision harnesses of docs e2ee.md §6: how far an
// adversary who knows PDQ can move an image's hash, measured on benign
// pictures only. Two adversaries:
//
//   - white-box: it reads the 16×16 DCT block and its median (as anyone
//     with PDQ's open source can) and adds to the picture the smooth
//     cosine patterns that move chosen coefficients across the median,
//     checking the rounded 8-bit picture's real hash after every step;
//   - black-box (Jain-style): it only sees the hash, adds random smooth
//     patterns and keeps a change when the hash moves its way.
//
// Both keep within a PSNR budget against the original. The harness reports
// success, hashes computed (queries) and PSNR; it never decides what a
// good number is.

import (
	"cmp"
	"image"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/vigil-oss/vigil/pdq"
)

// Luma is a greyscale picture with samples from 0 to 255. An attack works
// on it in floating point and hashes its rounded 8-bit image, which is
// what a file would carry.
type Luma struct {
	W, H int
	Pix  []float32
}

// LumaOf converts img with PDQ's luminance weights.
func LumaOf(img image.Image) *Luma {
	b := img.Bounds()
	l := &Luma{W: b.Dx(), H: b.Dy(), Pix: make([]float32, b.Dx()*b.Dy())}
	for y := 0; y < l.H; y++ {
		for x := 0; x < l.W; x++ {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			l.Pix[y*l.W+x] = 0.299*float32(r>>8) + 0.587*float32(g>>8) + 0.114*float32(bl>>8)
		}
	}
	return l
}

// Clone returns a copy of l.
func (l *Luma) Clone() *Luma {
	return &Luma{W: l.W, H: l.H, Pix: append([]float32(nil), l.Pix...)}
}

// Gray returns l rounded and clamped to 8 bits.
func (l *Luma) Gray() *image.Gray {
	g := image.NewGray(image.Rect(0, 0, l.W, l.H))
	for i, v := range l.Pix {
		g.Pix[i] = uint8(min(255, max(0, math.Round(float64(v)))))
	}
	return g
}

// PSNR is the peak signal-to-noise ratio of b against a in dB, on their
// rounded 8-bit samples; +Inf when they are equal.
func PSNR(a, b *Luma) float64 {
	ga, gb := a.Gray(), b.Gray()
	var se float64
	for i := range ga.Pix {
		d := float64(ga.Pix[i]) - float64(gb.Pix[i])
		se += d * d
	}
	if se == 0 {
		return math.Inf(1)
	}
	mse := se / float64(len(ga.Pix))
	return 10 * math.Log10(255*255/mse)
}

// basis holds PDQ's DCT rows sampled at a picture's pixel centres: adding
// δ·rows[i](y)·cols[j](x) to the picture moves coefficient 16i+j by about
// δ (PDQ's DCT is orthonormal on its 64×64 buffer, and the buffer averages
// the pixels of each cell; the filter attenuates a little, which the
// closed loop corrects).
type basis struct {
	rows [16][]float32
	cols [16][]float32
	t    [16][]float32
}

func newBasis(w, h int) *basis {
	b := &basis{}
	f := func(n, i int) []float32 {
		s := make([]float32, n)
		scale := math.Sqrt(2.0 / 64.0)
		for p := range s {
			u := (float64(p)+0.5)*64/float64(n) - 0.5
			s[p] = float32(scale * math.Cos(math.Pi/128*float64(i+1)*(2*u+1)))
		}
		return s
	}
	for i := range 16 {
		b.rows[i] = f(h, i)
		b.cols[i] = f(w, i)
		b.t[i] = make([]float32, w)
	}
	return b
}

// add adds Σ δ[16i+j]·rows[i]⊗cols[j] to l, clamping to 0..255.
func (b *basis) add(l *Luma, delta *[256]float32) {
	for i := range 16 {
		t := b.t[i]
		clear(t)
		for j := range 16 {
			d := delta[16*i+j]
			if d == 0 {
				continue
			}
			for x, c := range b.cols[j] {
				t[x] += d * c
			}
		}
	}
	for y := 0; y < l.H; y++ {
		row := l.Pix[y*l.W : (y+1)*l.W]
		for i := range 16 {
			r := b.rows[i][y]
			t := b.t[i]
			for x := range row {
				row[x] += r * t[x]
			}
		}
		for x, v := range row {
			row[x] = min(255, max(0, v))
		}
	}
}

// goal says, per coefficient, which side of the median it must end on
// (+1 above, −1 at or below, 0 either) and by how much.
type goal struct {
	sign   [256]int8
	margin [256]float32
}

// step returns the coefficient changes that move d toward g, and how
// many coefficients still need one.
func (g *goal) step(d *pdq.Detail) (delta [256]float32, left int) {
	for k, s := range g.sign {
		if s == 0 {
			continue
		}
		want := d.Median + float32(s)*g.margin[k]
		c := d.Coefficients[k]
		if s > 0 && c < want || s < 0 && c > want {
			// Overshoot a little: the median moves as coefficients do,
			// and a change under about 2 vanishes when the picture is
			// rounded to 8 bits.
			delta[k] = float32(s) * max(float32(math.Abs(float64(want-c)))*1.1, 2)
			left++
		}
	}
	return delta, left
}

// AttackResult is the outcome of one attack on one picture.
type AttackResult struct {
	// Success: the rounded picture met the attack's aim within the query
	// budget and at a PSNR of at least the budget's.
	Success bool
	// Reached: the aim was met at all (possibly below the PSNR budget).
	Reached bool
	// Queries counts the hashes computed.
	Queries int
	// PSNR of the final picture against the original, dB.
	PSNR float64
	// Distance is the final PDQ distance (original orientation) to the
	// target for a collision, from the original for an evasion.
	Distance int
	// Picture is the final picture.
	Picture *Luma
}

// Budget bounds an attack.
type Budget struct {
	// Queries is the most hashes an attack may compute (default 1000).
	Queries int
	// MinPSNR is the quality the attacked picture must keep, dB (default
	// 35, the design's budget); an attack stops once below MinPSNR − 15,
	// so that Reached and Distance show what a larger change achieves.
	MinPSNR float64
}

func (b Budget) withDefaults() Budget {
	if b.Queries <= 0 {
		b.Queries = 1000
	}
	if b.MinPSNR == 0 {
		b.MinPSNR = 35
	}
	return b
}

// whiteBox steers orig's coefficients toward g until aim holds on the
// rounded picture; when g is met but aim is not, escalate widens it.
func whiteBox(orig *Luma, g *goal, aim func(*pdq.Detail) bool, escalate func(*goal, *pdq.Detail), dist func(*pdq.Detail) int, bud Budget) AttackResult {
	bud = bud.withDefaults()
	h := pdq.NewHasher(pdq.Full)
	bs := newBasis(orig.W, orig.H)
	cur := orig.Clone()
	res := AttackResult{}
	for res.Queries < bud.Queries {
		d, ok := h.HashDetail(cur.Gray())
		res.Queries++
		if !ok {
			break
		}
		res.Distance = dist(&d)
		if aim(&d) {
			res.Reached = true
			break
		}
		delta, left := g.step(&d)
		if left == 0 {
			escalate(g, &d)
			continue
		}
		bs.add(cur, &delta)
		if PSNR(orig, cur) < bud.MinPSNR-15 {
			break
		}
	}
	res.Picture = cur
	res.PSNR = PSNR(orig, cur)
	res.Success = res.Reached && res.PSNR >= bud.MinPSNR
	return res
}

// Collide crafts from orig a picture whose PDQ equals target (a
// Prokos-style targeted second preimage), white-box, with every
// coefficient at least margin from the median: a larger margin costs PSNR
// and survives re-encoding (the voucher's derivative, a JPEG).
func Collide(orig *Luma, target pdq.Hash, margin float32, bud Budget) AttackResult {
	g := &goal{}
	for k := range g.sign {
		g.sign[k] = -1
		if target.Bit(k) {
			g.sign[k] = 1
		}
		g.margin[k] = max(margin, 1)
	}
	aim := func(d *pdq.Detail) bool {
		if d.Quality < pdq.MinQuality || d.Dihedral[pdq.Original] != target {
			return false
		}
		if margin <= 1 {
			return true
		}
		for k, c := range d.Coefficients {
			// The median is itself a coefficient, at margin 0.
			if c != d.Median && d.Margin(k) < margin*0.5 {
				return false
			}
		}
		return true
	}
	esc := func(g *goal, _ *pdq.Detail) {
		for k := range g.margin {
			g.margin[k] *= 1.5
		}
	}
	dist := func(d *pdq.Detail) int { return pdq.Distance(d.Dihedral[pdq.Original], target) }
	return whiteBox(orig, g, aim, esc, dist, bud)
}

// Matcher is what an evasion must defeat.
type Matcher int

// The three matchers the design compares.
const (
	// MatchExact: the private channel's exact PDQ keys in eight
	// orientations.
	MatchExact Matcher = iota
	// MatchProbes: exact keys plus the client's reliability probes.
	MatchProbes
	// MatchPlain31: plaintext PDQ within distance 31 in any orientation,
	// the server's second check and Vigil's ordinary matcher.
	MatchPlain31
)

func (m Matcher) String() string {
	switch m {
	case MatchExact:
		return "exact"
	case MatchProbes:
		return "exact+probes"
	case MatchPlain31:
		return "plaintext≤31"
	}
	return "?"
}

// Found reports whether matcher m, holding the listed hash, finds the
// picture whose PDQ detail is d. probes makes the client's reliability
// probes (phm/client.Probes) from d; a picture below PDQ's minimum quality
// has no PDQ keys and is found by none.
func Found(m Matcher, listed pdq.Hash, d *pdq.Detail, probes func(*pdq.Detail) []pdq.Hash) bool {
	if d.Quality < pdq.MinQuality {
		return false
	}
	for _, v := range d.Dihedral {
		if v == listed {
			return true
		}
		if m == MatchPlain31 && pdq.Distance(v, listed) <= pdq.MatchThreshold {
			return true
		}
	}
	if m == MatchProbes && probes != nil {
		for _, p := range probes(d) {
			if p == listed {
				return true
			}
		}
	}
	return false
}

// Evade perturbs orig until matcher m no longer finds it by its listed
// hash (orig's own PDQ), white-box: it flips the least reliable bits in
// balanced pairs (one 1→0 for each 0→1, as every PDQ hash has 128 ones),
// as few as the matcher allows, and keeps PDQ's quality (a picture
// blurred below quality 50 has no PDQ key at all, a cheaper evasion this
// harness does not count).
func Evade(orig *Luma, m Matcher, probes func(*pdq.Detail) []pdq.Hash, bud Budget) AttackResult {
	h := pdq.NewHasher(pdq.Full)
	d0, ok := h.HashDetail(orig.Gray())
	if !ok || d0.Quality < pdq.MinQuality {
		return AttackResult{Queries: 1, Picture: orig, PSNR: math.Inf(1)}
	}
	listed := d0.Dihedral[pdq.Original]
	// Bits by margin, weakest first, split by value.
	var ones, zeros []int
	order := make([]int, 256)
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(d0.Margin(a), d0.Margin(b)) })
	for _, k := range order {
		if listed.Bit(k) {
			ones = append(ones, k)
		} else {
			zeros = append(zeros, k)
		}
	}
	pairs := 1
	if m == MatchPlain31 {
		pairs = 16
	}
	margin := float32(1)
	if m == MatchProbes {
		// Out of the probes' reach: past the margin of the original's
		// ninth least reliable bit.
		margin = 1.2*d0.Margin(order[8]) + 1
	}
	g := &goal{}
	set := func() {
		g.sign = [256]int8{}
		for i := 0; i < pairs && i < len(ones) && i < len(zeros); i++ {
			g.sign[ones[i]], g.sign[zeros[i]] = -1, 1
			g.margin[ones[i]], g.margin[zeros[i]] = margin, margin
		}
	}
	set()
	aim := func(d *pdq.Detail) bool { return d.Quality >= pdq.MinQuality && !Found(m, listed, d, probes) }
	esc := func(g *goal, _ *pdq.Detail) {
		if m == MatchPlain31 {
			pairs++
		} else {
			margin *= 1.5
		}
		set()
	}
	dist := func(d *pdq.Detail) int { return pdq.Distance(d.Dihedral[pdq.Original], listed) }
	return whiteBox(orig, g, aim, esc, dist, bud)
}

// BlackBox runs a random search that sees only hashes: each query adds a
// random smooth pattern of strength sigma (in coefficient units) to the
// current picture and keeps it when score does not fall, until aim holds.
// Patterns that would take the picture below the PSNR budget are not
// tried (and cost no query); sigma shrinks when they keep failing.
func BlackBox(orig *Luma, score func(*pdq.Detail) int, aim func(*pdq.Detail) bool, dist func(*pdq.Detail) int, sigma float32, bud Budget, rng *rand.Rand) AttackResult {
	bud = bud.withDefaults()
	h := pdq.NewHasher(pdq.Full)
	bs := newBasis(orig.W, orig.H)
	cur := orig.Clone()
	d, ok := h.HashDetail(cur.Gray())
	res := AttackResult{Queries: 1}
	if !ok {
		res.Picture, res.PSNR = cur, math.Inf(1)
		return res
	}
	best := score(&d)
	res.Distance = dist(&d)
	misses := 0
	for res.Queries < bud.Queries && !aim(&d) {
		var delta [256]float32
		for k := range delta {
			delta[k] = sigma * float32(rng.NormFloat64())
		}
		cand := cur.Clone()
		bs.add(cand, &delta)
		if PSNR(orig, cand) < bud.MinPSNR {
			if misses++; misses > 20 {
				sigma *= 0.7
				misses = 0
			}
			continue
		}
		cd, ok := h.HashDetail(cand.Gray())
		res.Queries++
		if !ok {
			continue
		}
		if s := score(&cd); s >= best {
			best, cur, d = s, cand, cd
			res.Distance = dist(&d)
		}
	}
	res.Reached = aim(&d)
	res.Picture = cur
	res.PSNR = PSNR(orig, cur)
	res.Success = res.Reached && res.PSNR >= bud.MinPSNR
	return res
}
