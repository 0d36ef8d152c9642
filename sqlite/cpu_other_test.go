//go:build !unix

package sqlite

import "time"

// processCPU is not measured off Unix; benchmarks then report no CPU figure.
func processCPU() time.Duration { return 0 }
