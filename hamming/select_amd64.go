package hamming

// cpuid runs the CPUID instruction.
func cpuid(leaf, sub uint32) (a, b, c, d uint32)

// selectPairPdep returns the places of the r1-th and r2-th (from 0) set
// bits of x, which has more than max(r1, r2) set bits, with PDEP: a few
// cycles, where selectBit's broadword chain takes about twenty. Only where
// fastPdep says so.
//
//go:noescape
func selectPairPdep(x, r1, r2 uint64) (p1, p2 uint64)

// fastPdep reports whether the CPU has BMI2 and runs PDEP in hardware at a
// few cycles: every x86 CPU with BMI2 but AMD's before Zen 3 (family 0x17
// and earlier), where it is microcoded and far slower than selectBit.
func fastPdep() bool {
	maxLeaf, b, c, d := cpuid(0, 0)
	if maxLeaf < 7 {
		return false
	}
	_, b7, _, _ := cpuid(7, 0)
	if b7&(1<<8) == 0 { // BMI2
		return false
	}
	amd := b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163 // "AuthenticAMD"
	if !amd {
		return true
	}
	eax, _, _, _ := cpuid(1, 0)
	family := eax >> 8 & 0xf
	if family == 0xf {
		family += eax >> 20 & 0xff
	}
	return family >= 0x19
}
