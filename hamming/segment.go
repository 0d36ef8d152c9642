package hamming

import (
	"encoding/binary"
	"math/bits"
	"runtime"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
)

// words is a 256-bit hash as four big-endian 64-bit words: word 0 holds bytes
// 0..7 of the [32]byte form, most significant byte first, so bit order in the
// words matches the hex string and substring j is simply bytes 2j..2j+1.
type words = [4]uint64

func toWords(h *[32]byte) words {
	return words{
		binary.BigEndian.Uint64(h[0:8]),
		binary.BigEndian.Uint64(h[8:16]),
		binary.BigEndian.Uint64(h[16:24]),
		binary.BigEndian.Uint64(h[24:32]),
	}
}

func fromWords(w *words) [32]byte {
	var h [32]byte
	binary.BigEndian.PutUint64(h[0:8], w[0])
	binary.BigEndian.PutUint64(h[8:16], w[1])
	binary.BigEndian.PutUint64(h[16:24], w[2])
	binary.BigEndian.PutUint64(h[24:32], w[3])
	return h
}

// Distance returns the Hamming distance between two 256-bit hashes.
func Distance(a, b [32]byte) int {
	x, y := toWords(&a), toWords(&b)
	return distWords(&x, &y)
}

func distWords(a, b *words) int {
	return bits.OnesCount64(a[0]^b[0]) + bits.OnesCount64(a[1]^b[1]) +
		bits.OnesCount64(a[2]^b[2]) + bits.OnesCount64(a[3]^b[3])
}

// Cost model for choosing between the multi-index probe and a plain scan, in
// units of "one entry of a sequential scan". A candidate costs more than a
// scanned entry because it is a random access (posting, then hash) where the
// scan streams memory the prefetcher already has; a probe is one or two
// offset-table reads. The numbers were set from the benchmarks in this package
// and only need to be right to within a factor of about two: near the
// crossover both strategies cost about the same.
const (
	probeCost     = 2
	candidateCost = 4
)

// probeTable lists every b-bit mask ordered by popcount, so that the values
// within radius r of v are v^masks[i] for i < upTo[r]. Enumerating neighbours
// this way needs no recursion and visits the nearest buckets first.
type probeTable struct {
	b     int
	masks []uint32
	upTo  []int // upTo[r] = number of masks with popcount <= r, r = 0..b
}

func newProbeTable(b int) *probeTable {
	n := 1 << b
	counts := make([]int, b+2)
	for v := 0; v < n; v++ {
		counts[bits.OnesCount32(uint32(v))+1]++
	}
	for r := 1; r <= b+1; r++ {
		counts[r] += counts[r-1]
	}
	t := &probeTable{b: b, masks: make([]uint32, n), upTo: make([]int, b+1)}
	next := append([]int(nil), counts[:b+1]...)
	for v := 0; v < n; v++ {
		p := bits.OnesCount32(uint32(v))
		t.masks[next[p]] = uint32(v)
		next[p]++
	}
	copy(t.upTo, counts[1:b+2])
	return t
}

// probeTables holds the tables for each supported substring width. They are
// built once per Index (about 130 KB) instead of as package globals.
type probeTables struct {
	b8, b16 *probeTable
}

func newProbeTables() *probeTables {
	return &probeTables{b8: newProbeTable(8), b16: newProbeTable(16)}
}

func (t *probeTables) bytes() int64 {
	return int64(cap(t.b8.masks)+cap(t.b16.masks)) * 4
}

func (t *probeTables) forWidth(b int) *probeTable {
	if b == 8 {
		return t.b8
	}
	return t.b16
}

