package hamming

import "unsafe"

// prefetch asks the CPU to start loading the cache line at p. It never
// faults, whatever p is. Go has no prefetch intrinsic; the call costs a
// nanosecond or two, against 60 to 100 for the miss it overlaps.
//
//go:noescape
func prefetch(p unsafe.Pointer)

// prefetchSpan asks the CPU to load the cache lines from p's to q's, at
// most 4, in one call.
//
//go:noescape
func prefetchSpan(p, q unsafe.Pointer)
