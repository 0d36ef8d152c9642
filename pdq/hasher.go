package pdq

import (
	"image"
	"math"
)

// Pipeline selects how an image reaches the PDQ core.
type Pipeline int

const (
	// Full hashes at full resolution, as the reference's core functions,
	// the Java port, pdqhash-python, python-threatexchange, HMA and vPDQ
	// do. Shared hash lists come from this pipeline.
	Full Pipeline = iota
	// CLI512 first shrinks an image with a side over 512 px to exactly
	// 512×512 by nearest neighbour (aspect not kept), as the reference's
	// command-line tool pdq-photo-hasher does.
	CLI512
)

// MinDimension is the smallest width or height the reference hashes;
// smaller images give an all-zero hash with quality 0.
const MinDimension = 5

// RowSource yields an image's luminance one row at a time. FillRow writes
// the Cols() values of row y (0 ≤ y < Rows()) into dst.
type RowSource interface {
	Rows() int
	Cols() int
	FillRow(y int, dst []float32)
}

// Hasher computes PDQ hashes, reusing its buffers between calls. It is not
// safe for concurrent use; give each goroutine its own (they are cheap:
// buffers grow to a few rows of the largest image seen).
type Hasher struct {
	pipeline Pipeline

	row, filtered, full []float32
	xmap                []int
	p3                  [64]float32
	pass2, pass4        colBox
	rowSel, colSel      [64]int
	a                   [64 * 64]float32
	t                   [16 * 64]float32
	b                   [16 * 16]float32
	rgb                 []byte
	src                 imageRows
	resize              nearest512
}

// NewHasher returns a Hasher for the given pipeline.
func NewHasher(p Pipeline) *Hasher { return &Hasher{pipeline: p} }

// HashSource returns the PDQ hash and quality of the luminance rows from
// src, through the hasher's pipeline. As in the reference's
// pdqHash256FromFloatLuma, an input of exactly 64×64 is used unfiltered.
func (h *Hasher) HashSource(src RowSource) (Hash, int) {
	q, ok := h.transform(h.resized(src), false)
	if !ok {
		return Hash{}, 0
	}
	return bitsAboveMedian(&h.b), q
}

// HashSourceDihedral returns the hashes of all eight dihedral variants of
// src, indexed by Dihedral, and the quality. As in the reference's
// pdqDihedralHash256esFromFloatLuma, the filter always runs, so for a
// degenerate 64×64 input the Original hash can differ from HashSource.
func (h *Hasher) HashSourceDihedral(src RowSource) ([8]Hash, int) {
	q, ok := h.transform(h.resized(src), true)
	if !ok {
		return [8]Hash{}, 0
	}
	return dihedralBits(&h.b), q
}

// HashLuma hashes a row-major float32 luminance buffer of rows×cols.
func (h *Hasher) HashLuma(luma []float32, rows, cols int) (Hash, int) {
	return h.HashSource(lumaBuffer{luma, rows, cols})
}

// HashLumaDihedral is HashSourceDihedral for a luminance buffer.
func (h *Hasher) HashLumaDihedral(luma []float32, rows, cols int) ([8]Hash, int) {
	return h.HashSourceDihedral(lumaBuffer{luma, rows, cols})
}

type lumaBuffer struct {
	luma       []float32
	rows, cols int
}

func (l lumaBuffer) Rows() int { return l.rows }
func (l lumaBuffer) Cols() int { return l.cols }
func (l lumaBuffer) FillRow(y int, dst []float32) {
	copy(dst, l.luma[y*l.cols:(y+1)*l.cols])
}

// resized applies the CLI512 nearest-neighbour pre-resize when the
// pipeline asks for it and the image is over 512 px on a side.
func (h *Hasher) resized(src RowSource) RowSource {
	rows, cols := src.Rows(), src.Cols()
	if h.pipeline != CLI512 || (rows <= 512 && cols <= 512) {
		return src
	}
	if cap(h.xmap) < 512 {
		h.xmap = make([]int, 512)
	}
	for x := range 512 {
		h.xmap[x] = x * cols / 512
	}
	h.full = grow(h.full, cols)
	h.resize = nearest512{src: src, h: h}
	return &h.resize
}

type nearest512 struct {
	src RowSource
	h   *Hasher
}

func (n *nearest512) Rows() int { return 512 }
func (n *nearest512) Cols() int { return 512 }
func (n *nearest512) FillRow(y int, dst []float32) {
	n.src.FillRow(y*n.src.Rows()/512, n.h.full)
	for x, sx := range n.h.xmap[:512] {
		dst[x] = n.h.full[sx]
	}
}

