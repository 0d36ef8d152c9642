package hamming

import (
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/RoaringBitmap/roaring/v2"
)

// The grouped layout, optional from groupedFrom entries: a posting names a
// group of groupRows consecutive rows (128 bytes of hashes, two adjacent
// cache lines, transposed: see quad) instead of a row, and each substring's
// directory and postings are one Elias–Fano sequence (eliasfano.go) of the
// values bucket·G + group, G = ceil(rows/groupRows), each (bucket, group)
// once however many of the group's rows fall in the bucket. With U = 2^b·G
// values and about n of them, a value costs 2 + log2(U/n) = 2 + b - 2
// bits, directory included: 22 bits for 22-bit substrings, against 24 bits
// of row number plus about 3.6 bits of directory in the plain layout. At
// 10M entries and 11 substrings of 22 bits that is 30.9 bytes an entry
// (with the rank samples) instead of 37.9: 63.1 in all against 70.1.
//
// The sequences are coded in blocks of 32 high parts (efBlk, blocked.go),
// each block's high and low bits side by side, so that a bucket costs a
// 16-bit sample and one stretch of stream (session 11); Options.blocked -1
// keeps session 10's single efSeq, where a bucket's groups are found from
// its first value bucket·G: the rank sample and a select on the zeros of
// the high bits give the first element, the following ones and the low
// bits the rest (three dependent random reads). A candidate group is
// checked on its first line (the first 128 bits of its 4 rows), which
// rejects it nearly always; each row is then reported from the bucket that
// holds it (its own substring equals the bucket) and only from the first
// substring whose bound it meets, so results are those of the plain layout
// exactly. With the assembly of session 12 (the AVX2 group filter,
// filter_amd64.s, and the BMI2 decode, decode_amd64.s) it searches at 10M
// at about the plain layout's CPU time on uniform data and 1.0 to 1.3
// times on clustered data (1.5 to 1.7 without the assembly;
// docs/benchmarks.md, "p-mem5"), so it is the default from groupedFrom
// entries on CPUs with that assembly (groupedFast) and opt-in elsewhere.
const (
	groupRows   = 4
	groupedFrom = 1 << 23
)

// useGrouped reports whether a segment of n entries built with opts takes
// the grouped layout: forced by opts.grouped, else where the automatic
// layout is 11 substrings of 22 bits (from groupedFrom entries) and either
// opts.Grouped asks for it or the CPU runs its assembly (groupedFast) and
// opts.Plain does not refuse it. At 10M entries it costs 63.1 bytes an
// entry against 70.1, at 1.0 to 1.3 times the plain layout's CPU a query
// with the assembly and 1.5 to 1.7 without (docs/benchmarks.md, "The
// grouped layout by default"). Below 2^30 rows the high parts and element
// indices fit the probe's uint32s.
func useGrouped(n int, opts Options) bool {
	if n >= 1<<30 {
		return false
	}
	switch {
	case opts.grouped > 0:
		return true
	case opts.grouped < 0:
		return false
	}
	if opts.Substrings != 0 || opts.lengths != nil || n < groupedFrom {
		return false
	}
	return opts.Grouped || !opts.Plain && groupedFast()
}

// groupedFast reports whether this CPU runs the grouped layout's assembly:
// the AVX2 group filter and the BMI2 decode (fast PDEP).
func groupedFast() bool { return hasAVX2() && hasDecodeAsm() }

// roundUpGroup rounds n up to whole groups.
func roundUpGroup(n int) int { return (n + groupRows - 1) / groupRows * groupRows }

