package hamming

import (
	"math/bits"
	"runtime"
	"slices"
	"unsafe"

	"github.com/RoaringBitmap/roaring/v2"
)

// efBlk is an Elias–Fano sequence (see efSeq) cut into blocks of 2^shift
// high parts, each block's high bits and low bits side by side in one bit
// stream, so that a lookup reads a small sample and then one stretch of
// the stream (a line, or two adjacent ones), where efSeq reads a sample,
// the high bits and then the low bits, each a random line of its own.
//
// Block k holds the elements whose high part is in [k·H, k·H+H), H =
// 2^shift: first its unary high bits, for each of its H high parts that
// part's elements as ones and then a zero (H zeros and n_k ones), then the
// n_k elements' low bits, L each. With r_k the elements before block k, the
// block starts at bit (L+1)·r_k + H·k, so the samples r_k alone place
// every block; they are stored as 16-bit offsets (sub) from a 32-bit
// sample every 2^(shift+topShift) high parts (top), topShift chosen per
// sequence as large as the 16 bits allow. The whole costs
// n·(2 + L) bits and 16 bits a block: with about one element a high part,
// 16/H bits an element for the samples (1 at H = 16, 0.5 at H = 32, as
// efSeq's uint32 every 64 high parts).
type efBlk struct {
	n        int
	lowBits  uint   // L
	lowMask  uint64 // 1<<L - 1
	nHigh    uint64 // high parts in use
	shift    uint   // H = 1<<shift high parts a block
	topShift uint   // 2^topShift blocks a top sample
	bits     []uint64
	sub      []uint16 // r_k - top[k>>topShift], blocks 0 to nBlocks
	top      []uint32
	pdep     bool // select with PDEP (fastPdep)
}

// defaultBlockShift sets the grouped layout's blocks: 32 high parts, 63.1
// bytes an entry at 10M (16 would cost 63.8 and measured no faster).
const defaultBlockShift = 5

// fastElems is how many elements of a bucket's high parts appendIn decodes
// without a branch on their count.
const fastElems = 6

// efBlkShape returns the low bits, high parts, blocks and the length of the
// bit stream in words (with spare words: every read may load two, and the
// probe reads a word past a block's end) for n values below universe.
func efBlkShape(n int, universe uint64, shift uint) (lb uint, nHigh, nBlocks uint64, words int) {
	lb, nHigh, _, _, _ = efShape(n, universe)
	nBlocks = (nHigh + 1<<shift - 1) >> shift
	total := (uint64(lb)+1)*uint64(n) + nBlocks<<shift
	// Spare words: two-word reads, and the probe's low bits of up to
	// fastElems-1 elements past a block's last (at most 64 bits each).
	return lb, nHigh, nBlocks, int((total+63)/64 + fastElems + 3)
}

// newEFBlk encodes vals, which must be non-decreasing and below universe.
func newEFBlk(vals []uint64, universe uint64, shift uint) efBlk {
	_, _, nb, w := efBlkShape(len(vals), universe, shift)
	return fillBlk(vals, universe, shift, make([]uint64, w), make([]uint16, nb+1))
}

