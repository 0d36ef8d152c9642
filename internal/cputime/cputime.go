// Package cputime measures the CPU time a process has used, for benchmarks
// that run on shared machines: wall-clock time there includes time spent
// waiting for a core, CPU time does not.
package cputime

import (
	"runtime"
	"testing"
)

// PerOp runs f b.N times and reports the process's CPU time per call as
// "cpu-ns/op" beside ns/op. Where CPU time cannot be read, it reports
// nothing extra.
func PerOp(b *testing.B, f func()) {
	runtime.GC()
	start := Process()
	for b.Loop() {
		f()
	}
	if start > 0 {
		b.ReportMetric(float64(Process()-start)/float64(b.N), "cpu-ns/op")
	}
}