// buildGrouped builds the Elias–Fano sequence of every substring, in
// parallel as buildSegment does the plain ones, then turns the hashes into
// groups.
//
// Every array the probe reads at random is asked for huge pages
// (adviseHugePages, then collapseHugePages once written): with 4 KB pages
// nearly every read would also miss the TLB. The sequences' arrays are one
// allocation, made before the sort buffers, and the groups reuse the
// hashes' own array, which sortedUnique and liveSorted allocate with room
// for whole groups. The sizes come from a first pass counting each
// substring's distinct (bucket, group) values, which needs no sort: they
// are the distinct substring values within each group.
func (s *segment) buildGrouped() {
	n := len(s.hashes)
	s.groups = uint64((n + groupRows - 1) / groupRows)
	counts := make([]int, s.m)
	s.parallel(func(j int) { counts[j] = s.groupedCount(j) })
	if s.blkShift > 0 {
		s.buildBlocked(counts)
		return
	}
	s.ef = make([]efSeq, s.m)
	words, ranks := 0, 0
	for j := range s.m {
		_, _, lw, hw, rl := efShape(counts[j], uint64(1)<<s.length[j]*s.groups)
		words += lw + hw
		ranks += rl
	}
	wb := make([]uint64, words)
	rb := make([]uint32, ranks)
	adviseHugePages(wb)
	adviseHugePages(rb)
	wall, rall := wb, rb
	for j := range s.m {
		_, _, lw, hw, rl := efShape(counts[j], uint64(1)<<s.length[j]*s.groups)
		e := &s.ef[j]
		e.n = counts[j]
		e.low, wb = wb[:lw:lw], wb[lw:]
		e.high, wb = wb[:hw:hw], wb[hw:]
		e.ranks, rb = rb[:rl:rl], rb[rl:]
	}
	bufs := make(chan [2][]uint64, s.m)
	for range min(runtime.GOMAXPROCS(0), s.m) {
		bufs <- [2][]uint64{make([]uint64, n), make([]uint64, n)}
	}
	s.parallel(func(j int) {
		b := <-bufs
		s.buildGroupedSubstring(j, b[0], b[1])
		bufs <- b
	})
	collapseHugePages(wall)
	collapseHugePages(rall)
	s.quads = groupHashes(s.hashes)
	s.frontAsm = hasAVX2() && !s.pureGo
	collapseHugePages(s.quads)
	s.hashes = nil
}

// parallel runs f(0), …, f(m-1) on up to GOMAXPROCS goroutines.
func (s *segment) parallel(f func(j int)) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), s.m) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				f(j)
			}
		}()
	}
	for j := range s.m {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
}

// groupedCount returns the number of distinct (bucket, group) values of
// substring j.
func (s *segment) groupedCount(j int) int {
	start, b := s.start[j], s.length[j]
	c := 0
	for lo := 0; lo < len(s.hashes); lo += groupRows {
		var seen [groupRows]uint32
		k := 0
		for i := lo; i < min(lo+groupRows, len(s.hashes)); i++ {
			v := substr(&s.hashes[i], start, b)
			if !slices.Contains(seen[:k], v) {
				seen[k] = v
				k++
			}
		}
		c += k
	}
	return c
}

// buildGroupedSubstring sorts (substring value, row) pairs as
// buildSubstring does (rows ascending within a bucket, so a group's rows in
// one bucket are adjacent), then keeps each (bucket, group) value once.
func (s *segment) buildGroupedSubstring(j int, a, tmp []uint64) {
	start, b := s.start[j], s.length[j]
	lo := b / 2
	var h1, h2 [1 << 11]int
	loMask := uint32(1)<<lo - 1
	for i := range s.hashes {
		v := substr(&s.hashes[i], start, b)
		a[i] = uint64(v)<<32 | uint64(i)
		h1[v&loMask]++
		h2[v>>lo]++
	}
	radixPass(a, tmp, h1[:], 32, loMask)
	radixPass(tmp, a, h2[:], 32+uint(lo), ^uint32(0))
	g := s.groups
	c := 0
	for _, e := range a {
		v := (e>>32)*g + uint64(uint32(e))/groupRows
		if c == 0 || tmp[c-1] != v {
			tmp[c] = v
			c++
		}
	}
	if s.bk != nil {
		e := &s.bk[j]
		if c != e.n {
			panic("hamming: grouped count disagrees with the sort")
		}
		*e = fillBlk(tmp[:c], uint64(1)<<b*g, s.blkShift, e.bits, e.sub)
		return
	}
	e := &s.ef[j]
	if c != e.n {
		panic("hamming: grouped count disagrees with the sort")
	}
	*e = fillEF(tmp[:c], uint64(1)<<b*g, e.low, e.high, e.ranks)
}

