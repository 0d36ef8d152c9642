package hamming

import (
	"encoding/binary"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/RoaringBitmap/roaring/v2"
)

// words is a 256-bit hash as four big-endian 64-bit words: word 0 holds bytes
// 0..7 of the [32]byte form, most significant byte first, so bit i of the
// hash (counting from the top of byte 0) is bit 63-i%64 of word i/64.
type words = [4]uint64

func toWords(h *[32]byte) words {
	return words{
		binary.BigEndian.Uint64(h[0:8]),
		binary.BigEndian.Uint64(h[8:16]),
		binary.BigEndian.Uint64(h[16:24]),
		binary.BigEndian.Uint64(h[24:32]),
	}
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
// units of "one entry of a sequential scan". The scan streams memory the
// prefetcher already has; a candidate is a random read of its hash and a
// probe two (directory, then postings). What a random read costs against a
// streamed one depends on the machine, its caches and the segment's size, so
// calibrate measures both on each large segment as it is built. These
// defaults, measured on the development machine at 1M to 10M entries, serve
// small segments, where a wrong choice costs little. They err high: a probe
// wrongly abandoned for the scan costs at most the scan, while a probe
// wrongly kept near a cluster of near-duplicates can cost several scans.
const (
	probeCost     = 64
	candidateCost = 32
)

// calibrateFrom is the segment size from which the cost guard's constants
// are measured rather than taken from the defaults.
const calibrateFrom = 1 << 16

// calibrate measures, on s's own hashes, the time a scan takes per row and
// the time the probe's candidate check takes per random row (prefetched in
// a batch as probe does), and sets s's cost constants from their ratio.
// Each is the fastest of several short trials (about 2 ms in all), since
// other load only ever adds time. The ratio is clamped to [4, 256] rows so
// that a disturbed measurement cannot make the guard absurd.
func (s *segment) calibrate() {
	s.candCost, s.probeCost = candidateCost, probeCost
	n := s.rows()
	if n < calibrateFrom {
		return
	}
	r := rand.New(rand.NewPCG(uint64(n), 17))
	var q words
	for i := range q {
		q[i] = r.Uint64()
	}
	const trials, cands = 5, 4096
	rowSets := make([]uint32, trials*cands)
	for i := range rowSets {
		rowSets[i] = uint32(r.IntN(n))
	}
	groups, surv := make([]uint32, cands), make([]uint32, cands)
	trial := 0
	nScan := min(n, 1<<16)
	best := func(f func() int) time.Duration {
		b := time.Duration(math.MaxInt64)
		for range trials {
			t0 := time.Now()
			sink := f()
			d := time.Since(t0)
			if sink < 0 {
				d = 0 // keeps f's result alive; never true
			}
			b = min(b, d)
		}
		return b
	}
	scanT := best(func() int {
		// Start at a random place so each trial streams memory afresh.
		at := r.IntN(n - nScan + 1)
		if s.quads != nil {
			at &^= groupRows - 1
			return len(scanQuads(s.quads[at/groupRows:(at+nScan)/groupRows], nScan, &q, 31, nil, 0, nil))
		}
		return len(scanRows(s.hashes[at:at+nScan], &q, 31, nil, 0, nil))
	})
	candT := best(func() int {
		if s.quads != nil {
			// The grouped probe's check: its filter over the groups'
			// first lines, which rejects a group nearly always.
			for i, row := range rowSets[trial*cands : (trial+1)*cands] {
				groups[i] = row / groupRows
			}
			trial++
			if s.frontAsm {
				return frontFilterAsm(s.quads, groups, &q, 31, surv)
			}
			return frontFilterGo(s.quads, groups, &q, 31, surv)
		}
		rows := rowSets[trial*cands : (trial+1)*cands]
		trial++
		for _, row := range rows {
			prefetch(unsafe.Pointer(&s.hashes[row]))
		}
		c := 0
		for _, row := range rows {
			if distWords(&s.hashes[row], &q) <= 31 {
				c++
			}
		}
		return c
	})
	perRow := float64(scanT) / float64(nScan)
	perCand := float64(candT) / cands
	if perRow <= 0 || perCand <= 0 {
		return
	}
	ratio := min(max(perCand/perRow, 4), 256)
	s.candCost = int(ratio + 0.5)
	s.probeCost = 2 * s.candCost
}

// probeTable lists the b-bit masks of popcount up to maxR ordered by
// popcount, so that the values within radius r of v are v^masks[i] for
// i < upTo[r]. Enumerating neighbours this way needs no recursion and visits
// the nearest buckets first.
type probeTable struct {
	b, maxR int
	masks   []uint32
	upTo    []int // upTo[r] = number of masks with popcount <= r, r = 0..maxR
}

func newProbeTable(b, maxR int) *probeTable {
	t := &probeTable{b: b, maxR: maxR, upTo: make([]int, maxR+1)}
	for k := 0; k <= maxR; k++ {
		if k == 0 {
			t.masks = append(t.masks, 0)
		} else {
			// Gosper's hack steps through the b-bit values with k bits set
			// in increasing order.
			for v := uint64(1)<<k - 1; v < 1<<b; {
				t.masks = append(t.masks, uint32(v))
				c := v & -v
				r := v + c
				v = (((r ^ v) >> 2) / c) | r
			}
		}
		t.upTo[k] = len(t.masks)
	}
	return t
}

// probeTables holds one table per substring length in use. They are built
// once per Index (about 330 KB) instead of as package globals. Lengths over
// 16 bits keep only radius 4, past which a scan is cheaper anyway.
type probeTables map[int]*probeTable

func newProbeTables() probeTables {
	return probeTables{
		8:  newProbeTable(8, 8),
		16: newProbeTable(16, 16),
		19: newProbeTable(19, 4),
		20: newProbeTable(20, 4),
		21: newProbeTable(21, 4),
		22: newProbeTable(22, 4),
	}
}

func (t probeTables) bytes() int64 {
	var n int64
	for _, pt := range t {
		n += int64(cap(pt.masks))*4 + int64(cap(pt.upTo))*8
	}
	return n
}

// substr returns the n bits of h starting at bit start (counted from the top
// of byte 0). A substring may straddle two words when n does not divide 64.
func substr(h *words, start, n int) uint32 {
	w, off := start>>6, start&63
	mask := uint64(1)<<n - 1
	if off+n <= 64 {
		return uint32((h[w] >> (64 - off - n)) & mask)
	}
	return uint32((h[w]<<(off+n-64) | h[w+1]>>(128-off-n)) & mask)
}

// segment is an immutable, id-sorted run of entries with an optional
// multi-index over it. Rows are positions in ids/hashes.
type segment struct {
	ids    idColumn // ascending and unique
	hashes []words

	m        int           // number of substrings; 0: no index, scan only
	start    []int         // first bit of each substring
	length   []int         // bits in each substring
	tables   []*probeTable // neighbour masks for each substring's length
	dirs     []directory   // per substring: bucket → run of postings
	postings [][]byte      // per substring: rows, width bytes each, grouped by bucket
	// The per-substring postings are windows on one allocation: one big
	// block gets huge pages where many small ones would not.
	postingBlock []byte
	denseDirs    bool // Options.denseDirs
	// The cost guard's constants in scan rows (calibrate): a candidate
	// check and a bucket read.
	candCost, probeCost int
	width               int    // bytes per posting: 3 while rows fit in 24 bits, else 4
	rowMask             uint32 // masks a 4-byte little-endian read down to width bytes

	// The grouped layout (grouped.go), in place of dirs and postings: per
	// substring one Elias–Fano sequence of bucket·groups + group, a group
	// being groupRows consecutive rows.
	ef []efSeq
	// Or, with Options.blocked, the same sequences in blocks (blocked.go).
	bk       []efBlk
	blkShift uint
	groups   uint64 // ceil(rows / groupRows)
	// The hashes, in place of hashes, a group's transposed (quad).
	quads []quad
	// frontAsm: the check stage filters groups in AVX2 (frontFilterAsm).
	frontAsm bool
	staged   bool // Options.staged
	pureGo   bool // Options.pureGo
	// decodeAsm: the blocked probe decodes in assembly (decodeBlocks).
	decodeAsm bool
}

// hashAt returns row's hash in either layout.
func (s *segment) hashAt(row uint32) words {
	if s.quads != nil {
		return s.quads[row/groupRows].row(int(row % groupRows))
	}
	return s.hashes[row]
}

// find returns the row holding id.
func (s *segment) find(id uint64) (uint32, bool) { return s.ids.find(id) }

// rows returns the number of rows, tombstoned ones included.
func (s *segment) rows() int { return s.ids.len() }

// bytes estimates the memory the segment holds.
func (s *segment) bytes() int64 {
	n := s.ids.bytes() + int64(cap(s.hashes))*32 + int64(cap(s.quads))*int64(unsafe.Sizeof(quad{}))
	n += int64(cap(s.postingBlock))
	for j := range s.dirs {
		n += s.dirs[j].bytes()
	}
	for j := range s.ef {
		n += s.ef[j].bytes()
	}
	for j := range s.bk {
		n += s.bk[j].bytes()
	}
	return n
}

// parts breaks bytes down by what holds them, for the memory benchmarks.
func (s *segment) parts() map[string]int64 {
	p := map[string]int64{
		"hashes":   int64(cap(s.hashes))*32 + int64(cap(s.quads))*int64(unsafe.Sizeof(quad{})),
		"ids":      s.ids.bytes(),
		"postings": int64(cap(s.postingBlock)),
	}
	for j := range s.dirs {
		p["directories"] += s.dirs[j].bytes()
	}
	// In the grouped layout the high parts and their samples are the
	// directory, the low parts the postings.
	for j := range s.ef {
		e := &s.ef[j]
		p["directories"] += int64(cap(e.high))*8 + int64(cap(e.ranks))*4
		p["postings"] += int64(cap(e.low)) * 8
	}
	// In the blocked coding, the samples are the directory, the stream
	// the postings.
	for j := range s.bk {
		e := &s.bk[j]
		p["directories"] += int64(cap(e.sub))*2 + int64(cap(e.top))*4
		p["postings"] += int64(cap(e.bits)) * 8
	}
	return p
}

// validLengths reports whether lengths is a layout buildSegment can index:
// at most 32 substrings, each of a length probeTables has, together at most
// 256 bits.
func validLengths(lengths []int, tabs probeTables) bool {
	sum := 0
	for _, b := range lengths {
		if tabs[b] == nil {
			return false
		}
		sum += b
	}
	return len(lengths) <= 32 && sum <= 256
}

// scanBelow is the size under which the automatic layout does not index.
const scanBelow = 2048

// layoutFor returns the substring lengths for n entries, in order. Norouzi
// et al. ("Fast exact search in Hamming space with multi-index hashing")
// take substrings of about log2(n) bits, so buckets hold about one entry and
// a query reads about as many buckets as it checks candidates. Both are
// random reads, and they are what a search costs (BenchmarkLayouts):
//
//   - below 2048 entries, none: a scan touches less memory than the probes;
//   - below 64K, 32×8 bits: 8 KB of tables, small buckets;
//   - below 512K, 16×16 bits: at radius 31, 272 buckets;
//   - below 4M, 13 substrings (9×20 + 4×19 bits): about 1,400 buckets and,
//     at 1M, 1,500 candidates against 16×16's 272 buckets and 4,200
//     candidates; its directories cost 14 MB, which 512K entries amortise;
//   - below 8M, 12 substrings (8×21 + 4×22 bits): about 1,950 buckets and,
//     at 10M, 8K candidates against 13's 15K;
//   - from 8M, 11 substrings of 22 bits, leaving 14 bits out of every
//     bucket key (the pigeonhole bound holds for any disjoint substrings,
//     and candidates are checked on the whole hash): 2,560 buckets and, at
//     10M, 6K candidates, and 3 bytes of postings an entry fewer than 12
//     substrings. At 10M it cost 70.9 bytes an entry against 12's 72.4 and
//     searched as fast on uniform data and 12% faster on clustered; below
//     about 5M its 58 MB of directories would outweigh the postings saved.
//
// substrings forces a layout: 11, 12, 13, 16 or 32, or a negative value for
// none.
func layoutFor(n, substrings int) []int {
	repeat := func(b, k int) []int {
		out := make([]int, k)
		for i := range out {
			out[i] = b
		}
		return out
	}
	twelve := func() []int { return append(repeat(21, 8), repeat(22, 4)...) }
	eleven := func() []int { return repeat(22, 11) }
	thirteen := func() []int { return append(repeat(20, 9), repeat(19, 4)...) }
	switch {
	case substrings < 0:
		return nil
	case substrings == 11:
		return eleven()
	case substrings == 12:
		return twelve()
	case substrings == 13:
		return thirteen()
	case substrings == 16:
		return repeat(16, 16)
	case substrings == 32:
		return repeat(8, 32)
	case n < scanBelow:
		return nil
	case n < 1<<16:
		return repeat(8, 32)
	case n < 1<<19:
		return repeat(16, 16)
	case n < 1<<22:
		return thirteen()
	case n < 1<<23:
		return twelve()
	default:
		return eleven()
	}
}

// buildSegment indexes ids (ascending, unique) and their hashes. It takes
// ownership of hashes; ids are copied into the segment's idColumn.
func buildSegment(ids []uint64, hashes []words, opts Options, tabs probeTables) *segment {
	s := &segment{ids: newIDColumn(ids), hashes: hashes, denseDirs: opts.denseDirs, blkShift: defaultBlockShift, staged: opts.staged, pureGo: opts.pureGo}
	if opts.blocked != 0 {
		s.blkShift = uint(max(opts.blocked, 0))
	}
	lengths := layoutFor(len(ids), opts.Substrings)
	if opts.lengths != nil {
		lengths = opts.lengths
	}
	if len(lengths) == 0 || len(ids) == 0 {
		return s
	}
	s.m = len(lengths)
	s.length = lengths
	s.start = make([]int, s.m)
	s.tables = make([]*probeTable, s.m)
	s.width, s.rowMask = 3, 1<<24-1
	if len(ids) > 1<<24 {
		s.width, s.rowMask = 4, ^uint32(0)
	}
	n := len(ids)
	maxLen := 0
	for j, b := range lengths {
		if j > 0 {
			s.start[j] = s.start[j-1] + lengths[j-1]
		}
		s.tables[j] = tabs[b]
		maxLen = max(maxLen, b)
	}
	if useGrouped(n, opts) {
		s.buildGrouped()
		s.calibrate()
		return s
	}
	// Spare bytes let probe load 4 bytes at the posting after the last one
	// (it reads two postings at every bucket, empty ones at the end
	// included).
	slack := 2*s.width + 4
	s.postingBlock = make([]byte, s.m*n*s.width+slack)
	adviseHugePages(s.postingBlock)
	s.dirs = make([]directory, s.m)
	s.postings = make([][]byte, s.m)
	for j := range lengths {
		s.postings[j] = s.postingBlock[j*n*s.width : (j+1)*n*s.width+slack]
	}

	// Substrings are independent, so build them in parallel; each worker
	// reuses two sort buffers of 8 bytes an entry and one dense table of
	// bucket starts, which newDirectory then compresses.
	workers := min(runtime.GOMAXPROCS(0), s.m)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, tmp := make([]uint64, n), make([]uint64, n)
			dense := make([]uint32, 1<<maxLen+1)
			for j := range jobs {
				s.buildSubstring(j, a, tmp, dense)
			}
		}()
	}
	for j := range s.m {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	s.calibrate()
	return s
}

