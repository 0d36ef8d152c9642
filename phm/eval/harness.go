package eval

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"slices"

	"golang.org/x/image/draw"

	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/second"
)

// MaxAttackSide is the longest side an attacked picture is scaled to:
// PDQ reads a 64×64 buffer, so larger pictures only cost time.
const MaxAttackSide = 256

// Fit scales img down so that its longer side is at most MaxAttackSide.
func Fit(img image.Image) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= MaxAttackSide && h <= MaxAttackSide {
		return img
	}
	s := float64(MaxAttackSide) / float64(max(w, h))
	dst := image.NewRGBA(image.Rect(0, 0, max(1, int(float64(w)*s)), max(1, int(float64(h)*s))))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, draw.Src, nil)
	return dst
}

// Derivative makes the payload picture a voucher would carry for a
// picture (phm/client.Derivative in the real flow).
type Derivative func(image.Image) ([]byte, error)

// CheckResult is the service's second check on one derivative.
type CheckResult struct {
	// Confirmed: the derivative's PDQ (quality ≥ 50) is within 31 of the
	// listed hash in some orientation, and so is that of the derivative
	// re-encoded by the service (phm.Recoded): what phm/server.Check
	// requires.
	Confirmed bool
	// Plain: the first half alone, the check before the re-encode.
	Plain bool
	// Distance and Recoded are the two distances seen.
	Distance, Recoded int
	// Keyed is the distance of the derivative's keyed hash (phm/second,
	// nearest orientation) to the listed picture's under the service's
	// key; -1 when no key was given. KeyedOK: Plain and Keyed within
	// second.Threshold, the independent second check without the
	// re-encode; All: Confirmed and KeyedOK.
	Keyed   int
	KeyedOK bool
	All     bool
}

// ListedPicture is a listed picture as the service holds it: its PDQ, and its
// keyed hash when the service has the picture (HasKeyed).
type ListedPicture struct {
	PDQ      pdq.Hash
	Keyed    second.Hash
	HasKeyed bool
}

// SecondCheck runs the service's second check (phm/server.Check) on the
// derivative of pic against listed.
func SecondCheck(pic *Luma, listed pdq.Hash, deriv Derivative) (CheckResult, error) {
	return SecondCheckKeyed(pic, ListedPicture{PDQ: listed}, nil, deriv)
}

// SecondCheckKeyed is SecondCheck with the keyed hash under key too (key
// nil or listed without a keyed hash: not checked, Keyed −1).
func SecondCheckKeyed(pic *Luma, l ListedPicture, key *second.Key, deriv Derivative) (CheckResult, error) {
	listed := l.PDQ
	b, err := deriv(pic.Gray())
	if err != nil {
		return CheckResult{}, err
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return CheckResult{}, fmt.Errorf("derivative: %w", err)
	}
	h := pdq.NewHasher(pdq.Full)
	dih, q := h.HashDihedral(img)
	re, err := phm.Recoded(h, img)
	if err != nil {
		return CheckResult{}, err
	}
	r := CheckResult{Distance: phm.NearestDistance(dih, listed), Recoded: phm.NearestDistance(re, listed)}
	r.Plain = q >= pdq.MinQuality && r.Distance <= pdq.MatchThreshold
	r.Confirmed = r.Plain && r.Recoded <= pdq.MatchThreshold
	r.Keyed = -1
	if key != nil && l.HasKeyed {
		dk, ok := second.NewHasher().Dihedral(key, img)
		if ok {
			r.Keyed = second.Nearest(dk, l.Keyed)
			r.KeyedOK = r.Plain && r.Keyed <= second.Threshold
			r.All = r.Confirmed && r.KeyedOK
		}
	}
	return r, nil
}

