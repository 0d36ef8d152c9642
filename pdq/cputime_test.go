package pdq

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// processCPU returns the CPU time (user + system) the process has used, or
// zero where getrusage is unavailable.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU runs f b.N times and reports CPU time per op next to ns/op:
// on a shared machine wall time includes time spent descheduled, CPU time
// does not.
func reportCPU(b *testing.B, f func()) {
	runtime.GC()
	start := processCPU()
	for b.Loop() {
		f()
	}
	if start > 0 {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}