// buildSubstring fills the offsets and postings of substring j. It sorts
// (substring value, row) pairs with a two-pass LSD radix sort, which keeps
// rows ascending within each bucket (so a probe walks the hash array
// forwards) and touches memory in a few thousand sequential streams; a
// direct counting sort into 2^21-entry tables takes a cache miss per entry
// and was 20 times slower at 10M entries.
func (s *segment) buildSubstring(j int, a, tmp []uint64, dense []uint32) {
	start, b, w := s.start[j], s.length[j], s.width
	off, post := dense[:1<<b+1], s.postings[j]
	clear(off)
	lo := b / 2 // bits sorted in the first pass
	var h1 [1 << 11]int
	var h2 [1 << 11]int
	loMask := uint32(1)<<lo - 1
	for i := range s.hashes {
		v := substr(&s.hashes[i], start, b)
		a[i] = uint64(v)<<32 | uint64(i)
		h1[v&loMask]++
		h2[v>>lo]++
	}
	radixPass(a, tmp, h1[:], 32, loMask)
	radixPass(tmp, a, h2[:], 32+uint(lo), ^uint32(0))
	for i, e := range a {
		off[e>>32+1]++
		p := i * w
		r := uint32(e)
		post[p] = byte(r)
		post[p+1] = byte(r >> 8)
		post[p+2] = byte(r >> 16)
		if w == 4 {
			post[p+3] = byte(r >> 24)
		}
	}
	for v := 1; v < len(off); v++ {
		off[v] += off[v-1]
	}
	d := directory{dense: off}
	if !s.denseDirs {
		d = newDirectory(off)
	}
	if d.blocks == nil {
		d.dense = append([]uint32(nil), off...)
	}
	s.dirs[j] = d
}

