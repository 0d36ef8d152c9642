//go:build !linux

package hamming

// adviseHugePages is a no-op where transparent huge pages are not known;
// see hugepage_linux.go.
func adviseHugePages[T any](s []T) {}

// collapseHugePages is a no-op likewise.
func collapseHugePages[T any](s []T) {}
