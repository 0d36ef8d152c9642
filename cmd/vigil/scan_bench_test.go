package main

import (
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkScan sweeps a directory of generated 640×480 JPEGs against an
// empty local store with 1 and 2 workers and reports images/s. 200 images
// by default; VIGIL_BENCH_LARGE=1 makes it the 2,000:
//
//	VIGIL_BENCH_LARGE=1 go test -run XXX -bench Scan -benchtime 1x ./cmd/vigil/
func BenchmarkScan(b *testing.B) {
	n := 200
	if os.Getenv("VIGIL_BENCH_LARGE") != "" {
		n = 2000
	}
	dir := b.TempDir()
	r := rand.New(rand.NewPCG(4, 4))
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for i := range n {
		for y := range 480 {
			for x := range 640 {
				img.Set(x, y, color.RGBA{byte(x + i), byte(y * i), byte(r.IntN(256)), 255})
			}
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%04d.jpg", i)))
		if err != nil {
			b.Fatal(err)
		}
		jpeg.Encode(f, img, &jpeg.Options{Quality: 85})
		f.Close()
	}
	data := newDataDir(b)
	if _, _, err := runMain(b, "", "bank", "create", "--data", data, "empty"); err != nil {
		b.Fatal(err)
	}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			var total time.Duration
			for b.Loop() {
				start := time.Now()
				if _, errOut, err := runMain(b, "", "scan", "--data", data, "--workers", fmt.Sprint(workers), dir); err != nil {
					b.Fatal(err, errOut)
				}
				total += time.Since(start)
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "images/s")
		})
	}
}
