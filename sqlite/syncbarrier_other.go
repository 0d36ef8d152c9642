//go:build !linux

package sqlite

import "os"

// fdatasync syncs f: a full fsync where fdatasync is not to be had.
func fdatasync(f *os.File) error { return f.Sync() }