// fillBlk encodes vals into bitsBuf and sub (zeroed, of the lengths
// efBlkShape gives: words, nBlocks+1) and a top sample array of its own.
// It panics if vals are not sorted or not below universe: a caller's bug.
func fillBlk(vals []uint64, universe uint64, shift uint, bitsBuf []uint64, sub []uint16) efBlk {
	n := len(vals)
	lb, nHigh, nBlocks, w := efBlkShape(n, universe, shift)
	if len(bitsBuf) != w || uint64(len(sub)) != nBlocks+1 {
		panic("hamming: efBlk arrays of the wrong size")
	}
	e := efBlk{n: n, lowBits: lb, lowMask: 1<<lb - 1, nHigh: nHigh, shift: shift, bits: bitsBuf, sub: sub, pdep: fastPdep()}
	// r[k], elements before block k, for k = 0 to nBlocks.
	r := make([]uint32, nBlocks+1)
	prev := uint64(0)
	for _, v := range vals {
		if v < prev || v >= max(universe, 1) {
			panic("hamming: efBlk values not sorted or out of range")
		}
		prev = v
		r[(v>>lb>>shift)+1]++
	}
	for k := uint64(1); k <= nBlocks; k++ {
		r[k] += r[k-1]
	}
	// The largest top window whose offsets fit 16 bits.
	for e.topShift = 10; e.topShift > 0; e.topShift-- {
		ok := true
		for k := uint64(0); k <= nBlocks && ok; k++ {
			ok = r[k]-r[k>>e.topShift<<e.topShift] <= 0xffff
		}
		if ok {
			break
		}
	}
	e.top = make([]uint32, nBlocks>>e.topShift+1)
	for k := uint64(0); k <= nBlocks; k++ {
		if k&(1<<e.topShift-1) == 0 {
			e.top[k>>e.topShift] = r[k]
		}
		sub[k] = uint16(r[k] - e.top[k>>e.topShift])
	}
	for i, v := range vals {
		h := v >> lb
		k := h >> shift
		o := e.blockStart(k)
		// The element's one: after the zeros of the high parts before h
		// in the block and the ones of the elements before it.
		p := o + (h - k<<shift) + (uint64(i) - uint64(r[k]))
		e.bits[p>>6] |= 1 << (p & 63)
		if lb > 0 {
			q := o + 1<<shift + uint64(r[k+1]-r[k]) + (uint64(i)-uint64(r[k]))*uint64(lb)
			lv := v & e.lowMask
			e.bits[q>>6] |= lv << (q & 63)
			if q&63+uint64(lb) > 64 {
				e.bits[q>>6+1] |= lv >> (64 - q&63)
			}
		}
	}
	return e
}

// rank returns r_k, the elements before block k (k at most nBlocks).
func (e *efBlk) rank(k uint64) uint64 {
	return uint64(e.top[k>>e.topShift]) + uint64(e.sub[k])
}

// blockStart returns the bit where block k starts.
func (e *efBlk) blockStart(k uint64) uint64 {
	return (uint64(e.lowBits)+1)*e.rank(k) + k<<e.shift
}

// subAddr is where rank(k) reads sub, for prefetching.
func (e *efBlk) subAddr(k uint64) unsafe.Pointer { return unsafe.Pointer(&e.sub[k]) }

// bitAddr is the word holding bit p, for prefetching.
func (e *efBlk) bitAddr(p uint64) unsafe.Pointer {
	return unsafe.Pointer(&e.bits[min(p>>6, uint64(len(e.bits)-1))])
}

// bitsAt returns the 64 bits of the stream from bit p on.
func (e *efBlk) bitsAt(p uint64) uint64 {
	w, o := p>>6, p&63
	return e.bits[w]>>o | e.bits[w+1]<<(64-o)
}

// bytes is the memory e holds.
func (e *efBlk) bytes() int64 {
	return int64(cap(e.bits))*8 + int64(cap(e.sub))*2 + int64(cap(e.top))*4
}

// appendIn appends v - lo for every value v of the sequence in [lo, lo+g),
// g > 0, lo+g at most the universe: the groups of a bucket, in the grouped
// layout. It reads the blocks holding high parts lo>>L to (lo+g-1)>>L;
// within a block, when the zeros it needs are in the block's first 64
// bits (nearly always), it finds them without a loop.
func (e *efBlk) appendIn(lo, g uint64, dst []uint32) []uint32 {
	k := lo >> e.lowBits >> e.shift
	o, nk := e.blockAt(k)
	return e.appendInAt(lo, g, o, nk, dst)
}

// blockAt returns where block k starts and its element count.
func (e *efBlk) blockAt(k uint64) (o, nk uint64) {
	rk, rk1 := e.rank(k), e.rank(k+1)
	return (uint64(e.lowBits)+1)*rk + k<<e.shift, rk1 - rk
}