// radixPass stably scatters src into dst by the digit (e >> shift) & mask,
// given the digit histogram, which it turns into bucket starts.
func radixPass(src, dst []uint64, hist []int, shift uint, mask uint32) {
	sum := 0
	for d, c := range hist {
		hist[d] = sum
		sum += c
	}
	for _, e := range src {
		d := uint32(e>>shift) & mask
		dst[hist[d]] = e
		hist[d]++
	}
}

// subRadius is the per-substring search radius for the pigeonhole bound in
// its sharper form (Norouzi, Punjani and Fleet): with radius = q*m + a,
// a < m, a match is within q on one of the first a+1 substrings or within
// q-1 on one of the rest, since otherwise the distance would be at least
// (a+1)(q+1) + (m-a-1)q = radius+1. It holds for substrings of any lengths.
// A negative result means the substring is not probed.
func subRadius(radius, m, j int) int {
	q, a := radius/m, radius%m
	if j <= a {
		return q
	}
	return q - 1
}

// scratch is a searcher's reusable space for probe.
type scratch struct {
	vals, lens, rows []uint32
	// The grouped probe's: bit positions, elements' indices and high
	// parts, and the bucket of each candidate group.
	pos, wins                   []uint64
	elems, highs, buckt, firsts []uint32
	surv                        []uint32 // the groups checkGroups' filter keeps
	slow                        []uint32 // buckets decodeBlocks leaves to appendInAt
	pf                          []uintptr
	pos2                        []uint64 // a bucket's second block, for decodeBlocks
	lens2                       []uint32
	tabs                        []uint8
	touch                       uint64 // keeps the blocked probe's touch loop
}

