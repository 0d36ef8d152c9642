//go:build !unix

package textmatch

import "time"

// cpuTime is not measured off Unix; benchmarks then report zero CPU time.
func cpuTime() time.Duration { return 0 }