// transform runs luminance → Jarosz filter → 64×64 decimation → quality →
// DCT, leaving the 16×16 coefficients in h.b. ok is false for images under
// MinDimension.
func (h *Hasher) transform(src RowSource, alwaysFilter bool) (quality_ int, ok bool) {
	rows, cols := src.Rows(), src.Cols()
	if rows < MinDimension || cols < MinDimension {
		return 0, false
	}
	if rows == 64 && cols == 64 && !alwaysFilter {
		for y := range 64 {
			src.FillRow(y, h.a[y*64:(y+1)*64])
		}
	} else {
		h.filterDecimate(src, rows, cols)
	}
	q := quality(&h.a)
	dct64To16(&h.a, &h.t, &h.b)
	return q, true
}

// filterDecimate streams rows through the four box passes and keeps the
// 64×64 point samples (i+0.5)·n/64 in h.a.
func (h *Hasher) filterDecimate(src RowSource, rows, cols int) {
	for i := range 64 {
		h.rowSel[i] = int(((float64(i) + 0.5) * float64(rows)) / 64)
		h.colSel[i] = int(((float64(i) + 0.5) * float64(cols)) / 64)
	}
	h.filterSample(src, rows, cols, h.rowSel[:], h.colSel[:], h.a[:], h.p3[:])
}

// filterSample streams rows through the four box passes of the Jarosz
// filter (windows of the source's size) and keeps the point samples at
// rows rowSel and columns colSel (non-decreasing) in dst, row-major, with
// p3 (len(colSel) values) as scratch.
func (h *Hasher) filterSample(src RowSource, rows, cols int, rowSel, colSel []int, dst, p3 []float32) {
	wRow := jaroszWindow(cols) // box width along a row
	wCol := jaroszWindow(rows) // box width along a column
	k := len(colSel)
	h.row = grow(h.row, cols)
	h.filtered = grow(h.filtered, cols)
	h.pass2.reset(cols, rows, wCol, nil)
	h.pass4.reset(k, rows, wCol, rowSel)
	next := 0 // next row of dst to fill
	keep := func(o int, out []float32, ok bool) {
		for ok && next < len(rowSel) && rowSel[next] == o {
			copy(dst[next*k:(next+1)*k], out)
			next++
		}
	}
	stage3 := func(_ int, out []float32, ok bool) {
		if ok {
			boxRowSampled(out, wRow, colSel, p3)
			keep(h.pass4.push(p3))
		}
	}
	for y := range rows {
		src.FillRow(y, h.row)
		boxRow(h.row, h.filtered, wRow)
		stage3(h.pass2.push(h.filtered))
	}
	for k := range h.pass2.tail() {
		stage3(h.pass2.pop(k))
	}
	for k := range h.pass4.tail() {
		keep(h.pass4.pop(k))
	}
}

// Filtered returns img as PDQ's Full pipeline sees it before it keeps 64
// of its points a side: the luminance after the Jarosz filter of img's own
// size, sampled at side×side points, in 8 bits. side is 64 or 128. At 64
// the points are exactly PDQ's ((i+½)·n/64), and a 64×64 image is hashed
// as it is; at 128 they are j·n/128, whose odd ones (2i+1) are PDQ's, and
// a 128×128 image has a filter window of one. Either way the PDQ of the
// result is img's up to rounding to 8 bits: a small picture that keeps its
// hash (phm/client's derivative). ok is false for images under
// MinDimension or another side.
func (h *Hasher) Filtered(img image.Image, side int) (*image.Gray, bool) {
	src := h.resized(h.imageSource(img))
	rows, cols := src.Rows(), src.Cols()
	if rows < MinDimension || cols < MinDimension || (side != 64 && side != 128) {
		return nil, false
	}
	off := 0.0
	if side == 64 {
		off = 0.5
	}
	rowSel, colSel := make([]int, side), make([]int, side)
	for j := range side {
		rowSel[j] = int(((float64(j) + off) * float64(rows)) / float64(side))
		colSel[j] = int(((float64(j) + off) * float64(cols)) / float64(side))
	}
	buf := make([]float32, side*side)
	h.filterSample(src, rows, cols, rowSel, colSel, buf, make([]float32, side))
	g := image.NewGray(image.Rect(0, 0, side, side))
	for i, v := range buf {
		g.Pix[i] = uint8(min(255, max(0, math.Round(float64(v)))))
	}
	return g, true
}

// HashRGB24 hashes a packed 8-bit RGB frame of width×height pixels
// (3·width bytes per row) with the RGB luminance formula throughout, as
// vPDQ does for decoded video frames (it has no grey path).
func (h *Hasher) HashRGB24(pix []byte, width, height int) (Hash, int) {
	return h.HashSource(rgb24{pix, width, height})
}

type rgb24 struct {
	pix           []byte
	width, height int
}

func (f rgb24) Rows() int { return f.height }
func (f rgb24) Cols() int { return f.width }
func (f rgb24) FillRow(y int, dst []float32) {
	row := f.pix[3*f.width*y : 3*f.width*(y+1)]
	for x := range dst {
		p := row[3*x : 3*x+3 : 3*x+3]
		dst[x] = lumaTable[0][p[0]] + lumaTable[1][p[1]] + lumaTable[2][p[2]]
	}
}
