//go:build !linux

package hamming

import "time"

// threadCPU falls back to wall time where per-thread CPU time is not
// available; see cputime_linux_test.go.
func threadCPU() time.Duration { return time.Duration(time.Now().UnixNano()) }