// segment is an immutable, id-sorted run of entries with an optional
// multi-index over it. Rows are positions in ids/hashes.
type segment struct {
	ids    []uint64 // ascending and unique
	hashes []words

	m, b     int         // m substrings of b bits; m == 0: no index, scan only
	table    *probeTable // masks for width b
	offsets  [][]uint32  // per substring: 1<<b + 1 bucket starts into postings
	postings [][]byte    // per substring: rows, width bytes each, grouped by bucket
	// The per-substring slices above are windows on these two allocations:
	// one big block each gets huge pages where many small ones would not.
	offsetBlock  []uint32
	postingBlock []byte
	width        int    // bytes per posting: 3 while rows fit in 24 bits, else 4
	rowMask      uint32 // masks a 4-byte little-endian read down to width bytes
}

// find returns the row holding id.
func (s *segment) find(id uint64) (uint32, bool) {
	lo, hi := 0, len(s.ids)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s.ids[mid] < id {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(s.ids) && s.ids[lo] == id {
		return uint32(lo), true
	}
	return 0, false
}

// bytes estimates the memory the segment holds.
func (s *segment) bytes() int64 {
	n := int64(cap(s.ids))*8 + int64(cap(s.hashes))*32
	return n + int64(cap(s.offsetBlock))*4 + int64(cap(s.postingBlock))
}

// layoutFor picks the multi-index shape for n entries. Below a few thousand
// entries a scan touches less memory than the probes do. Up to 64K entries,
// 32 substrings of 8 bits keep the offset tables tiny (8 KB) while buckets
// stay small; beyond that 16 substrings of 16 bits (Norouzi et al.: substring
// length about log2(n)) give buckets of n/65536 with 4 MB of offset tables,
// which is under half a byte per entry at 10M entries. substrings forces a
// layout: 16 or 32, or a negative value for no index.
func layoutFor(n, substrings int) (m, b int) {
	switch {
	case substrings < 0:
		return 0, 0
	case substrings == 16:
		return 16, 16
	case substrings == 32:
		return 32, 8
	case n < scanBelow:
		return 0, 0
	case n < 1<<16:
		return 32, 8
	default:
		return 16, 16
	}
}

// scanBelow is the size under which the automatic layout does not index.
const scanBelow = 2048

// buildSegment indexes ids (ascending, unique) and their hashes. It takes
// ownership of both slices.
func buildSegment(ids []uint64, hashes []words, substrings int, tabs *probeTables) *segment {
	s := &segment{ids: ids, hashes: hashes}
	s.m, s.b = layoutFor(len(ids), substrings)
	if s.m == 0 || len(ids) == 0 {
		s.m, s.b = 0, 0
		return s
	}
	s.table = tabs.forWidth(s.b)
	s.width, s.rowMask = 3, 1<<24-1
	if len(ids) > 1<<24 {
		s.width, s.rowMask = 4, ^uint32(0)
	}
	n, tab := len(ids), 1<<s.b+1
	s.offsetBlock = make([]uint32, s.m*tab)
	// One spare byte lets the reader load 4 bytes at the last 3-byte posting.
	s.postingBlock = make([]byte, s.m*n*s.width+1)
	adviseHugePages(s.offsetBlock)
	adviseHugePages(s.postingBlock)
	s.offsets = make([][]uint32, s.m)
	s.postings = make([][]byte, s.m)
	for j := range s.m {
		s.offsets[j] = s.offsetBlock[j*tab : (j+1)*tab : (j+1)*tab]
		s.postings[j] = s.postingBlock[j*n*s.width : (j+1)*n*s.width+1]
	}

	// Substrings are independent, so build them in parallel; each worker
	// needs one bucket cursor array, which bounds the extra memory.
	workers := min(runtime.GOMAXPROCS(0), s.m)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cur := make([]uint32, 1<<s.b)
			for j := range jobs {
				s.buildSubstring(j, cur)
			}
		}()
	}
	for j := range s.m {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	return s
}