// quad holds the hashes of a group's rows transposed: its first 64-byte
// line has words 0 and 1 of each row, its second words 2 and 3. A group
// found by the probe is a random read, and a random hash is within radius
// 31 of the query on its first 128 bits with probability about 10^-8, so
// the first line rejects a group on its own nearly always: one line a
// candidate, as in the plain layout, instead of two.
type quad struct {
	front [groupRows][2]uint64
	back  [groupRows][2]uint64
}

func (g *quad) row(k int) words {
	return words{g.front[k][0], g.front[k][1], g.back[k][0], g.back[k][1]}
}

// groupHashes turns hashes into groups, in their own array when its
// capacity holds whole groups (as Build's and Compact's do), else in a new
// one. Rows past the end of a short last group are zero; every reader stops
// at the row count.
func groupHashes(hashes []words) []quad {
	n := len(hashes)
	ng := (n + groupRows - 1) / groupRows
	if ng == 0 {
		return nil
	}
	if cap(hashes) < ng*groupRows {
		padded := make([]words, ng*groupRows)
		adviseHugePages(padded)
		copy(padded, hashes)
		hashes = padded
	}
	hashes = hashes[:ng*groupRows]
	clear(hashes[n:])
	qs := unsafe.Slice((*quad)(unsafe.Pointer(unsafe.SliceData(hashes))), ng)
	for gi := range qs {
		rows := *(*[groupRows]words)(hashes[gi*groupRows:])
		g := &qs[gi]
		for k, h := range rows {
			g.front[k] = [2]uint64{h[0], h[1]}
			g.back[k] = [2]uint64{h[2], h[3]}
		}
	}
	return qs
}

// scanQuads is scanRows over the first n rows held in groups.
func scanQuads(qs []quad, n int, q *words, radius int, dead *roaring.Bitmap, rowBase uint32, dst []Result) []Result {
	if radius < 0 {
		return dst
	}
	q0, q1, q2, q3 := q[0], q[1], q[2], q[3]
	for gi := range qs {
		g := &qs[gi]
		var d [groupRows]int
		for k := range groupRows {
			d[k] = bits.OnesCount64(g.front[k][0]^q0) + bits.OnesCount64(g.front[k][1]^q1) +
				bits.OnesCount64(g.back[k][0]^q2) + bits.OnesCount64(g.back[k][1]^q3)
		}
		if min(d[0], d[1], d[2], d[3]) > radius {
			continue
		}
		for k := range groupRows {
			row := uint32(gi*groupRows + k)
			if d[k] <= radius && int(row) < n && (dead == nil || !dead.Contains(rowBase+row)) {
				dst = append(dst, Result{ID: uint64(row), Distance: d[k]})
			}
		}
	}
	return dst
}

// groupedBucketNumbers is the first stage of both grouped probes: the
// bucket numbers a query probes, substring by substring, with each one's
// substring in tabs; probeEnds[j] ends substring j's. They are kept in sc.
func (s *segment) groupedBucketNumbers(q *words, radius int, sc *scratch) (vals []uint32, tabs []uint8, probeEnds [32]int) {
	vals, tabs = sc.vals[:0], sc.tabs[:0]
	for j := range s.m {
		if r := subRadius(radius, s.m, j); r >= 0 {
			t := s.tables[j]
			qv := substr(q, s.start[j], s.length[j])
			for _, x := range t.masks[:t.upTo[min(r, s.length[j])]] {
				vals = append(vals, qv^x)
				tabs = append(tabs, uint8(j))
			}
		}
		probeEnds[j] = len(vals)
	}
	sc.vals, sc.tabs = vals, tabs
	return vals, tabs, probeEnds
}