// Summary describes one attack over a set of pictures.
type Summary struct {
	Attack   string  `json:"attack"`
	Pictures int     `json:"pictures"`
	Success  int     `json:"success"`           // aim met within the query and PSNR budgets
	Reached  int     `json:"reached"`           // aim met at all
	Rate     float64 `json:"rate"`              // Success / Pictures
	Low      float64 `json:"rate_low"`          // 95 % Wilson interval
	High     float64 `json:"rate_high"`         //
	Queries  int     `json:"queries_median"`    // over successes
	PSNR     float64 `json:"psnr_median_db"`    // over successes
	Distance float64 `json:"distance_median"`   // final distance, over all pictures
	Second   *int    `json:"second_check_pass"` // collisions only: successes the second check still confirms
	// SecondPlain: of those successes, how many the derivative's PDQ alone
	// (without the service's re-encode) would confirm.
	SecondPlain *int `json:"second_check_plain_pass,omitempty"`
	// Keyed: of those successes, how many the derivative's PDQ and the
	// keyed hash (without the re-encode) confirm; KeyedAll: how many pass
	// all three (PDQ, re-encode, keyed). Nil without a key.
	Keyed    *int `json:"second_check_keyed_pass,omitempty"`
	KeyedAll *int `json:"second_check_all_pass,omitempty"`
	// The same four counts over every collision that reached its aim,
	// below the PSNR budget too (visibly changed pictures).
	ReachedPlain    *int `json:"reached_plain_pass,omitempty"`
	ReachedSecond   *int `json:"reached_second_check_pass,omitempty"`
	ReachedKeyed    *int `json:"reached_keyed_pass,omitempty"`
	ReachedKeyedAll *int `json:"reached_all_pass,omitempty"`
	// AtBudget counts successes within each query budget (black box).
	AtBudget map[int]int `json:"success_within_queries,omitempty"`
	// Copies counts the reached collisions that are copies of the target
	// (see Collision.TargetCopy), and CopiesKeyed and CopiesKeyedAll how
	// many of them pass PDQ + keyed and all three; they are among the
	// Reached* counts above, and an attack on the hash is what is left.
	Copies         int  `json:"reached_target_copies"`
	CopiesKeyed    *int `json:"reached_target_copies_keyed_pass,omitempty"`
	CopiesKeyedAll *int `json:"reached_target_copies_all_pass,omitempty"`
	// Collisions lists every collision attempted (collision rows only).
	Collisions []Collision `json:"collisions,omitempty"`
}

// Collision is one crafted collision and what the second check made of
// its derivative.
type Collision struct {
	// Carrier and Target index the attacked pictures: the picture the
	// collision was made from and the one whose PDQ it aims at.
	Carrier int  `json:"carrier"`
	Target  int  `json:"target"`
	Reached bool `json:"reached"`
	Success bool `json:"success"`
	Queries int  `json:"queries"`
	// PSNR is against the carrier; PSNRTarget against the target picture
	// in its nearest orientation, scaled to the collision's size
	// (bilinear), both in dB (PSNRNearest).
	PSNR       float64 `json:"psnr_carrier_db"`
	PSNRTarget float64 `json:"psnr_target_db"`
	// TargetCopy: the collision is closer to the target than to its
	// carrier (PSNRTarget ≥ PSNR). Such a picture is a copy of the target,
	// which any second check is right to confirm, not an attack on the
	// hash: it is counted apart.
	TargetCopy bool `json:"target_copy"`
	// PDQ, Recoded and Keyed are the second check's distances on the
	// derivative (set when Reached; Keyed −1 without a key), and the four
	// verdicts as in CheckResult.
	PDQ       int  `json:"pdq_distance"`
	Recoded   int  `json:"recoded_distance"`
	Keyed     int  `json:"keyed_distance"`
	Plain     bool `json:"plain_pass"`
	Confirmed bool `json:"second_check_pass"`
	KeyedOK   bool `json:"keyed_pass"`
	All       bool `json:"all_pass"`
}

// PSNRNearest is the highest PSNR of b against a in any of a's eight
// orientations, each scaled to b's size (bilinear) when the sizes differ:
// how close b is to a, a mirrored or rotated copy counting as close.
func PSNRNearest(a, b *Luma) float64 {
	best := math.Inf(-1)
	for d := range 8 {
		o := a.Oriented(d)
		if o.W != b.W || o.H != b.H {
			g := image.NewGray(image.Rect(0, 0, b.W, b.H))
			draw.BiLinear.Scale(g, g.Bounds(), o.Gray(), image.Rect(0, 0, o.W, o.H), draw.Src, nil)
			o = LumaOf(g)
		}
		best = max(best, PSNR(o, b))
	}
	return best
}

