package hamming

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// checkBlk encodes vals in blocks of 2^shift high parts and checks every
// read path against vals: the whole decode, appendIn (the probe's read)
// over random ranges and ranges at each value, and the lower bound that
// appendIn gives at every value, its neighbours and random points.
func checkBlk(t *testing.T, what string, vals []uint64, universe uint64, shift uint, r *rand.Rand) efBlk {
	t.Helper()
	e := newEFBlk(vals, universe, shift)
	// Both selects, PDEP's where the CPU has it fast, and selectBit.
	for _, pdep := range []bool{false, true} {
		if pdep && !fastPdep() {
			continue
		}
		e.pdep = pdep
		checkBlkOnce(t, what, vals, universe, shift, r, &e)
	}
	return e
}

func checkBlkOnce(t *testing.T, what string, vals []uint64, universe uint64, shift uint, r *rand.Rand, e *efBlk) {
	t.Helper()
	if got := e.decode(); !slices.Equal(got, vals) && (len(got) != 0 || len(vals) != 0) {
		t.Fatalf("%s: decode = %v, want %v", what, got, vals)
	}
	in := func(lo, g uint64) []uint32 {
		var w []uint32
		for _, v := range vals {
			if v >= lo && v-lo < g {
				w = append(w, uint32(v-lo))
			}
		}
		return w
	}
	check := func(lo, g uint64) {
		if g == 0 || lo >= universe {
			return
		}
		g = min(g, universe-lo, 1<<32)
		if got, want := e.appendIn(lo, g, nil), in(lo, g); !slices.Equal(got, want) {
			t.Fatalf("%s: appendIn(%d, %d) = %v, want %v (shift %d, L %d)", what, lo, g, got, want, shift, e.lowBits)
		}
		// The assembly decode, which reads buckets [v·g, v·g+g).
		if v := lo / g; hasDecodeAsm() && v < 1<<32 && (v+1)*g <= universe {
			if got, want := decodeOne(e, uint32(v), g), in(v*g, g); !slices.Equal(got, want) {
				t.Fatalf("%s: decodeBlocks(%d·%d) = %v, want %v (shift %d, L %d)", what, v, g, got, want, shift, e.lowBits)
			}
		}
	}
	lowerBound := func(x uint64) int {
		if x >= universe {
			return len(vals)
		}
		return len(vals) - len(e.appendIn(x, universe-x, nil))
	}
	want := func(x uint64) int { return sort.Search(len(vals), func(i int) bool { return vals[i] >= x }) }
	probes := efProbePoints(vals, universe, r)
	if len(probes) > 600 {
		// Each lower bound reads to the end: a sample of the points.
		r.Shuffle(len(probes), func(i, j int) { probes[i], probes[j] = probes[j], probes[i] })
		probes = probes[:600]
	}
	for _, x := range probes {
		if x > universe {
			continue
		}
		if universe-x <= 1<<32 {
			if got, w := lowerBound(x), want(x); got != w {
				t.Fatalf("%s: lower bound of %d = %d, want %d", what, x, got, w)
			}
		}
		check(x, 1+r.Uint64N(max(1, universe>>r.UintN(40))))
		check(x, 1+r.Uint64N(1<<(e.lowBits+2)))
	}
	if e.bytes() <= 0 {
		t.Fatalf("%s: bytes %d", what, e.bytes())
	}
}

func TestSelectPairPdep(t *testing.T) {
	if !fastPdep() {
		t.Skip("no fast PDEP on this CPU")
	}
	r := rand.New(rand.NewPCG(11, 12))
	for range 5000 {
		x := r.Uint64() | 1<<63
		if r.IntN(4) == 0 {
			x &= r.Uint64()
		}
		c := uint64(bits.OnesCount64(x))
		r1, r2 := r.Uint64N(c), r.Uint64N(c)
		p1, p2 := selectPairPdep(x, r1, r2)
		if p1 != uint64(selectBit(x, int(r1))) || p2 != uint64(selectBit(x, int(r2))) {
			t.Fatalf("selectPairPdep(%#x, %d, %d) = %d, %d", x, r1, r2, p1, p2)
		}
	}
}