// probeGrouped is probe for the grouped layout, in stages: bucket numbers;
// each bucket's elements, from its rank sample and high bits (read in a
// software pipeline); the low bits, which give the groups; a pass
// prefetching the groups' first lines; then the distance checks.
func (s *segment) probeGrouped(q *words, radius int, dead *roaring.Bitmap, rowBase uint32, dst []Result, sc *scratch, limit int) (_ []Result, ok bool) {
	m, g := s.m, s.groups
	vals, tabs, probeEnds := s.groupedBucketNumbers(q, radius, sc)
	nb := len(vals)

	// Each bucket's elements: those of the high parts its values span,
	// consecutive from index first. Nearly always they fit the 64 bits
	// from the bucket's first high part, kept in wins[i] (its ones below
	// the closing zero); otherwise (wins[i] == 0, lens[i] > 0) they are
	// decoded into elems and highs from index first.
	//
	// The three reads a bucket takes (rank sample, high bits, then low
	// bits) are software-pipelined: while bucket i is decoded, the high
	// bits of bucket i+ahead1 and the sample of bucket i+ahead2 are
	// prefetched, so that a few dozen reads are in flight at any time.
	// Issued stage by stage for all buckets at once, most of them found
	// the miss buffers full, and the decode's branches on the bits then
	// waited on each read in turn.
	const ahead1, ahead2 = 8, 16
	pos := slices.Grow(sc.pos[:0], nb+ahead2)[:nb+ahead2]
	lens := slices.Grow(sc.lens[:0], nb)[:nb]
	firsts := slices.Grow(sc.firsts[:0], nb)[:nb]
	wins := slices.Grow(sc.wins[:0], nb)[:nb]
	sc.pos, sc.lens, sc.firsts, sc.wins = pos, lens, firsts, wins
	high := func(i int) uint64 {
		return uint64(vals[i]) * g >> s.ef[tabs[i]].lowBits
	}
	for i := range min(ahead2, nb) {
		prefetch(s.ef[tabs[i]].rankAddr(high(i)))
	}
	for i := range min(ahead1, nb) {
		e := &s.ef[tabs[i]]
		h := high(i)
		pos[i] = e.sampleStart(h)
		prefetch(e.highAddr(pos[i] + 2*(h&(1<<efRankShift-1))))
	}
	elems, highs := sc.elems[:0], sc.highs[:0]
	total := 0
	for i := range nb {
		if k := i + ahead2; k < nb {
			prefetch(s.ef[tabs[k]].rankAddr(high(k)))
		}
		if k := i + ahead1; k < nb {
			e := &s.ef[tabs[k]]
			h := high(k)
			pos[k] = e.sampleStart(h)
			// The start is about two bits a high part further on.
			prefetch(e.highAddr(pos[k] + 2*(h&(1<<efRankShift-1))))
		}
		e := &s.ef[tabs[i]]
		lo := uint64(vals[i]) * g
		hlo, hhi := lo>>e.lowBits, (lo+g-1)>>e.lowBits
		// Skip t zeros from the sample: within its first 128 bits but
		// for dense stretches, chosen without a branch on the bits.
		p, t := pos[i], hlo&(1<<efRankShift-1)
		if t > 0 {
			z0, z1 := ^e.bitsAt(p), ^e.bitsAt(p+64)
			c0 := uint64(bits.OnesCount64(z0))
			z, tt := z0, t
			if t > c0 {
				z, tt, p = z1, t-c0, p+64
			}
			if tt <= uint64(bits.OnesCount64(z)) {
				p += uint64(selectBit(z, int(tt-1))) + 1
			} else {
				p = e.skipZeros(pos[i], t)
			}
		}
		first := p - hlo
		k := int(hhi - hlo + 1) // zeros closing the bucket's high parts
		w := e.bitsAt(p)
		var cnt int
		if bits.OnesCount64(^w) >= k {
			z := selectBit(^w, k-1)
			cnt = z + 1 - k
			wins[i], firsts[i] = w&(1<<z-1), uint32(first)
		} else {
			before := len(elems)
			elems, highs = e.appendRange(p, first, hlo, hhi, elems, highs)
			cnt = len(elems) - before
			wins[i], firsts[i] = 0, uint32(before)
		}
		lens[i] = uint32(cnt)
		total += cnt
		prefetch(e.lowAddr(first))
	}
	sc.elems, sc.highs = elems, highs
	// The cost guard counts candidate groups, known once the low bits are
	// read: an element at a high part the bucket shares with its
	// neighbours costs a few instructions, a group a random line. total
	// bounds them, so most queries skip the check below.
	if total > limit {
		if n := s.countGroups(vals, tabs, lens, firsts, wins, elems, highs); n > limit {
			return dst, false
		}
	}

	// The groups: elements whose value falls in the bucket's range.
	groups, buckt := sc.rows[:0], sc.buckt[:0]
	var ends [32]int // groups[ends[j-1]:ends[j]] came from substring j
	from := 0
	for j := range m {
		e := &s.ef[j]
		lb := e.lowBits
		for i := from; i < probeEnds[j]; i++ {
			lo := uint64(vals[i]) * g
			if w := wins[i]; w != 0 {
				// The first 4 elements without a branch on their bits
				// (each is kept by moving the end past it), which covers
				// a bucket nearly always; then the rest.
				hlo, first := lo>>lb, uint64(firsts[i])
				cnt := uint64(lens[i])
				groups = slices.Grow(groups, 4+len(groups))
				buckt = slices.Grow(buckt, 4+len(buckt))
				ng := len(groups)
				gs, bs := groups[:ng+4], buckt[:ng+4]
				for r := range uint64(4) {
					b := uint64(bits.TrailingZeros64(w))
					w &= w - 1
					v := (hlo+b-r)<<lb | e.lowAt(first+r)
					gs[ng], bs[ng] = uint32(v-lo), vals[i]
					// Kept if r < cnt and v in [lo, lo+g): below lo
					// wraps around.
					_, inRange := bits.Sub64(v-lo, g, 0)
					_, valid := bits.Sub64(r, cnt, 0)
					ng += int(inRange & valid)
				}
				groups, buckt = gs[:ng], bs[:ng]
				for r := uint64(4); r < cnt; r++ {
					b := uint64(bits.TrailingZeros64(w))
					w &= w - 1
					v := (hlo+b-r)<<lb | e.lowAt(first+r)
					if v-lo < g {
						groups = append(groups, uint32(v-lo))
						buckt = append(buckt, vals[i])
					}
				}
				continue
			}
			for c := firsts[i]; c < firsts[i]+lens[i]; c++ {
				v := uint64(highs[c])<<lb | e.lowAt(uint64(elems[c]))
				if v-lo < g {
					groups = append(groups, uint32(v-lo))
					buckt = append(buckt, vals[i])
				}
			}
		}
		from = probeEnds[j]
		ends[j] = len(groups)
	}
	sc.rows, sc.buckt = groups, buckt
	return s.checkGroups(q, radius, dead, rowBase, dst, groups, buckt, &ends, sc), true
}

