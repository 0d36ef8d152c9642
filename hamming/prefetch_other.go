//go:build !amd64

package hamming

import "unsafe"

// prefetch does nothing where no assembly version exists.
func prefetch(p unsafe.Pointer) {}

// prefetchSpan does nothing where no assembly version exists.
func prefetchSpan(p, q unsafe.Pointer) {}
