//go:build unix

package sqlite

import (
	"syscall"
	"time"
)

// processCPU returns the user and system CPU time this process has used.
// Benchmarks report work per CPU second beside work per wall second, since
// the machines they run on are shared and wall time swings with the load.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