// search appends to dst the entries of s within radius of q whose rows
// (offset by rowBase) are not in dead. sc is scratch space for probe.
//
// The cost guard: the probe count follows from the radius alone; the
// candidate count is only known while gathering, so the probe gives up and
// the scan runs once the candidates alone would cost more than the scan.
// Near a large cluster of near-duplicates that bounds the extra work to
// about one scan's worth of the cheaper, sequential posting reads.
func (s *segment) search(q *words, radius int, dead *roaring.Bitmap, rowBase uint32, dst []Result, sc *scratch) []Result {
	if radius < 0 || s.rows() == 0 {
		return dst
	}
	if !s.canProbe(radius) {
		return s.scan(q, radius, dead, rowBase, dst)
	}
	budget := s.rows() - s.probeCount(radius)*s.probeCost
	if budget > 0 {
		if out, ok := s.probe(q, radius, dead, rowBase, dst, sc, budget/s.candCost); ok {
			return out
		}
	}
	return s.scan(q, radius, dead, rowBase, dst)
}

// canProbe reports whether the segment is indexed and its neighbour tables
// reach every substring's radius for this search radius.
func (s *segment) canProbe(radius int) bool {
	for j := range s.m {
		if r := subRadius(radius, s.m, j); min(r, s.length[j]) > s.tables[j].maxR {
			return false
		}
	}
	return s.m > 0
}