// buildSubstring fills the offsets and postings of substring j by counting
// sort, which keeps rows ascending within each bucket so a probe walks the
// hash array forwards.
func (s *segment) buildSubstring(j int, cur []uint32) {
	b, w := s.b, s.width
	word, shift := (j*b)>>6, uint(64-b-(j*b)&63)
	mask := uint64(1)<<b - 1
	off, post := s.offsets[j], s.postings[j]
	for i := range s.hashes {
		off[(s.hashes[i][word]>>shift)&mask+1]++
	}
	for v := 1; v < len(off); v++ {
		off[v] += off[v-1]
	}
	copy(cur, off[:1<<b])
	for i := range s.hashes {
		v := (s.hashes[i][word] >> shift) & mask
		p := int(cur[v]) * w
		cur[v]++
		r := uint32(i)
		post[p] = byte(r)
		post[p+1] = byte(r >> 8)
		post[p+2] = byte(r >> 16)
		if w == 4 {
			post[p+3] = byte(r >> 24)
		}
	}
}

// subRadius is the per-substring search radius for the pigeonhole bound in
// its sharper form (Norouzi, Punjani and Fleet, "Fast exact search in Hamming
// space with multi-index hashing"): with radius = q*m + a, a < m, a match is
// within q on one of the first a+1 substrings or within q-1 on one of the
// rest, since otherwise the distance would be at least (a+1)(q+1) +
// (m-a-1)q = radius+1. A negative result means the substring is not probed.
func subRadius(radius, m, j int) int {
	q, a := radius/m, radius%m
	if j <= a {
		return q
	}
	return q - 1
}

// search appends to dst the entries of s within radius of q whose rows
// (offset by rowBase) are not in dead. buf is scratch space for probe.
func (s *segment) search(q *words, radius int, dead *roaring.Bitmap, rowBase uint32, dst []Result, buf *[]uint32) []Result {
	if radius < 0 || len(s.ids) == 0 {
		return dst
	}
	if s.m == 0 || !s.probeIsCheaper(q, radius) {
		return scan(s.hashes, s.ids, q, radius, dead, rowBase, dst)
	}
	return s.probe(q, radius, dead, rowBase, dst, buf)
}

// probeIsCheaper applies the cost model: the probe count follows from the
// radius alone, the candidate count from the bucket sizes. Counting stops
// as soon as the scan is known to win, which is what bounds the slowdown on
// clusters of near-duplicates to the cost of the counting itself.
func (s *segment) probeIsCheaper(q *words, radius int) bool {
	budget := len(s.ids)
	probes := 0
	for j := range s.m {
		r := subRadius(radius, s.m, j)
		if r >= 0 {
			probes += s.table.upTo[min(r, s.b)]
		}
	}
	budget -= probes * probeCost
	if budget <= 0 {
		return false
	}
	limit := budget / candidateCost
	cands := 0
	b := s.b
	mask := uint64(1)<<b - 1
	for j := range s.m {
		r := subRadius(radius, s.m, j)
		if r < 0 {
			continue
		}
		qv := uint32((q[(j*b)>>6] >> uint(64-b-(j*b)&63)) & mask)
		off := s.offsets[j]
		for _, x := range s.table.masks[:s.table.upTo[min(r, b)]] {
			v := qv ^ x
			cands += int(off[v+1] - off[v])
		}
		if cands > limit {
			return false
		}
	}
	return true
}

