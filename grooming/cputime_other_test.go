//go:build !unix

package grooming

func cpuSeconds() float64 { return 0 }
