package hamming

import (
	"math/bits"
	"unsafe"
)

// efSeq is a non-decreasing sequence of integers below a universe U in
// Elias–Fano form (Elias 1974, Fano 1971; Vigna, "Quasi-succinct indices",
// 2013). Each value is split into its low L bits, stored packed, and its
// high part v>>L, stored in unary: element i sets bit (v_i>>L) + i of the
// high bit vector, so high part h's elements are the ones that follow the
// h-th zero. With L = floor(log2(U/n)) the high vector has at most 2n + 1
// bits, so the whole sequence costs about n·(2 + log2(U/n)) bits.
//
// Finding where high part h starts is a select on the zeros. ranks samples
// it: ranks[k] is the number of elements whose high part is below
// k<<efRankShift, so high part k<<efRankShift starts at bit
// ranks[k] + k<<efRankShift, and the start of any h is at most
// 2^efRankShift-1 zeros further on (about twice as many bits, one or two
// words).
//
// In the grouped layout (segment.go) one efSeq per substring holds the
// values bucket·G + group, which makes it the substring's directory and
// postings at once.
type efSeq struct {
	n       int
	lowBits uint   // L
	lowMask uint64 // 1<<L - 1
	nHigh   uint64 // high parts in use: (U-1)>>L + 1; the vector has n + nHigh bits
	low     []uint64
	high    []uint64
	ranks   []uint32
}

// efRankShift sets the sampling of ranks: one uint32 per 64 high parts,
// 1/16 byte an element when high parts and elements are about as many.
const efRankShift = 6

// efShape returns the parameters of n values below universe: the low bits
// L, the high parts in use, and the lengths of the three arrays (each with
// spare words, so that every read may load two).
func efShape(n int, universe uint64) (lb uint, nHigh uint64, lowWords, highWords, rankLen int) {
	if universe == 0 {
		universe = 1
	}
	switch {
	case n == 0:
		// One high part for the whole universe: no zero per value.
		lb = uint(bits.Len64(universe - 1))
	case universe/uint64(n) > 1:
		lb = uint(bits.Len64(universe/uint64(n)) - 1)
	}
	nHigh = (universe-1)>>lb + 1
	// Spare words: the grouped probe reads the low bits of up to 3
	// elements past the last.
	lowWords = int((uint64(n+3)*uint64(lb)+63)/64 + 2)
	highWords = int((uint64(n)+nHigh+63)/64 + 2)
	rankLen = int(nHigh>>efRankShift + 2)
	return lb, nHigh, lowWords, highWords, rankLen
}

// newEFSeq encodes vals, which must be non-decreasing and below universe.
func newEFSeq(vals []uint64, universe uint64) efSeq {
	_, _, lw, hw, rl := efShape(len(vals), universe)
	return fillEF(vals, universe, make([]uint64, lw), make([]uint64, hw), make([]uint32, rl))
}

// fillEF encodes vals into low, high and ranks, zeroed and of the lengths
// efShape gives. It panics if vals are not sorted or not below universe: a
// caller's bug, not outside data.
func fillEF(vals []uint64, universe uint64, low, high []uint64, ranks []uint32) efSeq {
	n := len(vals)
	lb, nHigh, lw, hw, rl := efShape(n, universe)
	if len(low) != lw || len(high) != hw || len(ranks) != rl {
		panic("hamming: efSeq arrays of the wrong size")
	}
	e := efSeq{n: n, lowBits: lb, lowMask: 1<<lb - 1, nHigh: nHigh, low: low, high: high, ranks: ranks}
	prev := uint64(0)
	nextRank := uint64(0) // the next sample to fill, in high parts
	for i, v := range vals {
		if v < prev || v >= max(universe, 1) {
			panic("hamming: efSeq values not sorted or out of range")
		}
		prev = v
		h := v >> lb
		for ; nextRank<<efRankShift <= h; nextRank++ {
			e.ranks[nextRank] = uint32(i)
		}
		if lb > 0 {
			pos := uint64(i) * uint64(lb)
			lv := v & e.lowMask
			e.low[pos>>6] |= lv << (pos & 63)
			if pos&63+uint64(lb) > 64 {
				e.low[pos>>6+1] |= lv >> (64 - pos&63)
			}
		}
		p := h + uint64(i)
		e.high[p>>6] |= 1 << (p & 63)
	}
	for ; nextRank < uint64(len(e.ranks)); nextRank++ {
		e.ranks[nextRank] = uint32(n)
	}
	return e
}

// bytes is the memory e holds.
func (e *efSeq) bytes() int64 {
	return int64(cap(e.low))*8 + int64(cap(e.high))*8 + int64(cap(e.ranks))*4
}

// bitsAt returns the 64 bits of the high vector from bit p on (bit p
// lowest). Go defines a shift by 64 as 0, so p on a word boundary needs no
// branch.
func (e *efSeq) bitsAt(p uint64) uint64 {
	w, o := p>>6, p&63
	return e.high[w]>>o | e.high[w+1]<<(64-o)
}

// lowAt returns the low bits of element i.
func (e *efSeq) lowAt(i uint64) uint64 {
	pos := i * uint64(e.lowBits)
	w, o := pos>>6, pos&63
	return (e.low[w]>>o | e.low[w+1]<<(64-o)) & e.lowMask
}

// lowAddr is where lowAt(i) reads first, for prefetching.
func (e *efSeq) lowAddr(i uint64) unsafe.Pointer {
	return unsafe.Pointer(&e.low[i*uint64(e.lowBits)>>6])
}