// appendInAt is appendIn given blockAt of the first block, as the probe
// reads it a stage earlier.
func (e *efBlk) appendInAt(lo, g, o, nk uint64, dst []uint32) []uint32 {
	lb, sh := e.lowBits, e.shift
	hlo, hhi := lo>>lb, (lo+g-1)>>lb
	for k := hlo >> sh; k <= hhi>>sh; k++ {
		base := k << sh
		t1, t2 := max(hlo, base)-base, min(hhi, base+1<<sh-1)-base
		if k > hlo>>sh {
			o, nk = e.blockAt(k)
		}
		low := o + 1<<sh + nk // the block's low bits
		w := e.bitsAt(o)
		// A zero below bit 0 stands for the start of high part 0, so
		// that high part t starts after the t-th set bit of zz.
		zz := ^w<<1 | 1
		if uint64(bits.OnesCount64(zz)) > t2+1 {
			var p1, p2 uint64
			if e.pdep {
				p1, p2 = selectPairPdep(zz, t1, t2+1)
			} else {
				p1, p2 = uint64(selectBit(zz, int(t1))), uint64(selectBit(zz, int(t2+1)))
			}
			p2--
			win := w >> p1 & (1<<(p2-p1) - 1)
			// The block's index of the first element is p1 - t1.
			dst = e.emitWindow(dst, win, p2-p1-(t2-t1), base+t1, p1-t1, low, lo, g)
			continue
		}
		// Long runs: walk the unary a word at a time.
		p, t := o, uint64(0)
		for t < t1 {
			z := ^e.bitsAt(p)
			c := uint64(bits.OnesCount64(z))
			if t+c >= t1 {
				p += uint64(selectBit(z, int(t1-t-1))) + 1
				break
			}
			t += c
			p += 64
		}
		idx := p - o - t1
		// Then, nearly always, the bucket's high parts close within the
		// 64 bits from their start.
		w2 := e.bitsAt(p)
		if need := t2 - t1; uint64(bits.OnesCount64(^w2)) > need {
			var p2 uint64
			if e.pdep {
				p2, _ = selectPairPdep(^w2, need, need)
			} else {
				p2 = uint64(selectBit(^w2, int(need)))
			}
			dst = e.emitWindow(dst, w2&(1<<p2-1), p2-need, base+t1, idx, low, lo, g)
			continue
		}
		for h := base + t1; h <= base+t2; h++ {
			for {
				run := uint64(bits.TrailingZeros64(^e.bitsAt(p)))
				for i := range run {
					v := h<<lb | e.lowAt(low+(idx+i)*uint64(lb))
					if v-lo < g {
						dst = append(dst, uint32(v-lo))
					}
				}
				idx += run
				p += run
				if run < 64 {
					break
				}
			}
			p++ // the zero closing h
		}
	}
	return dst
}

// emitWindow appends v - lo for the cnt elements of win (their ones, each
// high part's elements followed by a zero, from high part h0 on), the
// first of index first in the block whose low bits start at bit low, that
// fall in [lo, lo+g). The first fastElems elements are decoded without a
// branch on the bits (each kept by moving the end past it), which covers a
// bucket's high parts (3.4 elements on average at 10M) 94 % of the time;
// reads past the block's last element stay in the stream (its spare
// words).
func (e *efBlk) emitWindow(dst []uint32, win, cnt, h0, first, low, lo, g uint64) []uint32 {
	lb := e.lowBits
	dst = slices.Grow(dst, fastElems)
	nd := len(dst)
	ds := dst[:nd+fastElems]
	for r := range uint64(fastElems) {
		b := uint64(bits.TrailingZeros64(win))
		win &= win - 1
		v := (h0+b-r)<<lb | e.lowAt(low+(first+r)*uint64(lb))
		ds[nd] = uint32(v - lo)
		// Kept if r < cnt and v in [lo, lo+g): below lo wraps.
		_, inRange := bits.Sub64(v-lo, g, 0)
		_, valid := bits.Sub64(r, cnt, 0)
		nd += int(inRange & valid)
	}
	dst = ds[:nd]
	for r := uint64(fastElems); r < cnt; r++ {
		b := uint64(bits.TrailingZeros64(win))
		win &= win - 1
		v := (h0+b-r)<<lb | e.lowAt(low+(first+r)*uint64(lb))
		if v-lo < g {
			dst = append(dst, uint32(v-lo))
		}
	}
	return dst
}