// checkGroups is the probe's last stage in the grouped layout. A batched
// filter (frontFilter) first keeps the candidate groups with a row within
// radius of q on its first 128 bits, prefetching the groups' first lines
// ahead as it goes; then each kept group's rows are checked in full,
// reporting a row only from the bucket holding it (buckt[c], the bucket
// groups[c] came from) and from the first substring whose bound it meets.
// groups[ends[j-1]:ends[j]] came from substring j.
//
// The filter is one tight loop because the check was slow as one loop
// over groups doing both: with the rare survivors' code in it, the
// compiler kept the loop's state on the stack (docs/benchmarks.md,
// "p-mem5").
func (s *segment) checkGroups(q *words, radius int, dead *roaring.Bitmap, rowBase uint32, dst []Result, groups, buckt []uint32, ends *[32]int, sc *scratch) []Result {
	quads, ids := s.quads, &s.ids
	nrows := uint32(s.rows())
	surv := slices.Grow(sc.surv[:0], len(groups))[:len(groups)]
	sc.surv = surv
	var k int
	if s.frontAsm {
		k = frontFilterAsm(quads, groups, q, radius, surv)
	} else {
		k = frontFilterGo(quads, groups, q, radius, surv)
	}
	j := 0
	for _, c := range surv[:k] {
		for int(c) >= ends[j] {
			j++
		}
		start, length := s.start[j], s.length[j]
		grp := groups[c]
		qd := &quads[grp]
		for r := range groupRows {
			row := grp*groupRows + uint32(r)
			if row >= nrows {
				break
			}
			h := qd.row(r)
			d := distWords(&h, q)
			// A row of the group in another bucket is reported from that
			// bucket, if at all.
			if d > radius || substr(&h, start, length) != buckt[c] || s.seenEarlier(&h, q, radius, j) {
				continue
			}
			if dead != nil && dead.Contains(rowBase+row) {
				continue
			}
			dst = append(dst, Result{ID: ids.at(row), Distance: d})
		}
	}
	return dst
}

