package hamming

import (
	"syscall"
	"unsafe"
)

// hugePageMin is the size from which adviseHugePages bothers: huge pages are
// 2 MB, and the kernel only backs aligned 2 MB stretches with them.
const hugePageMin = 4 << 20

// adviseHugePages asks the kernel to back s with transparent huge pages.
// Probing touches hashes and postings at random; with 4 KB pages nearly every
// candidate is a TLB miss, and on systems whose THP mode is "madvise" (the
// Debian default) Go's heap does not get huge pages on its own. Call it
// right after make, before the slice is written, so pages are faulted in
// huge rather than collapsed later. Failure only costs speed, so it is
// ignored.
func adviseHugePages[T any](s []T) {
	size := uintptr(cap(s)) * unsafe.Sizeof(*new(T))
	if size < hugePageMin {
		return
	}
	base := unsafe.Pointer(unsafe.SliceData(s))
	start := uintptr(base)
	// madvise needs a page-aligned start; large Go allocations are, but
	// round inwards anyway rather than rely on it.
	const page = 4096
	lo := (start + page - 1) &^ (page - 1)
	hi := (start + size) &^ (page - 1)
	if hi <= lo {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Add(base, lo-start)), hi-lo)
	_ = syscall.Madvise(b, syscall.MADV_HUGEPAGE)
}

// madvCollapse is Linux's MADV_COLLAPSE (6.1 and later), which syscall does
// not name.
const madvCollapse = 25

// collapseHugePages asks the kernel to move s, already written, onto huge
// pages now. adviseHugePages only works on memory not yet touched, and a
// segment's arrays often reuse the pages of the one it replaces, or of its
// own build's buffers, which are 4 KB ones: without this the grouped
// layout's sequences stayed on 4 KB pages when other indexes had been built
// before in the process, and searched 1.5 times slower. Failure (an older
// kernel) only costs speed, so it is ignored.
func collapseHugePages[T any](s []T) {
	size := uintptr(cap(s)) * unsafe.Sizeof(*new(T))
	if size < hugePageMin {
		return
	}
	base := unsafe.Pointer(unsafe.SliceData(s))
	start := uintptr(base)
	const huge = 2 << 20
	lo := (start + huge - 1) &^ (huge - 1)
	hi := (start + size) &^ (huge - 1)
	if hi <= lo {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Add(base, lo-start)), hi-lo)
	_ = syscall.Madvise(b, madvCollapse)
}