// probeCount is the number of buckets a probe at radius reads.
func (s *segment) probeCount(radius int) int {
	probes := 0
	for j := range s.m {
		if r := subRadius(radius, s.m, j); r >= 0 {
			probes += s.tables[j].upTo[min(r, s.length[j])]
		}
	}
	return probes
}

// probe runs the multi-index search, giving up (ok false, dst untouched) if
// the buckets hold more than limit candidates. Callers check canProbe first.
//
// A match can sit in the probed buckets of several substrings; it is
// reported only from the first substring whose bound it meets, which makes
// the output duplicate-free without a visited set (that would cost O(n) to
// clear or a map to maintain).
//
// The probe runs in stages, each a flat loop over independent random reads
// that first prefetches what the next stage reads: bucket numbers (and their
// directory lines), bucket runs (and their posting lines), rows (and their
// hashes), then the distance checks. Every stage's reads are then in flight
// together; done bucket by bucket, each read waited on the one before it,
// and a loop over a bucket's random length mispredicted its exit and
// discarded the loads in flight.
func (s *segment) probe(q *words, radius int, dead *roaring.Bitmap, rowBase uint32, dst []Result, sc *scratch, limit int) (_ []Result, ok bool) {
	if s.bk != nil {
		return s.probeBlocked(q, radius, dead, rowBase, dst, sc, limit)
	}
	if s.ef != nil {
		return s.probeGrouped(q, radius, dead, rowBase, dst, sc, limit)
	}
	m, w, rowMask := s.m, s.width, s.rowMask
	hashes, ids := s.hashes, &s.ids
	q0, q1, q2, q3 := q[0], q[1], q[2], q[3]

	// Bucket numbers, substring by substring.
	vals := sc.vals[:0]
	var probeEnds [32]int
	for j := range m {
		if r := subRadius(radius, m, j); r >= 0 {
			t := s.tables[j]
			qv := substr(q, s.start[j], s.length[j])
			dir := &s.dirs[j]
			for _, x := range t.masks[:t.upTo[min(r, s.length[j])]] {
				v := qv ^ x
				prefetch(dir.addr(v))
				vals = append(vals, v)
			}
		}
		probeEnds[j] = len(vals)
	}
	sc.vals = vals

	// Runs: the start of each bucket replaces its number, its length goes
	// to lens.
	lens := slices.Grow(sc.lens[:0], len(vals))[:len(vals)]
	sc.lens = lens
	total := 0
	from := 0
	for j := range m {
		dir, post := &s.dirs[j], s.postings[j]
		for i := from; i < probeEnds[j]; i++ {
			lo, hi := dir.run(vals[i])
			// An empty bucket's run points at the substring's first
			// posting, whose line every query touches and keeps in cache,
			// instead of a random line read for nothing: by the stage
			// below, which copies two postings from every run, and by the
			// prefetch. At 1M a third of the buckets probed are empty.
			// The mask keeps this free of a branch on the random length.
			cnt := hi - lo
			lo &= -min(cnt, 1)
			vals[i], lens[i] = lo, cnt
			total += int(cnt)
			prefetch(unsafe.Pointer(unsafe.SliceData(post[lo*uint32(w):])))
		}
		from = probeEnds[j]
	}
	if total > limit {
		return dst, false
	}

	// Rows. Buckets hold 0, 1 or 2 rows most of the time: copy two always
	// (the postings have slack for it) and keep as many as the bucket has,
	// so that the loop has no branch on a random length.
	rows := slices.Grow(sc.rows[:0], total+2)[:total+2]
	sc.rows = rows
	var ends [32]int // rows[ends[j-1]:ends[j]] came from substring j
	n := 0
	from = 0
	for j := range m {
		post := s.postings[j]
		for i := from; i < probeEnds[j]; i++ {
			k, cnt := int(vals[i])*w, int(lens[i])
			r0 := binary.LittleEndian.Uint32(post[k:]) & rowMask
			r1 := binary.LittleEndian.Uint32(post[k+w:]) & rowMask
			rows[n], rows[n+1] = r0, r1
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
			if dead != nil && dead.Contains(rowBase+row) {
				continue
			}
			dst = append(dst, Result{ID: ids.at(row), Distance: d})
		}
		from = ends[j]
	}
	return dst, true
}

