package hamming

// xgetbv0 returns the low half of XCR0, the register states the OS saves.
func xgetbv0() uint32

// frontFilterAVX2 is frontFilterGo in AVX2 (filter_amd64.s), for CPUs
// where hasAVX2 says so.
//
//go:noescape
func frontFilterAVX2(quads *quad, nquads int, groups *uint32, n int, q *words, radius int, out *uint32) int

// hasAVX2 reports whether the CPU has AVX2 and the OS saves the YMM
// registers (CPUID leaf 1 OSXSAVE and AVX, XCR0 bits 1 and 2, leaf 7 AVX2).
func hasAVX2() bool {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	const osxsave, avx = 1 << 27, 1 << 28
	if c1&osxsave == 0 || c1&avx == 0 || xgetbv0()&6 != 6 {
		return false
	}
	_, b7, _, _ := cpuid(7, 0)
	return b7&(1<<5) != 0
}

// frontFilterAsm is frontFilterGo in AVX2.
func frontFilterAsm(quads []quad, groups []uint32, q *words, radius int, out []uint32) int {
	if len(groups) == 0 {
		return 0
	}
	_ = out[len(groups)-1]
	k := frontFilterAVX2(&quads[0], len(quads), &groups[0], len(groups), q, radius, &out[0])
	if k < 0 {
		panic("hamming: candidate group out of range")
	}
	return k
}