// Oriented returns l transformed by dihedral d: bit 0 mirrors left–right,
// bit 1 top–bottom, bit 2 transposes (last).
func (l *Luma) Oriented(d int) *Luma {
	out := &Luma{W: l.W, H: l.H, Pix: make([]float32, len(l.Pix))}
	if d&4 != 0 {
		out.W, out.H = l.H, l.W
	}
	for y := range l.H {
		for x := range l.W {
			sx, sy := x, y
			if d&1 != 0 {
				sx = l.W - 1 - x
			}
			if d&2 != 0 {
				sy = l.H - 1 - y
			}
			v := l.Pix[sy*l.W+sx]
			if d&4 != 0 {
				out.Pix[x*out.W+y] = v
			} else {
				out.Pix[y*out.W+x] = v
			}
		}
	}
	return out
}

func summarize(name string, rs []AttackResult, budgets []int) Summary {
	s := Summary{Attack: name, Pictures: len(rs)}
	var qs []int
	var ps, ds []float64
	for _, r := range rs {
		ds = append(ds, float64(r.Distance))
		if r.Reached {
			s.Reached++
		}
		if r.Success {
			s.Success++
			qs = append(qs, r.Queries)
			ps = append(ps, r.PSNR)
		}
	}
	s.Low, s.High = Wilson(s.Success, s.Pictures)
	if s.Pictures > 0 {
		s.Rate = float64(s.Success) / float64(s.Pictures)
	}
	if len(qs) > 0 {
		slices.Sort(qs)
		s.Queries = qs[len(qs)/2]
		s.PSNR = medianF(ps)
	}
	s.Distance = medianF(ds)
	if len(budgets) > 0 {
		s.AtBudget = map[int]int{}
		for _, b := range budgets {
			for _, r := range rs {
				if r.Success && r.Queries <= b {
					s.AtBudget[b]++
				}
			}
		}
	}
	return s
}

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

// AttackReport is the outcome of RunAttacks.
type AttackReport struct {
	Budget Budget `json:"budget"`
	// Pictures counts those of PDQ quality ≥ 50, the ones attacked.
	Pictures int `json:"pictures"`
	// SecondCheckSelf counts the unmodified pictures whose own derivative
	// the second check confirms against their own PDQ: its recall on
	// true matches, the baseline for the collision rows.
	SecondCheckSelf int `json:"second_check_self"`
	// SecondCheckSelfPlain counts those the derivative's PDQ alone, without
	// the service's re-encode, would confirm.
	SecondCheckSelfPlain int `json:"second_check_self_plain"`
	// SecondCheckSelfKeyed and SecondCheckSelfAll: those the keyed hash
	// with the PDQ (no re-encode), and all three, confirm (with a key).
	SecondCheckSelfKeyed int       `json:"second_check_self_keyed"`
	SecondCheckSelfAll   int       `json:"second_check_self_all"`
	Attacks              []Summary `json:"attacks"`
}

