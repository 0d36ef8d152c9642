package hamming

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"unsafe"

	"github.com/RoaringBitmap/roaring/v2"
)

// baselineSearch is the segment search as it was before the compact
// directories and the two-row gather (commit c175142), kept in the tests so
// that benchmarks compare against it in the same run: the fixed cost guard,
// dense bucket starts, and a copy loop per bucket. s must be built with
// Options.denseDirs.
func (s *segment) baselineSearch(q *words, radius int, dst []Result, buf *[]uint32) []Result {
	if radius < 0 || s.rows() == 0 {
		return dst
	}
	if !s.canProbe(radius) {
		return s.scan(q, radius, nil, 0, dst)
	}
	const probeCost, candidateCost = 64, 32
	budget := s.rows() - s.probeCount(radius)*probeCost
	if budget > 0 {
		if out, ok := s.baselineProbe(q, radius, nil, 0, dst, buf, budget/candidateCost); ok {
			return out
		}
	}
	return s.scan(q, radius, nil, 0, dst)
}

func (s *segment) baselineProbe(q *words, radius int, dead *roaring.Bitmap, rowBase uint32, dst []Result, buf *[]uint32, limit int) (_ []Result, ok bool) {
	m, w, rowMask := s.m, s.width, s.rowMask
	hashes, ids := s.hashes, &s.ids
	q0, q1, q2, q3 := q[0], q[1], q[2], q[3]
	rows := (*buf)[:0]
	defer func() { *buf = rows }()
	var ends [32]int
	for j := range m {
		if r := subRadius(radius, m, j); r >= 0 {
			t := s.tables[j]
			qv := substr(q, s.start[j], s.length[j])
			off, post := s.dirs[j].dense, s.postings[j]
			for _, x := range t.masks[:t.upTo[min(r, s.length[j])]] {
				v := qv ^ x
				lo, hi := int(off[v]), int(off[v+1])
				if len(rows)+hi-lo > limit {
					return dst, false
				}
				for k := lo * w; k < hi*w; k += w {
					rows = append(rows, binary.LittleEndian.Uint32(post[k:])&rowMask)
				}
			}
		}
		ends[j] = len(rows)
	}
	from := 0
	for j := range m {
		for _, row := range rows[from:ends[j]] {
			h := &hashes[row]
			d := bits.OnesCount64(h[0]^q0) + bits.OnesCount64(h[1]^q1) +
				bits.OnesCount64(h[2]^q2) + bits.OnesCount64(h[3]^q3)
			if d > radius || s.seenEarlier(h, q, radius, j) {
				continue
			}
			if dead != nil && dead.Contains(rowBase+row) {
				continue
			}
			dst = append(dst, Result{ID: ids.at(row), Distance: d})
		}
		from = ends[j]
	}
	return dst, true
}

// prevDirectory is the compact directory before p-idx (issue 20, session
// 8): blocks of 16 buckets in 20 bytes, which straddle cache lines, kept so
// that BenchmarkPrevProbe measures the change in one process.
type prevDirectory struct {
	blocks, wide []uint32
	dense        []uint32
}

func newPrevDirectory(dense []uint32) prevDirectory {
	const size, stride = 16, 5
	buckets := len(dense) - 1
	if float64(dense[buckets])/float64(buckets)*size > 128 {
		return prevDirectory{dense: dense}
	}
	nblocks := (len(dense) + size - 1) / size
	d := prevDirectory{blocks: make([]uint32, nblocks*stride)}
	for blk := range nblocks {
		lo, hi := blk*size, min(blk*size+size, len(dense))
		first, at := dense[lo], blk*stride
		if int(dense[hi-1]-first) <= 255 {
			d.blocks[at] = first
			for v := lo; v < hi; v++ {
				k := v - lo
				d.blocks[at+1+k/4] |= (dense[v] - first) << (8 * (k % 4))
			}
			continue
		}
		d.blocks[at] = wideBit | uint32(len(d.wide))
		d.wide = append(d.wide, dense[lo:hi]...)
	}
	return d
}

