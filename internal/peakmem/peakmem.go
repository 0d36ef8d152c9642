// Package peakmem measures the peak memory of a piece of work, for
// benchmarks and tests that check that memory does not grow with the
// input (bulk imports): the Go heap in use, sampled, and the process's
// peak resident set, which also counts memory that cgo-free C ports such
// as SQLite allocate outside the Go heap.
package peakmem

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Peak is the most memory a call of Measure saw in use.
type Peak struct {
	// HeapInuse is the largest runtime.MemStats.HeapInuse sampled.
	HeapInuse uint64
	// RSS is the process's peak resident set (VmHWM), reset before the
	// work where the kernel allows it; 0 where /proc does not tell.
	RSS uint64
}

// Measure runs fn and returns the peak memory in use while it ran,
// sampling the heap every interval (a millisecond if zero). Sampling
// stops the world briefly, so keep the work's own timings apart.
func Measure(interval time.Duration, fn func()) Peak {
	if interval <= 0 {
		interval = time.Millisecond
	}
	// Writing 5 to clear_refs resets VmHWM to the current resident set;
	// where that is refused, RSS is the peak of the process so far.
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	runtime.GC()
	var (
		mu   sync.Mutex
		peak uint64
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		mu.Lock()
		peak = max(peak, ms.HeapInuse)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			sample()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	sample()
	close(stop)
	wg.Wait()
	return Peak{HeapInuse: peak, RSS: vmHWM()}
}

// vmHWM returns the process's peak resident set in bytes, or 0.
func vmHWM() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
