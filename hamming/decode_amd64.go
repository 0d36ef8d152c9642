package hamming

// decodeArgs is decodeBlocks' frame: one substring's stream and the
// probe's arrays from the substring's first bucket (offsets fixed in
// decode_amd64.s).
type decodeArgs struct {
	bits    *uint64
	nw1     uint64 // len(bits) - 1
	lb      uint64 // L
	h       uint64 // 1 << shift
	sh      uint64 // shift
	lowMask uint64
	g       uint64 // groups in the segment
	vals    *uint32
	pos     *uint64
	lens    *uint32
	n       uint64   // buckets
	pf      *uintptr // two prefetch addresses a bucket
	npf     uint64   // buckets with pf entries from vals on
	out     *uint32  // groups
	outb    *uint32  // their buckets' values
	room    uint64   // places in out and outb
	slow    *uint32  // buckets off the fast path, n places
	done    uint64   // buckets done (in and out)
	nout    uint64   // groups written (in and out)
	nslow   uint64   // slow buckets written (in and out)
	pos2    *uint64  // for a bucket across two blocks, the second's start
	lens2   *uint32  // and its elements
}

// decodeBlocks runs appendInAt's fast path over many buckets of one
// substring (decode_amd64.s); it needs BMI1, BMI2 and POPCNT
// (hasDecodeAsm).
//
//go:noescape
func decodeBlocks(a *decodeArgs)

// hasDecodeAsm reports whether decodeBlocks can run: PDEP fast in
// hardware (fastPdep, which implies BMI2), BMI1 and POPCNT.
func hasDecodeAsm() bool {
	if !fastPdep() {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	_, b7, _, _ := cpuid(7, 0)
	return c1&(1<<23) != 0 && b7&(1<<3) != 0
}