// probe runs the multi-index search. A match can sit in the probed buckets
// of several substrings; it is reported only from the first substring whose
// bound it meets, which makes the output duplicate-free without a visited
// set (that would cost O(n) to clear or a map to maintain).
//
// Each substring's candidates are gathered into buf first and checked in a
// second loop. Checking inside the bucket loop would tie every hash load to
// a bucket-length branch that mispredicts (buckets hold a handful of rows),
// and a mispredict discards the loads in flight; the flat loop's only branch
// is the rarely taken match, so many cache misses overlap.
func (s *segment) probe(q *words, radius int, dead *roaring.Bitmap, rowBase uint32, dst []Result, buf *[]uint32) []Result {
	b, m, w, rowMask := s.b, s.m, s.width, s.rowMask
	mask := uint64(1)<<b - 1
	hashes, ids := s.hashes, s.ids
	q0, q1, q2, q3 := q[0], q[1], q[2], q[3]
	rows := (*buf)[:0]
	for j := range m {
		r := subRadius(radius, m, j)
		if r < 0 {
			continue
		}
		qv := uint32((q[(j*b)>>6] >> uint(64-b-(j*b)&63)) & mask)
		off, post := s.offsets[j], s.postings[j]
		rows = rows[:0]
		for _, x := range s.table.masks[:s.table.upTo[min(r, b)]] {
			v := qv ^ x
			for k := int(off[v]) * w; k < int(off[v+1])*w; k += w {
				rows = append(rows, binary.LittleEndian.Uint32(post[k:])&rowMask)
			}
		}
		for _, row := range rows {
			h := &hashes[row]
			d := bits.OnesCount64(h[0]^q0) + bits.OnesCount64(h[1]^q1) +
				bits.OnesCount64(h[2]^q2) + bits.OnesCount64(h[3]^q3)
			if d > radius || s.seenEarlier(h, q, radius, j) {
				continue
			}
			if dead != nil && dead.Contains(rowBase+row) {
				continue
			}
			dst = append(dst, Result{ID: ids[row], Distance: d})
		}
	}
	*buf = rows
	return dst
}

// seenEarlier reports whether a substring before j already had h within its
// bound, in which case that substring's probe reported it.
func (s *segment) seenEarlier(h, q *words, radius, j int) bool {
	b, m := s.b, s.m
	mask := uint64(1)<<b - 1
	for i := range j {
		r := subRadius(radius, m, i)
		if r < 0 {
			continue
		}
		wd, shift := (i*b)>>6, uint(64-b-(i*b)&63)
		if bits.OnesCount64(((h[wd]^q[wd])>>shift)&mask) <= r {
			return true
		}
	}
	return false
}

// scan is the linear search, also used as the fallback. It handles four
// entries per iteration so the popcounts of independent entries overlap.
func scan(hashes []words, ids []uint64, q *words, radius int, dead *roaring.Bitmap, rowBase uint32, dst []Result) []Result {
	if radius < 0 {
		return dst
	}
	q0, q1, q2, q3 := q[0], q[1], q[2], q[3]
	ids = ids[:len(hashes)]
	i := 0
	for ; i+4 <= len(hashes); i += 4 {
		h := (*[4]words)(hashes[i : i+4])
		d0 := bits.OnesCount64(h[0][0]^q0) + bits.OnesCount64(h[0][1]^q1) + bits.OnesCount64(h[0][2]^q2) + bits.OnesCount64(h[0][3]^q3)
		d1 := bits.OnesCount64(h[1][0]^q0) + bits.OnesCount64(h[1][1]^q1) + bits.OnesCount64(h[1][2]^q2) + bits.OnesCount64(h[1][3]^q3)
		d2 := bits.OnesCount64(h[2][0]^q0) + bits.OnesCount64(h[2][1]^q1) + bits.OnesCount64(h[2][2]^q2) + bits.OnesCount64(h[2][3]^q3)
		d3 := bits.OnesCount64(h[3][0]^q0) + bits.OnesCount64(h[3][1]^q1) + bits.OnesCount64(h[3][2]^q2) + bits.OnesCount64(h[3][3]^q3)
		if min(d0, d1, d2, d3) > radius {
			continue
		}
		for k, d := range [4]int{d0, d1, d2, d3} {
			if d <= radius {
				row := uint32(i + k)
				if dead == nil || !dead.Contains(rowBase+row) {
					dst = append(dst, Result{ID: ids[row], Distance: d})
				}
			}
		}
	}
	for ; i < len(hashes); i++ {
		h := &hashes[i]
		d := bits.OnesCount64(h[0]^q0) + bits.OnesCount64(h[1]^q1) + bits.OnesCount64(h[2]^q2) + bits.OnesCount64(h[3]^q3)
		if d <= radius && (dead == nil || !dead.Contains(rowBase+uint32(i))) {
			dst = append(dst, Result{ID: ids[i], Distance: d})
		}
	}
	return dst
}
