package pdq

// The Jarosz tent filter is two passes of a box filter along each axis, in
// the order rows, columns, rows, columns. The reference's box filter keeps
// one float32 running sum per row or column for the whole line, and its
// rounding drift is part of the reference output, so every function here
// performs exactly the same additions, subtractions and divisions in the
// same order. What differs is only the memory access pattern: column passes
// run on whole rows at a time (one running sum per column), streamed as rows
// arrive, so no full-size float buffer is ever allocated and every access is
// sequential; and the last two passes compute only the outputs that the
// 64×64 decimation samples.

// jaroszWindow is ceil(n/128): the box width that takes n samples towards 64.
func jaroszWindow(n int) int { return (n + 127) / 128 }

// boxRow filters one line in place of out with a box of width w and
// shrinking edges. It is the reference's box1DFloat for a contiguous line.
func boxRow(in, out []float32, w int) {
	n := len(in)
	half := (w + 2) / 2
	var sum, cnt float32
	ri, li, oi := 0, 0, 0
	for i := 0; i < half-1; i++ {
		sum += in[ri]
		cnt++
		ri++
	}
	for i := 0; i < w-half+1; i++ {
		sum += in[ri]
		cnt++
		out[oi] = sum / cnt
		ri++
		oi++
	}
	for i := 0; i < n-w; i++ {
		sum += in[ri]
		sum -= in[li]
		out[oi] = sum / cnt
		li++
		ri++
		oi++
	}
	for i := 0; i < half-1; i++ {
		sum -= in[li]
		cnt--
		out[oi] = sum / cnt
		li++
		oi++
	}
}

// boxRowSampled runs the same running sum as boxRow but divides only at the
// outputs that the decimation keeps: output o is written to dst[j] for every
// j with sel[j] == o (sel is non-decreasing).
func boxRowSampled(in []float32, w int, sel []int, dst []float32) {
	n := len(in)
	half := (w + 2) / 2
	var sum, cnt float32
	ri, li, oi, next := 0, 0, 0, 0
	ns := len(sel)
	emit := func() {
		for next < ns && sel[next] == oi {
			dst[next] = sum / cnt
			next++
		}
		oi++
	}
	for i := 0; i < half-1; i++ {
		sum += in[ri]
		cnt++
		ri++
	}
	for i := 0; i < w-half+1; i++ {
		sum += in[ri]
		cnt++
		emit()
		ri++
	}
	for i := 0; i < n-w; i++ {
		sum += in[ri]
		sum -= in[li]
		if next < ns && sel[next] == oi {
			emit()
		} else {
			oi++
		}
		li++
		ri++
	}
	for i := 0; i < half-1; i++ {
		sum -= in[li]
		cnt--
		emit()
		li++
	}
}

// colBox is the column pass of the box filter, fed one row at a time. It
// holds the running sum of every column and a ring of the last w rows,
// which the sliding window subtracts again.
type colBox struct {
	n, w, half, total int
	in, out           int // rows received, rows emitted
	cnt               float32
	sum, ring, outRow []float32
	// sel, if not nil, lists the output rows wanted (non-decreasing); the
	// others are never divided out. next is the first sel entry not yet met.
	sel  []int
	next int
}

// reset prepares the filter for total rows of n values with window w,
// reusing its buffers.
func (c *colBox) reset(n, total, w int, sel []int) {
	c.n, c.total, c.w, c.half = n, total, w, (w+2)/2
	c.in, c.out, c.cnt, c.next, c.sel = 0, 0, 0, 0, sel
	c.sum = grow(c.sum, n)
	clear(c.sum)
	c.ring = grow(c.ring, n*w)
	c.outRow = grow(c.outRow, n)
}

// push adds the next input row. When that completes an output row it
// returns the row's index and values (valid until the next call) and true.
func (c *colBox) push(row []float32) (int, []float32, bool) {
	i := c.in
	c.in++
	slot := c.ring[(i%c.w)*c.n : (i%c.w+1)*c.n]
	sum := c.sum[:len(row)]
	switch {
	case i < c.half-1:
		for j, v := range row {
			sum[j] += v
		}
		c.cnt++
		copy(slot, row)
		return 0, nil, false
	case i < c.w:
		for j, v := range row {
			sum[j] += v
		}
		c.cnt++
		copy(slot, row)
	default:
		slot = slot[:len(row)]
		for j, v := range row {
			s := sum[j] + v
			sum[j] = s - slot[j]
			slot[j] = v
		}
	}
	return c.emit()
}

// tail returns how many rows remain to be emitted by pop once every input
// row has been pushed: those where the window shrinks at the end.
func (c *colBox) tail() int { return c.half - 1 }

// pop emits the next of the tail rows.
func (c *colBox) pop(k int) (int, []float32, bool) {
	li := c.total - c.w + k
	slot := c.ring[(li%c.w)*c.n : (li%c.w+1)*c.n]
	for j, v := range slot {
		c.sum[j] -= v
	}
	c.cnt--
	return c.emit()
}

func (c *colBox) emit() (int, []float32, bool) {
	o := c.out
	c.out++
	if c.sel != nil {
		if c.next >= len(c.sel) || c.sel[c.next] != o {
			return o, nil, false
		}
		for c.next < len(c.sel) && c.sel[c.next] == o {
			c.next++
		}
	}
	for j, s := range c.sum {
		c.outRow[j] = s / c.cnt
	}
	return o, c.outRow, true
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}