// seenEarlier reports whether a substring before j already had h within its
// bound, in which case that substring's probe reported it.
func (s *segment) seenEarlier(h, q *words, radius, j int) bool {
	x := words{h[0] ^ q[0], h[1] ^ q[1], h[2] ^ q[2], h[3] ^ q[3]}
	for i := range j {
		r := subRadius(radius, s.m, i)
		if r >= 0 && bits.OnesCount32(substr(&x, s.start[i], s.length[i])) <= r {
			return true
		}
	}
	return false
}

// scan is the segment's linear search, also the probe's fallback.
func (s *segment) scan(q *words, radius int, dead *roaring.Bitmap, rowBase uint32, dst []Result) []Result {
	start := len(dst)
	if s.quads != nil {
		dst = scanQuads(s.quads, s.rows(), q, radius, dead, rowBase, dst)
	} else {
		dst = scanRows(s.hashes, q, radius, dead, rowBase, dst)
	}
	for i := start; i < len(dst); i++ {
		dst[i].ID = s.ids.at(uint32(dst[i].ID))
	}
	return dst
}

// scanRows is the linear search over hashes. It appends each match with its
// row in place of its id, which the caller then looks up: the loop stays
// free of the id column's decoding, and the matches' rows are still in
// cache when it runs. It handles four entries per iteration so the
// popcounts of independent entries overlap.
func scanRows(hashes []words, q *words, radius int, dead *roaring.Bitmap, rowBase uint32, dst []Result) []Result {
	if radius < 0 {
		return dst
	}
	q0, q1, q2, q3 := q[0], q[1], q[2], q[3]
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
					dst = append(dst, Result{ID: uint64(row), Distance: d})
				}
			}
		}
	}
	for ; i < len(hashes); i++ {
		h := &hashes[i]
		d := bits.OnesCount64(h[0]^q0) + bits.OnesCount64(h[1]^q1) + bits.OnesCount64(h[2]^q2) + bits.OnesCount64(h[3]^q3)
		if d <= radius && (dead == nil || !dead.Contains(rowBase+uint32(i))) {
			dst = append(dst, Result{ID: uint64(i), Distance: d})
		}
	}
	return dst
}
