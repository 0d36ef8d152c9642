package eval

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/vigil-oss/vigil/hashing"
)

// MaxRichPictures bounds RichKeys: only keys are kept, about 4 KB a
// picture (64 client keys and their slice headers) and about 10 KB of
// resident memory with the collector's headroom (measured: 8.3 GB at
// 450,880 pictures, real ones included), so 1,500,000 pictures stay
// within about 15 GB.
const MaxRichPictures = 1_500_000

// RichPicture makes picture i of a seeded family of benign pictures in
// code: a background (a linear gradient in any direction, a radial one,
// or value noise of one to three octaves) under two to eight shapes, the first textured
// (rectangles, ellipses, triangles, rows of text-like strokes, noise
// patches, sine gratings), on a canvas of 48 to 208 pixels a side (PDQ reads 64×64). The
// same (seed, i) always gives the same bytes, whatever else is generated.
func RichPicture(seed uint64, i int) Picture {
	var key [32]byte
	binary.BigEndian.PutUint64(key[:], seed)
	binary.BigEndian.PutUint64(key[8:], uint64(i))
	copy(key[16:], "vigil rich pics")
	rng := rand.New(rand.NewChaCha8(key))
	w, h := 48+rng.IntN(161), 48+rng.IntN(161)
	c := &canvas{w: w, h: h, pix: make([]float64, 3*w*h), rng: rng}
	switch rng.IntN(4) {
	case 0:
		c.linear()
	case 1:
		c.radial()
	default:
		c.noise(c.all(), 1+rng.IntN(3))
	}
	for j := range 2 + rng.IntN(7) {
		kind := rng.IntN(6)
		if j == 0 {
			kind = 3 + rng.IntN(3) // one textured shape at least: flat pictures are below PDQ quality 50
		}
		switch kind {
		case 0:
			c.rect()
		case 1:
			c.ellipse()
		case 2:
			c.triangle()
		case 3:
			c.strokes()
		case 4:
			c.noise(c.box(), 1+rng.IntN(2))
		default:
			c.grating()
		}
	}
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.NoCompression} // cheap to write and to read
	if err := enc.Encode(&b, c.rgba()); err != nil {
		panic(err) // encoding an RGBA into memory does not fail
	}
	return Picture{Name: fmt.Sprintf("rich-%d-%d", seed, i), Data: b.Bytes()}
}

