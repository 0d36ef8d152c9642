//go:build !amd64

package hamming

// fastPdep is false off amd64: the probe selects with selectBit.
func fastPdep() bool { return false }

// selectPairPdep is not called off amd64 (fastPdep is false); it selects
// with selectBit.
func selectPairPdep(x, r1, r2 uint64) (p1, p2 uint64) {
	return uint64(selectBit(x, int(r1))), uint64(selectBit(x, int(r2)))
}
