package hamming

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time of the calling OS thread. Benchmarks on a
// shared machine use it with runtime.LockOSThread so that time spent
// descheduled, which wall-clock ns/op includes, does not skew the ratio
// between the index and the scan.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD, Linux only
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
