//go:build unix

package grooming

import "syscall"

// cpuSeconds is the process's user plus system CPU time. On a shared
// machine wall-clock rates measure the neighbours; CPU time measures us.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
