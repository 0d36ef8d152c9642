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
	"math"
	"slices"

	"github.com/vigil-oss/vigil/pdq"
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