// rankAddr is where sampleStart(h) reads, for prefetching.
func (e *efSeq) rankAddr(h uint64) unsafe.Pointer {
	return unsafe.Pointer(&e.ranks[min(h>>efRankShift, uint64(len(e.ranks)-1))])
}

// highAddr is the word of the high vector holding bit p, for prefetching.
func (e *efSeq) highAddr(p uint64) unsafe.Pointer {
	return unsafe.Pointer(&e.high[min(p>>6, uint64(len(e.high)-1))])
}

// sampleStart returns the bit where high part h&^(2^efRankShift-1) starts,
// from ranks alone. h must be below nHigh.
func (e *efSeq) sampleStart(h uint64) uint64 {
	k := h >> efRankShift
	return uint64(e.ranks[k]) + k<<efRankShift
}

// skipZeros returns the bit just after the t-th zero at or after bit p
// (p itself when t is 0). There must be t zeros from p on.
func (e *efSeq) skipZeros(p, t uint64) uint64 {
	if t == 0 {
		return p
	}
	for {
		z := ^e.bitsAt(p)
		c := uint64(bits.OnesCount64(z))
		if c >= t {
			return p + uint64(selectBit(z, int(t-1))) + 1
		}
		t -= c
		p += 64
	}
}

// start returns the bit where high part h's elements start and the index
// of the first of them. h must be below nHigh.
func (e *efSeq) start(h uint64) (p, i uint64) {
	p = e.skipZeros(e.sampleStart(h), h&(1<<efRankShift-1))
	return p, p - h
}

// selectBit returns the place of the r-th (from 0) set bit of x, which has
// more than r set bits. It has no branch, since the probe calls it twice a
// bucket on random words, where branches on the counts would be
// mispredicted half the time: the byte holding the bit comes from the
// bytes' running counts compared all at once (Vigna, "Broadword
// implementation of rank/select queries", 2008), the nibble from one more
// count, and the place within the nibble from selectNibble0 and 1.
func selectBit(x uint64, r int) int {
	const l8, h8 = 0x0101010101010101, 0x8080808080808080
	s := x - (x>>1)&0x5555555555555555
	s = s&0x3333333333333333 + (s>>2)&0x3333333333333333
	s = (s + s>>4) & 0x0f0f0f0f0f0f0f0f
	s *= l8 // byte i: the set bits of bytes 0 to i
	// Each byte of (r | 0x80) - s keeps its top bit where s <= r.
	shift := uint(bits.OnesCount64(((uint64(r)*l8|h8)-s)&h8)) * 8
	r -= int((s << 8) >> shift & 0xff)
	y := x >> shift & 0xff
	c := bits.OnesCount8(uint8(y & 0xf))
	ge := (c - r - 1) >> 63 // -1 when the bit is in the upper nibble
	r -= c & ge
	sh := uint(4 & ge)
	idx := (y>>sh&0xf)*4 + uint64(r)
	t := uint64(selectNibble0) ^ (selectNibble0^selectNibble1)&-(idx>>5)
	return int(shift+sh) + int(t>>(2*(idx&31))&3)
}

// selectNibble0 and 1 hold, in 2 bits at 2·(4·nibble + r) (entries 0 to
// 31 in the first, 32 to 63 in the second), the place of the r-th set bit
// of each 4-bit value (TestSelectBit checks every word against a loop).
const (
	selectNibble0 = 0x2409080204010000
	selectNibble1 = 0xe439380e340d0c03
)

// appendRange appends the index and high part of every element whose high
// part is in [hlo, hhi], starting from bit p, the start of high part hlo
// (from start), whose first element has index i. A caller wanting the
// values in [lo, hi) passes hlo = lo>>L and hhi = (hi-1)>>L and filters the
// boundary high parts on their low bits.
func (e *efSeq) appendRange(p, i, hlo, hhi uint64, idx, high []uint32) ([]uint32, []uint32) {
	for h := hlo; h <= hhi; h++ {
		// The ones from p on are high part h's elements, then a zero.
		for {
			run := uint64(bits.TrailingZeros64(^e.bitsAt(p)))
			for k := range run {
				idx = append(idx, uint32(i+k))
				high = append(high, uint32(h))
			}
			i += run
			p += run
			if run < 64 {
				break
			}
		}
		p++ // the zero closing h
	}
	return idx, high
}

// decode returns the whole sequence, for tests.
func (e *efSeq) decode() []uint64 {
	out := make([]uint64, 0, e.n)
	var p uint64
	for i := range uint64(e.n) {
		for e.high[p>>6]>>(p&63)&1 == 0 {
			p++
		}
		out = append(out, (p-i)<<e.lowBits|e.lowAt(i))
		p++
	}
	return out
}

// lowerBound returns the index of the first element not below x, for
// tests and the fuzz target: the probe's own path (start, appendRange and
// the low bits) answers it.
func (e *efSeq) lowerBound(x uint64) int {
	h := x >> e.lowBits
	if h >= e.nHigh {
		return e.n
	}
	p, i := e.start(h)
	idx, high := e.appendRange(p, i, h, h, nil, nil)
	for k := range idx {
		if uint64(high[k])<<e.lowBits|e.lowAt(uint64(idx[k])) >= x {
			return int(idx[k])
		}
	}
	return int(i) + len(idx)
}