// lowAt returns the L bits from bit q.
func (e *efBlk) lowAt(q uint64) uint64 {
	w, o := q>>6, q&63
	return (e.bits[w]>>o | e.bits[w+1]<<(64-o)) & e.lowMask
}

// prefetchBucket starts loading what appendIn(lo, ·) reads first: the
// block's first line and, for a block longer than a line, its last.
func (e *efBlk) prefetchBucket(lo uint64) {
	k := lo >> e.lowBits >> e.shift
	o := e.blockStart(k)
	end := e.blockStart(k + 1)
	prefetch(e.bitAddr(o))
	prefetch(e.bitAddr(end))
}

// decode returns the whole sequence, for tests.
func (e *efBlk) decode() []uint64 {
	out := make([]uint64, 0, e.n)
	nb := uint64(len(e.sub) - 1)
	for k := range nb {
		o, rk, rk1 := e.blockStart(k), e.rank(k), e.rank(k+1)
		h, idx := k<<e.shift, uint64(0)
		for p := o; idx < rk1-rk; p++ {
			if e.bits[p>>6]>>(p&63)&1 == 0 {
				h++
				continue
			}
			out = append(out, h<<e.lowBits|e.lowAt(o+1<<e.shift+rk1-rk+idx*uint64(e.lowBits)))
			idx++
		}
	}
	return out
}