// RunAttacks runs every harness of §6 on pics (benign pictures, scaled
// with Fit): white-box evasion of each matcher, black-box evasion of the
// exact channel and of plaintext ≤ 31, and white-box and black-box
// collisions toward the next picture's PDQ, each collision then put to the
// second check on its derivative. probes is phm/client.Probes with the
// client's parameters; deriv is phm/client.Derivative. seed makes the
// black-box runs reproducible.
//
// key is the service's keyed second hash (nil: not measured); own is the
// key of an attacker who knows the algorithm but not key, for the
// transfer attack (nil with key: one derived from seed).
func RunAttacks(pics []*Luma, probes func(*pdq.Detail) []pdq.Hash, deriv Derivative, bud Budget, seed uint64, key *second.Key) (*AttackReport, error) {
	bud = bud.withDefaults()
	rep := &AttackReport{Budget: bud}
	h := pdq.NewHasher(pdq.Full)
	var usable []*Luma
	var hashes []pdq.Hash
	var dihs [][8]pdq.Hash
	for _, p := range pics {
		if d, ok := h.HashDetail(p.Gray()); ok && d.Quality >= pdq.MinQuality {
			usable = append(usable, p)
			hashes = append(hashes, d.Dihedral[pdq.Original])
			dihs = append(dihs, d.Dihedral)
		}
	}
	if len(usable) < 2 {
		return nil, fmt.Errorf("attacks need at least 2 pictures of PDQ quality ≥ %d, have %d", pdq.MinQuality, len(usable))
	}
	rep.Pictures = len(usable)
	listed := make([]ListedPicture, len(usable))
	sh := second.NewHasher()
	for i, p := range usable {
		listed[i].PDQ = hashes[i]
		if key != nil {
			listed[i].Keyed, listed[i].HasKeyed = sh.Hash(key, p.Gray())
		}
		c, err := SecondCheckKeyed(p, listed[i], key, deriv)
		if err != nil {
			return nil, err
		}
		if c.Confirmed {
			rep.SecondCheckSelf++
		}
		if c.Plain {
			rep.SecondCheckSelfPlain++
		}
		if c.KeyedOK {
			rep.SecondCheckSelfKeyed++
		}
		if c.All {
			rep.SecondCheckSelfAll++
		}
	}
	budgets := []int{10, 100, bud.Queries}
	for _, m := range []Matcher{MatchExact, MatchProbes, MatchPlain31} {
		var rs []AttackResult
		for _, p := range usable {
			rs = append(rs, Evade(p, m, probes, bud))
		}
		rep.Attacks = append(rep.Attacks, summarize("evade "+m.String()+" (white-box)", rs, nil))
	}
	rng := Seed(seed)
	for _, m := range []Matcher{MatchExact, MatchPlain31} {
		var rs []AttackResult
		for i, p := range usable {
			listed := hashes[i]
			far := func(d *pdq.Detail) int {
				best := 256
				for _, v := range d.Dihedral {
					best = min(best, pdq.Distance(v, listed))
				}
				return best
			}
			aim := func(d *pdq.Detail) bool { return d.Quality >= pdq.MinQuality && !Found(m, listed, d, probes) }
			dist := func(d *pdq.Detail) int { return pdq.Distance(d.Dihedral[pdq.Original], listed) }
			rs = append(rs, BlackBox(p, far, aim, dist, 4, bud, rng))
		}
		rep.Attacks = append(rep.Attacks, summarize("evade "+m.String()+" (black-box)", rs, budgets))
	}
	collide := func(name string, attack func(p *Luma, target pdq.Hash, tp *Luma) AttackResult, bb bool) error {
		var rs []AttackResult
		var n [8]int // in budget: pass, plain, keyed, all; reached: the same
		var cs []Collision
		var copies [3]int // reached target copies: all, keyed, all three
		for i, p := range usable {
			// The target is another content: the next picture whose PDQ
			// is past the matcher's distance from this one's in every
			// orientation (a mirrored copy is the same content).
			ti, found := i, false
			for j := 1; j < len(usable); j++ {
				if t := hashes[(i+j)%len(usable)]; phm.NearestDistance(dihs[i], t) > 2*pdq.MatchThreshold {
					ti, found = (i+j)%len(usable), true
					break
				}
			}
			if !found {
				continue
			}
			r := attack(p, hashes[ti], usable[ti])
			col := Collision{Carrier: i, Target: ti, Reached: r.Reached, Success: r.Success, Queries: r.Queries,
				PSNR: PSNR(p, r.Picture), PSNRTarget: PSNRNearest(usable[ti], r.Picture), Keyed: -1}
			col.TargetCopy = col.PSNRTarget >= col.PSNR
			if r.Reached {
				c, err := SecondCheckKeyed(r.Picture, listed[ti], key, deriv)
				if err != nil {
					return err
				}
				col.PDQ, col.Recoded, col.Keyed = c.Distance, c.Recoded, c.Keyed
				col.Plain, col.Confirmed, col.KeyedOK, col.All = c.Plain, c.Confirmed, c.KeyedOK, c.All
				for k, ok := range []bool{c.Confirmed, c.Plain, c.KeyedOK, c.All} {
					if ok {
						n[4+k]++
						if r.Success {
							n[k]++
						}
					}
				}
				if col.TargetCopy {
					copies[0]++
					if c.KeyedOK {
						copies[1]++
					}
					if c.All {
						copies[2]++
					}
				}
			}
			cs = append(cs, col)
			rs = append(rs, r)
		}
		var b []int
		if bb {
			b = budgets
		}
		s := summarize(name, rs, b)
		s.Second, s.SecondPlain = &n[0], &n[1]
		s.ReachedSecond, s.ReachedPlain = &n[4], &n[5]
		if key != nil {
			s.Keyed, s.KeyedAll = &n[2], &n[3]
			s.ReachedKeyed, s.ReachedKeyedAll = &n[6], &n[7]
			s.CopiesKeyed, s.CopiesKeyedAll = &copies[1], &copies[2]
		}
		s.Copies, s.Collisions = copies[0], cs
		rep.Attacks = append(rep.Attacks, s)
		return nil
	}
	for _, margin := range []float32{1, 20} {
		name := fmt.Sprintf("collide (white-box, margin %g)", margin)
		if err := collide(name, func(p *Luma, t pdq.Hash, _ *Luma) AttackResult { return Collide(p, t, margin, bud) }, false); err != nil {
			return nil, err
		}
	}
	// The adaptive attacker of the re-encode: quality 50 is public, so it
	// raises the collision's margin until the service's own re-encode of
	// the derivative keeps the PDQ within 31 (the re-encode inside its
	// loop), within the same query budget.
	err := collide("collide (white-box, re-encode in the loop)", func(p *Luma, t pdq.Hash, _ *Luma) AttackResult {
		var r AttackResult
		spent := 0
		for _, m := range []float32{1, 10, 20, 30, 45, 60, 80} {
			if spent >= bud.Queries {
				break
			}
			r = Collide(p, t, m, Budget{Queries: bud.Queries - spent, MinPSNR: bud.MinPSNR})
			spent += r.Queries
			if !r.Reached {
				continue
			}
			if c, err := SecondCheck(r.Picture, t, deriv); err == nil && c.Confirmed {
				break
			}
			r.Reached, r.Success = false, false
		}
		r.Queries = spent
		return r
	}, false)
	if err != nil {
		return nil, err
	}
	if key != nil {
		var s [32]byte
		binary.LittleEndian.PutUint64(s[:], seed)
		copy(s[8:], "attacker's own key")
		own, err := second.NewKey(s[:])
		if err != nil {
			return nil, err
		}
		if err := collide("collide (keyed, attacker's own key: transfer)", func(p *Luma, t pdq.Hash, tp *Luma) AttackResult {
			return KeyedCollide(p, t, tp, own, bud)
		}, false); err != nil {
			return nil, err
		}
		if err := collide("collide (keyed, band copied from the target picture)", func(p *Luma, t pdq.Hash, tp *Luma) AttackResult {
			r := Collide(p, t, 1, bud)
			pic := CopyBand(r.Picture, tp, 3)
			r2 := Collide(pic, t, 1, bud)
			res := AttackResult{Queries: r.Queries + r2.Queries + 3, Picture: r2.Picture, Distance: r2.Distance, Reached: r2.Reached}
			res.PSNR = PSNR(p, r2.Picture)
			res.Success = res.Reached && res.PSNR >= bud.MinPSNR
			return res
		}, false); err != nil {
			return nil, err
		}
	}
	err = collide("collide (black-box)", func(p *Luma, t pdq.Hash, _ *Luma) AttackResult {
		near := func(d *pdq.Detail) int { return -pdq.Distance(d.Dihedral[pdq.Original], t) }
		aim := func(d *pdq.Detail) bool { return d.Quality >= pdq.MinQuality && d.Dihedral[pdq.Original] == t }
		dist := func(d *pdq.Detail) int { return pdq.Distance(d.Dihedral[pdq.Original], t) }
		return BlackBox(p, near, aim, dist, 8, bud, rng)
	}, true)
	if err != nil {
		return nil, err
	}
	return rep, nil
}
