//go:build !amd64

package hamming

// hasAVX2 is false off amd64: the check stage runs frontFilterGo.
func hasAVX2() bool { return false }

// frontFilterAsm is not called off amd64 (hasAVX2 is false).
func frontFilterAsm(quads []quad, groups []uint32, q *words, radius int, out []uint32) int {
	return frontFilterGo(quads, groups, q, radius, out)
}
