package eval

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"slices"

	"golang.org/x/image/draw"

	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/second"
)

// KeyedEdit is how one edit of true matches fares in the second check.
type KeyedEdit struct {
	Edit     string `json:"edit"`
	Pictures int    `json:"pictures"`
	// Plain, Recoded, Keyed, All: derivatives of the edited picture the
	// derivative's PDQ ≤ 31 confirms; with the service's re-encode; with
	// the keyed hash (and the PDQ, no re-encode); with all three.
	Plain   int `json:"plain"`
	Recoded int `json:"recoded"`
	Keyed   int `json:"keyed"`
	All     int `json:"all"`
	// KeyedMedian and KeyedMax are the keyed distances seen, KeyedP90 and
	// KeyedP99 their 90th and 99th percentiles, and Over[k] how many are
	// over KeyedReport.Thresholds[k]: what a threshold would cost, to
	// choose one on benign pictures before any attack is run.
	KeyedMedian int   `json:"keyed_distance_median"`
	KeyedMax    int   `json:"keyed_distance_max"`
	KeyedP90    int   `json:"keyed_distance_p90"`
	KeyedP99    int   `json:"keyed_distance_p99"`
	Over        []int `json:"over_thresholds"`
}

// benignThresholds are the thresholds KeyedBenign reports counts at:
// Bits/32 apart, from Bits/8 to 3·Bits/8.
func benignThresholds() []int {
	var out []int
	for t := second.Bits / 8; t <= 3*second.Bits/8; t += second.Bits / 32 {
		out = append(out, t)
	}
	return out
}

// KeyedReport is the keyed hash on benign pictures: true matches through
// the recall edits, and unrelated pairs.
type KeyedReport struct {
	Threshold int         `json:"threshold"`
	Edits     []KeyedEdit `json:"edits"`
	// Unrelated counts pairs of pictures whose PDQs are more than 62 apart
	// in every orientation (distinct contents); Within of them have keyed hashes within
	// Threshold (nearest orientation): natural false matches of the keyed
	// hash alone, with a 95% Wilson interval.
	Unrelated int     `json:"unrelated_pairs"`
	Within    int     `json:"unrelated_within"`
	Low       float64 `json:"unrelated_rate_low"`
	High      float64 `json:"unrelated_rate_high"`
	// Thresholds are the distances the counts below and each edit's Over
	// are at; WithinAt[k] counts the unrelated pairs within Thresholds[k].
	Thresholds []int `json:"thresholds"`
	WithinAt   []int `json:"unrelated_within_thresholds"`
}

// keyedEdits are the chat's edits of a true match: the recall suite's
// JPEG qualities, half scale and a slight blur (down to 70% and back).
var keyedEdits = []struct {
	name string
	fn   func(image.Image) (image.Image, error)
}{
	{"none", func(m image.Image) (image.Image, error) { return m, nil }},
	{"jpeg90", func(m image.Image) (image.Image, error) { return jpegRoundTrip(m, 90) }},
	{"jpeg50", func(m image.Image) (image.Image, error) { return jpegRoundTrip(m, 50) }},
	{"jpeg30", func(m image.Image) (image.Image, error) { return jpegRoundTrip(m, 30) }},
	{"scale½", func(m image.Image) (image.Image, error) { return scaled(m, 0.5), nil }},
	{"blur (70% and back)", func(m image.Image) (image.Image, error) {
		b := m.Bounds()
		s := scaled(m, 0.7)
		d := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.ApproxBiLinear.Scale(d, d.Bounds(), s, s.Bounds(), draw.Src, nil)
		return d, nil
	}},
}

func jpegRoundTrip(m image.Image, q int) (image.Image, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: q}); err != nil {
		return nil, fmt.Errorf("jpeg: %w", err)
	}
	return jpeg.Decode(&buf)
}

func scaled(m image.Image, f float64) image.Image {
	b := m.Bounds()
	d := image.NewGray(image.Rect(0, 0, max(1, int(float64(b.Dx())*f)), max(1, int(float64(b.Dy())*f))))
	draw.ApproxBiLinear.Scale(d, d.Bounds(), m, b, draw.Src, nil)
	return d
}

// KeyedBenign measures the keyed hash under key on pics (benign, PDQ
// quality ≥ 50, one per content): each edit's derivatives against the
// picture's own listed hashes, and every unrelated pair.
func KeyedBenign(pics []*Luma, key *second.Key, deriv Derivative) (*KeyedReport, error) {
	rep := &KeyedReport{Threshold: second.Threshold, Thresholds: benignThresholds()}
	rep.WithinAt = make([]int, len(rep.Thresholds))
	sh := second.NewHasher()
	ph := pdq.NewHasher(pdq.Full)
	listed := make([]ListedPicture, len(pics))
	dih := make([][8]second.Hash, len(pics))
	pdqDih := make([][8]pdq.Hash, len(pics))
	for i, p := range pics {
		g := p.Gray()
		pdqDih[i], _ = ph.HashDihedral(g)
		listed[i].PDQ = pdqDih[i][pdq.Original]
		listed[i].Keyed, listed[i].HasKeyed = sh.Hash(key, g)
		dih[i], _ = sh.Dihedral(key, g)
	}
	for _, e := range keyedEdits {
		ke := KeyedEdit{Edit: e.name}
		var ds []float64
		for i, p := range pics {
			img, err := e.fn(p.Gray())
			if err != nil {
				return nil, err
			}
			c, err := SecondCheckKeyed(LumaOf(img), listed[i], key, deriv)
			if err != nil {
				continue // no derivative fits: not a voucher at all
			}
			ke.Pictures++
			for k, ok := range []bool{c.Plain, c.Confirmed, c.KeyedOK, c.All} {
				if ok {
					*[]*int{&ke.Plain, &ke.Recoded, &ke.Keyed, &ke.All}[k]++
				}
			}
			ds = append(ds, float64(c.Keyed))
			ke.KeyedMax = max(ke.KeyedMax, c.Keyed)
		}
		ke.Over = make([]int, len(rep.Thresholds))
		if len(ds) > 0 {
			ke.KeyedMedian = int(medianF(ds))
			slices.Sort(ds)
			ke.KeyedP90, ke.KeyedP99 = int(ds[len(ds)*90/100]), int(ds[len(ds)*99/100])
			for k, t := range rep.Thresholds {
				for _, d := range ds {
					if d > float64(t) {
						ke.Over[k]++
					}
				}
			}
		}
		rep.Edits = append(rep.Edits, ke)
	}
	for i := range pics {
		for j := i + 1; j < len(pics); j++ {
			// Distinct contents in every orientation, as the keyed hash
			// is compared in its nearest one.
			if phm.NearestDistance(pdqDih[j], listed[i].PDQ) <= 2*pdq.MatchThreshold {
				continue
			}
			rep.Unrelated++
			d := second.Nearest(dih[j], listed[i].Keyed)
			if d <= second.Threshold {
				rep.Within++
			}
			for k, t := range rep.Thresholds {
				if d <= t {
					rep.WithinAt[k]++
				}
			}
		}
	}
	rep.Low, rep.High = Wilson(rep.Within, rep.Unrelated)
	return rep, nil
}