func (d *prevDirectory) start(v uint32) uint32 {
	if d.blocks == nil {
		return d.dense[v]
	}
	at, k := (v>>4)*5, v&15
	b := d.blocks[at]
	if b&wideBit == 0 {
		return b + (d.blocks[at+1+k/4]>>(8*(k%4)))&0xff
	}
	return d.wide[b&^wideBit+k]
}

func (d *prevDirectory) addr(v uint32) unsafe.Pointer {
	if d.blocks == nil {
		return unsafe.Pointer(&d.dense[v])
	}
	return unsafe.Pointer(&d.blocks[(v>>4)*5])
}

// prevDirs rebuilds s's directories in the previous form.
func (s *segment) prevDirs() []prevDirectory {
	out := make([]prevDirectory, s.m)
	for j := range s.m {
		dense := make([]uint32, 1<<s.length[j]+1)
		for v := range dense {
			dense[v] = s.dirs[j].start(uint32(v))
		}
		out[j] = newPrevDirectory(dense)
	}
	return out
}

// prevProbe is probe before p-idx: the previous directories, and the
// postings of empty buckets read (copied and prefetched) like any other.
// It takes no guard: callers compare it on queries the guard lets through.
func (s *segment) prevProbe(dirs []prevDirectory, q *words, radius int, dst []Result, sc *scratch) []Result {
	m, w, rowMask := s.m, s.width, s.rowMask
	hashes, ids := s.hashes, &s.ids
	q0, q1, q2, q3 := q[0], q[1], q[2], q[3]
	vals := sc.vals[:0]
	var probeEnds [32]int
	for j := range m {
		if r := subRadius(radius, m, j); r >= 0 {
			t := s.tables[j]
			qv := substr(q, s.start[j], s.length[j])
			dir := &dirs[j]
			for _, x := range t.masks[:t.upTo[min(r, s.length[j])]] {
				v := qv ^ x
				prefetch(dir.addr(v))
				vals = append(vals, v)
			}
		}
		probeEnds[j] = len(vals)
	}
	sc.vals = vals
	lens := slices.Grow(sc.lens[:0], len(vals))[:len(vals)]
	sc.lens = lens
	total, from := 0, 0
	for j := range m {
		dir, post := &dirs[j], s.postings[j]
		for i := from; i < probeEnds[j]; i++ {
			lo, hi := dir.start(vals[i]), dir.start(vals[i]+1)
			vals[i], lens[i] = lo, hi-lo
			total += int(hi - lo)
			prefetch(unsafe.Pointer(unsafe.SliceData(post[lo*uint32(w):])))
		}
		from = probeEnds[j]
	}
	rows := slices.Grow(sc.rows[:0], total+2)[:total+2]
	sc.rows = rows
	var ends [32]int
	n := 0
	from = 0
	for j := range m {
		post := s.postings[j]
		for i := from; i < probeEnds[j]; i++ {
			k, cnt := int(vals[i])*w, int(lens[i])
			rows[n] = binary.LittleEndian.Uint32(post[k:]) & rowMask
			rows[n+1] = binary.LittleEndian.Uint32(post[k+w:]) & rowMask
			for c := 2; c < cnt; c++ {
				rows[n+c] = binary.LittleEndian.Uint32(post[k+c*w:]) & rowMask
			}
			n += cnt
		}
		from = probeEnds[j]
		ends[j] = n
	}
	for _, row := range rows[:n] {
		prefetch(unsafe.Pointer(&hashes[row]))
	}
	from = 0
	for j := range m {
		for _, row := range rows[from:ends[j]] {
			h := &hashes[row]
			d := bits.OnesCount64(h[0]^q0) + bits.OnesCount64(h[1]^q1) +
				bits.OnesCount64(h[2]^q2) + bits.OnesCount64(h[3]^q3)
			if d > radius || s.seenEarlier(h, q, radius, j) {
				continue
			}
			dst = append(dst, Result{ID: ids.at(row), Distance: d})
		}
		from = ends[j]
	}
	return dst
}