// frontAhead is how many groups ahead the filters prefetch: all at once
// measured slower (p-mem4).
const frontAhead = 48

// frontFilterGo writes to out, in order, the indices c of the groups
// groups[c] that have a row within radius of q on its first 128 bits (the
// front line), and returns their number; out holds len(groups). It
// prefetches the front line frontAhead groups ahead. frontFilterAsm does
// the same in AVX2.
func frontFilterGo(quads []quad, groups []uint32, q *words, radius int, out []uint32) int {
	if len(groups) == 0 {
		return 0
	}
	out = out[:len(groups)]
	q0, q1 := q[0], q[1]
	last := len(groups) - 1
	k := 0
	for c, g := range groups {
		prefetch(unsafe.Pointer(&quads[groups[min(c+frontAhead, last)]]))
		f := &quads[g].front
		d := min(
			bits.OnesCount64(f[0][0]^q0)+bits.OnesCount64(f[0][1]^q1),
			bits.OnesCount64(f[1][0]^q0)+bits.OnesCount64(f[1][1]^q1),
			bits.OnesCount64(f[2][0]^q0)+bits.OnesCount64(f[2][1]^q1),
			bits.OnesCount64(f[3][0]^q0)+bits.OnesCount64(f[3][1]^q1))
		// Written always, counted if kept: no branch on the rare match.
		out[k] = uint32(c)
		if d <= radius {
			k++
		}
	}
	return k
}

// countGroups counts the elements that fall in their bucket's range, as
// the probe's group stage would keep them.
func (s *segment) countGroups(vals []uint32, tabs []uint8, lens, firsts []uint32, wins []uint64, elems, highs []uint32) int {
	g, n := s.groups, 0
	for i, v := range vals {
		e := &s.ef[tabs[i]]
		lo := uint64(v) * g
		if w := wins[i]; w != 0 {
			hlo, first := lo>>e.lowBits, uint64(firsts[i])
			for r := uint64(0); w != 0; r++ {
				b := uint64(bits.TrailingZeros64(w))
				w &= w - 1
				if (hlo+b-r)<<e.lowBits|e.lowAt(first+r)-lo < g {
					n++
				}
			}
			continue
		}
		for c := firsts[i]; c < firsts[i]+lens[i]; c++ {
			if uint64(highs[c])<<e.lowBits|e.lowAt(uint64(elems[c]))-lo < g {
				n++
			}
		}
	}
	return n
}