// RichKeys computes the keys of RichPicture(seed, i) for i in [0, n) on
// every core, keeping only the keys (each picture's bytes are dropped once
// keyed), in i order; pictures that fail to key are left out (none do).
func RichKeys(n int, seed uint64) ([]CorpusImage, error) {
	if n < 0 || n > MaxRichPictures {
		return nil, fmt.Errorf("rich pictures: %d outside [0, %d]", n, MaxRichPictures)
	}
	imgs := make([]CorpusImage, n)
	ok := make([]bool, n)
	next := make(chan int, 256)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			h := hashing.NewHasher(hashing.Options{Dihedral: true})
			for i := range next {
				imgs[i], ok[i] = KeysOf(h, RichPicture(seed, i))
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	out := imgs[:0]
	for i, img := range imgs {
		if ok[i] {
			out = append(out, img)
		}
	}
	return out, nil
}

// canvas is an RGB picture in [0, 255] floats being drawn.
type canvas struct {
	w, h int
	pix  []float64
	rng  *rand.Rand
}

type rect struct{ x0, y0, x1, y1 int }

func (c *canvas) all() rect { return rect{0, 0, c.w, c.h} }

// box is a random rectangle of at least an eighth of each side.
func (c *canvas) box() rect {
	bw, bh := max(4, c.w/8+c.rng.IntN(c.w*3/4)), max(4, c.h/8+c.rng.IntN(c.h*3/4))
	x0, y0 := c.rng.IntN(max(1, c.w-bw)), c.rng.IntN(max(1, c.h-bh))
	return rect{x0, y0, min(c.w, x0+bw), min(c.h, y0+bh)}
}

func (c *canvas) color() [3]float64 {
	return [3]float64{c.rng.Float64() * 255, c.rng.Float64() * 255, c.rng.Float64() * 255}
}

// pair returns two colours at least 96 apart in luma, so that what is
// drawn between them is not flat in grey, where PDQ reads it.
func (c *canvas) pair() (a, b [3]float64) {
	luma := func(x [3]float64) float64 { return 0.299*x[0] + 0.587*x[1] + 0.114*x[2] }
	a, b = c.color(), c.color()
	for math.Abs(luma(a)-luma(b)) < 96 {
		b = c.color()
	}
	return a, b
}

// blend mixes col into (x, y) with weight a in [0, 1].
func (c *canvas) blend(x, y int, col [3]float64, a float64) {
	p := c.pix[3*(y*c.w+x):]
	for k := range 3 {
		p[k] = p[k]*(1-a) + col[k]*a
	}
}

func (c *canvas) linear() {
	a, b := c.color(), c.color()
	th := c.rng.Float64() * 2 * math.Pi
	dx, dy := math.Cos(th), math.Sin(th)
	span := math.Abs(dx)*float64(c.w) + math.Abs(dy)*float64(c.h)
	for y := range c.h {
		for x := range c.w {
			t := (dx*float64(x)+dy*float64(y))/span + 0.5
			t = min(1, max(0, t))
			c.blend(x, y, a, 1)
			c.blend(x, y, b, t)
		}
	}
}

func (c *canvas) radial() {
	a, b := c.color(), c.color()
	cx, cy := c.rng.Float64()*float64(c.w), c.rng.Float64()*float64(c.h)
	r := (0.3 + c.rng.Float64()) * float64(max(c.w, c.h))
	for y := range c.h {
		for x := range c.w {
			t := min(1, math.Hypot(float64(x)-cx, float64(y)-cy)/r)
			c.blend(x, y, a, 1)
			c.blend(x, y, b, t)
		}
	}
}

// noise fills r with value noise: random values on a grid, bilinearly
// interpolated, octaves at halving cell sizes, between two colours.
func (c *canvas) noise(r rect, octaves int) {
	a, b := c.pair()
	cell := 4 + c.rng.IntN(40)
	alpha := 0.6 + 0.4*c.rng.Float64()
	rw, rh := r.x1-r.x0, r.y1-r.y0
	field := make([]float64, rw*rh)
	amp, total := 1.0, 0.0
	for range octaves {
		gw, gh := rw/cell+2, rh/cell+2
		grid := make([]float64, gw*gh)
		for i := range grid {
			grid[i] = c.rng.Float64()
		}
		for y := range rh {
			gy, fy := y/cell, float64(y%cell)/float64(cell)
			for x := range rw {
				gx, fx := x/cell, float64(x%cell)/float64(cell)
				v00, v10 := grid[gy*gw+gx], grid[gy*gw+gx+1]
				v01, v11 := grid[(gy+1)*gw+gx], grid[(gy+1)*gw+gx+1]
				top, bot := v00+(v10-v00)*fx, v01+(v11-v01)*fx
				field[y*rw+x] += amp * (top + (bot-top)*fy)
			}
		}
		total += amp
		amp /= 2
		cell = max(2, cell/2)
	}
	for y := range rh {
		for x := range rw {
			t := field[y*rw+x] / total
			col := [3]float64{a[0] + (b[0]-a[0])*t, a[1] + (b[1]-a[1])*t, a[2] + (b[2]-a[2])*t}
			c.blend(r.x0+x, r.y0+y, col, alpha)
		}
	}
}

func (c *canvas) rect() { c.fill(c.box(), c.color(), 1) }

func (c *canvas) fill(r rect, col [3]float64, a float64) {
	for y := r.y0; y < r.y1; y++ {
		for x := r.x0; x < r.x1; x++ {
			c.blend(x, y, col, a)
		}
	}
}

func (c *canvas) ellipse() {
	r, col := c.box(), c.color()
	cx, cy := float64(r.x0+r.x1)/2, float64(r.y0+r.y1)/2
	ax, ay := float64(r.x1-r.x0)/2, float64(r.y1-r.y0)/2
	for y := r.y0; y < r.y1; y++ {
		for x := r.x0; x < r.x1; x++ {
			dx, dy := (float64(x)+0.5-cx)/ax, (float64(y)+0.5-cy)/ay
			if dx*dx+dy*dy <= 1 {
				c.blend(x, y, col, 1)
			}
		}
	}
}

func (c *canvas) triangle() {
	col := c.color()
	var px, py [3]float64
	for k := range 3 {
		px[k], py[k] = c.rng.Float64()*float64(c.w), c.rng.Float64()*float64(c.h)
	}
	edge := func(a, b int, x, y float64) float64 {
		return (px[b]-px[a])*(y-py[a]) - (py[b]-py[a])*(x-px[a])
	}
	xa, xb := int(min(px[0], px[1], px[2])), min(c.w, int(max(px[0], px[1], px[2]))+1)
	ya, yb := int(min(py[0], py[1], py[2])), min(c.h, int(max(py[0], py[1], py[2]))+1)
	for y := ya; y < yb; y++ {
		for x := xa; x < xb; x++ {
			fx, fy := float64(x)+0.5, float64(y)+0.5
			e0, e1, e2 := edge(0, 1, fx, fy), edge(1, 2, fx, fy), edge(2, 0, fx, fy)
			if (e0 >= 0 && e1 >= 0 && e2 >= 0) || (e0 <= 0 && e1 <= 0 && e2 <= 0) {
				c.blend(x, y, col, 1)
			}
		}
	}
}

// strokes draws rows of short thick segments in a box, like lines of
// handwriting or print.
func (c *canvas) strokes() {
	r := c.box()
	bg, col := c.pair()
	c.fill(r, bg, 0.5+0.5*c.rng.Float64())
	size := 4 + c.rng.IntN(16)
	thick := 1 + c.rng.Float64()*float64(size)/4
	for y := r.y0 + size; y < r.y1; y += size + size/2 {
		for x := r.x0; x < r.x1-size; {
			for range 1 + c.rng.IntN(3) {
				x0, y0 := float64(x)+c.rng.Float64()*float64(size), float64(y)-c.rng.Float64()*float64(size)
				x1, y1 := float64(x)+c.rng.Float64()*float64(size), float64(y)-c.rng.Float64()*float64(size)
				c.segment(x0, y0, x1, y1, thick, col)
			}
			x += size + c.rng.IntN(size)
			if c.rng.IntN(6) == 0 {
				x += size // a space between words
			}
		}
	}
}

func (c *canvas) segment(x0, y0, x1, y1, thick float64, col [3]float64) {
	lo := func(a, b float64) int { return max(0, int(math.Floor(min(a, b)-thick))) }
	xa, ya := lo(x0, x1), lo(y0, y1)
	xb, yb := min(c.w, int(max(x0, x1)+thick)+1), min(c.h, int(max(y0, y1)+thick)+1)
	dx, dy := x1-x0, y1-y0
	l2 := dx*dx + dy*dy
	for y := ya; y < yb; y++ {
		for x := xa; x < xb; x++ {
			fx, fy := float64(x)+0.5, float64(y)+0.5
			t := 0.0
			if l2 > 0 {
				t = min(1, max(0, ((fx-x0)*dx+(fy-y0)*dy)/l2))
			}
			if math.Hypot(fx-x0-t*dx, fy-y0-t*dy) <= thick/2 {
				c.blend(x, y, col, 1)
			}
		}
	}
}

// grating is a sine wave at a random angle and frequency over a box.
func (c *canvas) grating() {
	r := c.box()
	bg, col := c.pair()
	c.fill(r, bg, 1)
	th := c.rng.Float64() * math.Pi
	f := (1 + c.rng.Float64()*12) * 2 * math.Pi / float64(max(c.w, c.h))
	ph := c.rng.Float64() * 2 * math.Pi
	dx, dy := math.Cos(th), math.Sin(th)
	for y := r.y0; y < r.y1; y++ {
		for x := r.x0; x < r.x1; x++ {
			a := 0.5 + 0.5*math.Sin(f*(dx*float64(x)+dy*float64(y))+ph)
			c.blend(x, y, col, a)
		}
	}
}

func (c *canvas) rgba() *image.RGBA {
	m := image.NewRGBA(image.Rect(0, 0, c.w, c.h))
	for i := range c.w * c.h {
		for k := range 3 {
			m.Pix[4*i+k] = uint8(min(255, max(0, math.Round(c.pix[3*i+k]))))
		}
		m.Pix[4*i+3] = 255
	}
	return m
}
