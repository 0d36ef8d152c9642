package hamming

import (
	"encoding/binary"
	"math/bits"

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