func TestEFBlk(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, shift := range []uint{1, 4, 5, 7} {
		name := func(s string) string { return fmt.Sprintf("%s, shift %d", s, shift) }
		checkBlk(t, name("empty"), nil, 1000, shift, r)
		checkBlk(t, name("empty, universe 1"), nil, 1, shift, r)
		checkBlk(t, name("one at 0"), []uint64{0}, 1, shift, r)
		checkBlk(t, name("one at the top"), []uint64{1<<40 - 1}, 1<<40, shift, r)
		checkBlk(t, name("dense"), []uint64{0, 1, 2, 3, 4, 5, 6, 7}, 8, shift, r)
		checkBlk(t, name("repeats"), []uint64{3, 3, 3, 3, 9, 9, 10}, 11, shift, r)
		heavy := make([]uint64, 300)
		for i := range heavy {
			heavy[i] = 5000 + uint64(i)
		}
		checkBlk(t, name("run longer than a word"), heavy, 1<<20, shift, r)
		for _, c := range []struct {
			n        int
			universe uint64
		}{{10, 100}, {100, 1 << 10}, {1000, 1 << 30}, {5000, 5000}, {4096, 1 << 22 * 1024}, {777, 1<<44 + 12345}} {
			checkBlk(t, name(fmt.Sprintf("random n=%d U=%d", c.n, c.universe)), sortedRandom(r, c.n, c.universe), c.universe, shift, r)
		}
		checkBlk(t, name("gaps"), []uint64{1, 2, 1 << 20, 1<<20 + 1, 1 << 30}, 1<<30+1, shift, r)
	}
	// More than 65535 elements within one top window: the top samples
	// must become denser (topShift below its 10) for the 16-bit offsets.
	crowd := make([]uint64, 70000)
	for i := range crowd {
		crowd[i] = uint64(i) * 3
	}
	crowd = append(crowd, sortedRandom(r, 3000, 1<<30)...)
	slices.Sort(crowd)
	e := checkBlk(t, "crowded", crowd, 1<<30, 4, r)
	if e.topShift >= 10 {
		t.Fatalf("crowded: topShift %d, want the denser top samples", e.topShift)
	}
}

// decodeOne decodes bucket v of width g as probeBlocked does with
// decodeBlocks: its block from blockAt, the assembly's fast path, else
// appendInAt.
func decodeOne(e *efBlk, v uint32, g uint64) []uint32 {
	k := uint64(v) * g >> e.lowBits >> e.shift
	o, nk := e.blockAt(k)
	vals, pos, lens := []uint32{v}, []uint64{o}, []uint32{uint32(nk)}
	pos2, lens2 := []uint64{0}, []uint32{0}
	if (uint64(v)*g+g-1)>>e.lowBits>>e.shift == k+1 {
		o2, nk2 := e.blockAt(k + 1)
		pos2[0], lens2[0] = o2, uint32(nk2)
	}
	pf := []uintptr{uintptr(e.bitAddr(o)), uintptr(e.bitAddr(o))}
	out, outb, slow := make([]uint32, 128), make([]uint32, 128), make([]uint32, 1)
	a := decodeArgs{
		bits: &e.bits[0], nw1: uint64(len(e.bits) - 1), lb: uint64(e.lowBits),
		h: 1 << e.shift, sh: uint64(e.shift), lowMask: e.lowMask, g: g,
		vals: &vals[0], pos: &pos[0], lens: &lens[0], n: 1, pf: &pf[0], npf: 1,
		out: &out[0], outb: &outb[0], room: 128, slow: &slow[0],
		pos2: &pos2[0], lens2: &lens2[0],
	}
	decodeBlocks(&a)
	if a.done != 1 {
		panic(fmt.Sprintf("decodeBlocks: done %d", int64(a.done)))
	}
	if a.nslow == 1 {
		return e.appendInAt(uint64(v)*g, g, o, nk, nil)
	}
	for _, b := range outb[:a.nout] {
		if b != v {
			panic("decodeBlocks: wrong bucket value")
		}
	}
	return out[:a.nout]
}

// FuzzEFBlk: random sorted sequences under random universes and block
// sizes decode to themselves through every read path, the word-by-word
// one included (large blocks, long runs).
func FuzzEFBlk(f *testing.F) {
	f.Add(uint64(100), uint8(4), []byte{1, 2, 3})
	f.Add(uint64(1), uint8(1), []byte{0, 0, 0, 0})
	f.Add(uint64(1<<40), uint8(7), []byte{255, 255, 255, 255, 255, 255, 255, 255, 7})
	f.Fuzz(func(t *testing.T, universe uint64, shift uint8, data []byte) {
		if len(data) > 4096 || universe == 0 || universe > 1<<50 {
			return
		}
		sh := uint(shift%8) + 1
		var vals []uint64
		for len(data) >= 2 {
			// Two bytes a value, scaled over the universe.
			hi, lo := bits.Mul64(uint64(binary.LittleEndian.Uint16(data)), universe-1)
			v, _ := bits.Div64(hi, lo, 65535)
			vals = append(vals, v)
			data = data[2:]
		}
		slices.Sort(vals)
		checkBlk(t, "fuzz", vals, universe, sh, rand.New(rand.NewPCG(universe, uint64(len(vals)))))
	})
}