// buildBlocked is buildGrouped's second half for the blocked coding: the
// streams and the 16-bit samples of all substrings in one allocation each,
// made before the sort buffers and asked for huge pages, then filled in
// parallel.
func (s *segment) buildBlocked(counts []int) {
	n := len(s.hashes)
	s.bk = make([]efBlk, s.m)
	words, subs := 0, 0
	for j := range s.m {
		_, _, nb, w := efBlkShape(counts[j], uint64(1)<<s.length[j]*s.groups, s.blkShift)
		words += w
		subs += int(nb) + 1
	}
	wb := make([]uint64, words)
	sb := make([]uint16, subs)
	adviseHugePages(wb)
	adviseHugePages(sb)
	wall, sall := wb, sb
	for j := range s.m {
		_, _, nb, w := efBlkShape(counts[j], uint64(1)<<s.length[j]*s.groups, s.blkShift)
		e := &s.bk[j]
		e.n = counts[j]
		e.bits, wb = wb[:w:w], wb[w:]
		e.sub, sb = sb[:nb+1:nb+1], sb[nb+1:]
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
	collapseHugePages(sall)
	s.quads = groupHashes(s.hashes)
	s.frontAsm = hasAVX2() && !s.pureGo
	s.decodeAsm = hasDecodeAsm() && !s.pureGo
	collapseHugePages(s.quads)
	s.hashes = nil
}

// decodeAndCheck is the rest of probeBlocked with the decode in assembly
// (decodeBlocks, which prefetches each bucket's block 16 buckets ahead
// from the addresses in sc.pf); buckets off its fast path go to
// appendInAt.
func (s *segment) decodeAndCheck(q *words, radius int, dead *roaring.Bitmap, rowBase uint32, dst []Result, sc *scratch, limit int, vals []uint32, tabs []uint8, probeEnds *[32]int, pos []uint64, lens []uint32) (_ []Result, ok bool) {
	g, nb := s.groups, len(vals)
	pf := slices.Grow(sc.pf[:0], 2*nb)[:2*nb]
	sc.pf = pf
	pos2 := slices.Grow(sc.pos2[:0], nb)[:nb]
	lens2 := slices.Grow(sc.lens2[:0], nb)[:nb]
	sc.pos2, sc.lens2 = pos2, lens2
	for i, o := range pos {
		e := &s.bk[tabs[i]]
		end := o + 1<<e.shift + uint64(lens[i])*(uint64(e.lowBits)+1)
		pf[2*i] = uintptr(e.bitAddr(o))
		pf[2*i+1] = uintptr(e.bitAddr(end))
		// A bucket whose high parts end in the next block (7 % at 10M):
		// that block too, read as its second part.
		lo := uint64(vals[i]) * g
		if k := lo >> e.lowBits >> e.shift; (lo+g-1)>>e.lowBits>>e.shift == k+1 {
			o2, nk2 := e.blockAt(k + 1)
			pos2[i], lens2[i] = o2, uint32(nk2)
			pf[2*i+1] = uintptr(e.bitAddr(o2))
		}
	}
	slow := slices.Grow(sc.slow[:0], nb)[:nb]
	sc.slow = slow
	groups, buckt := sc.rows[:0], sc.buckt[:0]
	var ends [32]int
	from := 0
	for j := range s.m {
		e := &s.bk[j]
		to := probeEnds[j]
		if to > from {
			a := decodeArgs{
				bits: &e.bits[0], nw1: uint64(len(e.bits) - 1), lb: uint64(e.lowBits),
				h: 1 << e.shift, sh: uint64(e.shift), lowMask: e.lowMask, g: g,
				vals: &vals[from], pos: &pos[from], lens: &lens[from], n: uint64(to - from),
				pf: &pf[2*from], npf: uint64(nb - from), slow: &slow[0],
				pos2: &pos2[from], lens2: &lens2[from],
			}
			for a.done < a.n {
				n0 := len(groups)
				groups = slices.Grow(groups, 256+4*(to-from))
				buckt = slices.Grow(buckt, cap(groups)-len(buckt))
				room := min(cap(groups), cap(buckt)) - n0
				a.out, a.outb, a.room, a.nout = &groups[:n0+1][n0], &buckt[:n0+1][n0], uint64(room), 0
				decodeBlocks(&a)
				if a.done > a.n {
					panic("hamming: decodeBlocks read past a stream")
				}
				groups, buckt = groups[:n0+int(a.nout)], buckt[:n0+int(a.nout)]
			}
			for _, k := range slow[:a.nslow] {
				i := from + int(k)
				before := len(groups)
				groups = e.appendInAt(uint64(vals[i])*g, g, pos[i], uint64(lens[i]), groups)
				for range len(groups) - before {
					buckt = append(buckt, vals[i])
				}
			}
		}
		from = to
		ends[j] = len(groups)
		if len(groups) > limit {
			sc.rows, sc.buckt = groups, buckt
			return dst, false
		}
	}
	sc.rows, sc.buckt = groups, buckt
	return s.checkGroups(q, radius, dead, rowBase, dst, groups, buckt, &ends, sc), true
}

// blockAhead is how many buckets ahead of its decode probeBlocked
// prefetches a bucket's block.
const blockAhead = 16

// prefetchBlock prefetches the lines of the block of substring j that
// starts at bit o and holds nk elements (up to 4, in one call: each call
// of an assembly function costs the probe's loop its registers).
func (s *segment) prefetchBlock(j uint8, o uint64, nk uint32) {
	e := &s.bk[j]
	end := o + 1<<e.shift + uint64(nk)*(uint64(e.lowBits)+1)
	prefetchSpan(e.bitAddr(o), e.bitAddr(end))
}

// blocksStaged is session 11's first half of probeBlocked, for the
// benchmarks (Options.staged): each a flat loop of independent reads that
// prefetches what the next one reads, the samples, then each block's
// first and last lines.
func (s *segment) blocksStaged(vals []uint32, tabs []uint8, pos []uint64, lens []uint32, sc *scratch) {
	g := s.groups
	// Stages, each a flat loop of independent reads that prefetches what
	// the next one reads: the samples, then each block's first and last
	// lines (from the samples), then the decode.
	for i, v := range vals {
		e := &s.bk[tabs[i]]
		prefetch(e.subAddr(uint64(v) * g >> e.lowBits >> e.shift))
	}
	for i, v := range vals {
		e := &s.bk[tabs[i]]
		o, nk := e.blockAt(uint64(v) * g >> e.lowBits >> e.shift)
		pos[i], lens[i] = o, uint32(nk)
		prefetch(e.bitAddr(o))
		prefetch(e.bitAddr(o + 1<<e.shift + nk*(uint64(e.lowBits)+1)))
	}
	// A light loop of loads of those lines: software prefetches are
	// dropped once too many are in flight, and the decode below is too
	// long a loop for the CPU to run many of its misses at once.
	var touch uint64
	for i, o := range pos {
		e := &s.bk[tabs[i]]
		touch ^= e.bits[o>>6] ^ e.bits[(o+1<<e.shift+uint64(lens[i])*(uint64(e.lowBits)+1))>>6]
	}
	sc.touch = touch
}

// probeBlocked is probeGrouped for the blocked coding: bucket numbers;
// each bucket's groups, read in a software pipeline (the sample of bucket
// i+ahead2 and the block of bucket i+ahead1 prefetched while bucket i is
// decoded: one sample, which mostly stays in the caches, and one stretch of
// the stream a bucket); then checkGroups.
func (s *segment) probeBlocked(q *words, radius int, dead *roaring.Bitmap, rowBase uint32, dst []Result, sc *scratch, limit int) (_ []Result, ok bool) {
	m, g := s.m, s.groups
	vals, tabs, probeEnds := s.groupedBucketNumbers(q, radius, sc)
	nb := len(vals)

	pos := slices.Grow(sc.pos[:0], nb)[:nb]
	lens := slices.Grow(sc.lens[:0], nb)[:nb]
	sc.pos, sc.lens = pos, lens
	if s.staged {
		s.blocksStaged(vals, tabs, pos, lens, sc)
	} else {
		// The samples, read sampleAhead buckets after their prefetch.
		const sampleAhead = 32
		for i, v := range vals[:min(sampleAhead, nb)] {
			e := &s.bk[tabs[i]]
			prefetch(e.subAddr(uint64(v) * g >> e.lowBits >> e.shift))
		}
		for i, v := range vals {
			if k := i + sampleAhead; k < nb {
				e := &s.bk[tabs[k]]
				prefetch(e.subAddr(uint64(vals[k]) * g >> e.lowBits >> e.shift))
			}
			e := &s.bk[tabs[i]]
			o, nk := e.blockAt(uint64(v) * g >> e.lowBits >> e.shift)
			pos[i], lens[i] = o, uint32(nk)
		}
		if s.decodeAsm {
			return s.decodeAndCheck(q, radius, dead, rowBase, dst, sc, limit, vals, tabs, &probeEnds, pos, lens)
		}
		for i := range min(blockAhead, nb) {
			s.prefetchBlock(tabs[i], pos[i], lens[i])
		}
	}
	groups, buckt := sc.rows[:0], sc.buckt[:0]
	var ends [32]int
	i := 0
	for j := range m {
		e := &s.bk[j]
		for ; i < probeEnds[j]; i++ {
			if k := i + blockAhead; k < nb && !s.staged {
				s.prefetchBlock(tabs[k], pos[k], lens[k])
			}
			before := len(groups)
			groups = e.appendInAt(uint64(vals[i])*g, g, pos[i], uint64(lens[i]), groups)
			if added := len(groups) - before; added <= 8 {
				// Without a branch on the count, as the groups.
				nb := len(buckt)
				bs := slices.Grow(buckt, 8)[:nb+8]
				v := vals[i]
				bs[nb], bs[nb+1], bs[nb+2], bs[nb+3] = v, v, v, v
				bs[nb+4], bs[nb+5], bs[nb+6], bs[nb+7] = v, v, v, v
				buckt = bs[:nb+added]
			} else {
				for range added {
					buckt = append(buckt, vals[i])
				}
			}
		}
		ends[j] = len(groups)
		// The cost guard counts candidate groups, as probeGrouped's.
		if len(groups) > limit {
			sc.rows, sc.buckt = groups, buckt
			return dst, false
		}
	}
	sc.rows, sc.buckt = groups, buckt
	return s.checkGroups(q, radius, dead, rowBase, dst, groups, buckt, &ends, sc), true
}
