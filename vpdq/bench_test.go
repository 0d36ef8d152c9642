package vpdq

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-oss/vigil/pdq"
)

// The video benchmarks report frames decoded per second, the multiple of
// real time (video seconds per wall second) and CPU time per frame in Go
// and in ffmpeg. BenchmarkDecodeOnly is the
// baseline: the same ffmpeg command and pipe as HashFile's, the frames read
// and dropped, so that the hashing benchmarks' excess over it is our cost.
//
//	go test ./vpdq/ -run '^$' -bench . -benchtime 3x -count 3

// cpuTimes returns the CPU time (user + system) used by this process and
// by its reaped children (ffmpeg, ffprobe), or zeros where getrusage is
// unavailable.
func cpuTimes() (self, children time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return self, children
}

// measureVideo runs hash b.N times and reports frames decoded per wall
// second, the multiple of real time, and CPU milliseconds per frame spent
// in Go and in the ffmpeg processes. On a shared machine the CPU figures
// are the ones to compare: wall time includes time spent descheduled.
func measureVideo(b *testing.B, hash func() Info) {
	var info Info
	runtime.GC()
	self0, child0 := cpuTimes()
	start := time.Now()
	for range b.N {
		info = hash()
	}
	secs := time.Since(start).Seconds()
	self1, child1 := cpuTimes()
	frames := float64(info.Frames * b.N)
	b.ReportMetric(frames/secs, "frames/s")
	b.ReportMetric(float64(info.Frames)/info.FrameRate*float64(b.N)/secs, "x_realtime")
	b.ReportMetric((self1-self0).Seconds()*1e3/frames, "go-cpu-ms/frame")
	b.ReportMetric((child1-child0).Seconds()*1e3/frames, "ffmpeg-cpu-ms/frame")
}

func probeSample(b *testing.B, name string) Info {
	b.Helper()
	info, err := probe(context.Background(), "ffprobe", "file:"+videoPath(name), nil)
	if err != nil {
		b.Fatal(err)
	}
	return info
}

// BenchmarkHash runs, for each sample video, the decode-only baseline and
// then HashFile in every-frame mode with one and two hashing goroutines and
// in the default one-frame-per-second mode, so that each comparison is
// between adjacent runs on the same (shared) machine.
func BenchmarkHash(b *testing.B) {
	requireFFmpeg(b)
	modes := []struct {
		name string
		opts Options
	}{
		{"every-frame/workers=1", Options{EveryFrame: true, Workers: 1}},
		{"every-frame/workers=2", Options{EveryFrame: true, Workers: 2}},
		{"1fps/workers=1", Options{Workers: 1}},
	}
	for _, name := range sampleVideos {
		b.Run(name+"/decode-only", func(b *testing.B) { benchDecodeOnly(b, name) })
		for _, m := range modes {
			b.Run(name+"/"+m.name, func(b *testing.B) {
				measureVideo(b, func() Info {
					_, info, err := HashFile(context.Background(), videoPath(name), m.opts)
					if err != nil {
						b.Fatal(err)
					}
					return info
				})
			})
		}
	}
}

// benchDecodeOnly is the baseline: ffmpeg started as HashFile starts it,
// every frame read from the pipe and dropped.
func benchDecodeOnly(b *testing.B, name string) {
	info := probeSample(b, name)
	buf := make([]byte, 1<<20)
	frameSize := int64(3 * info.Width * info.Height)
	measureVideo(b, func() Info {
		dec, err := startDecoder(context.Background(), "ffmpeg", "file:"+videoPath(name), nil, info.Width, info.Height)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{dec.out}, buf)
		if err != nil {
			b.Fatal(err)
		}
		if err := dec.wait(); err != nil {
			b.Fatal(err)
		}
		info.Frames = int(n / frameSize)
		return info
	})
}

// BenchmarkHashOnly hashes frames already in memory, to split the cost of
// BenchmarkHash between decoding and PDQ.
func BenchmarkHashOnly(b *testing.B) {
	requireFFmpeg(b)
	for _, name := range sampleVideos {
		b.Run(name, func(b *testing.B) {
			info := probeSample(b, name)
			cmd := exec.Command("ffmpeg", decodeArgs("file:"+videoPath(name), info.Width, info.Height)...)
			raw, err := cmd.Output()
			if err != nil {
				b.Fatal(err)
			}
			size := 3 * info.Width * info.Height
			n := min(len(raw)/size, 30)
			h := pdq.NewHasher(pdq.Full)
			b.ResetTimer()
			for i := range b.N {
				f := raw[(i%n)*size : (i%n+1)*size]
				h.HashRGB24(f, info.Width, info.Height)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}

func BenchmarkCompare(b *testing.B) {
	q := readSample(b, "testdata/sample-hashes/pattern-hd-no-bar.txt")
	t := readSample(b, "testdata/sample-hashes/pattern-longer-no-bar.txt")
	for _, s := range []Semantics{PyTX, CPP} {
		b.Run(fmt.Sprintf("%v/%dx%d", s, len(q), len(t)), func(b *testing.B) {
			for range b.N {
				Compare(q, t, CompareOptions{Semantics: s})
			}
		})
	}
}

// BenchmarkHashKeep measures what keeping the scene frames for
// classifiers (Options.Keep: scaling the frames that start a scene to 512
// pixels, then JPEG-encoding those kept) adds to hashing at one frame per
// second, against hashing alone in the same run.
//
//	go test ./vpdq/ -run '^$' -bench HashKeep -benchtime 5x -count 3
func BenchmarkHashKeep(b *testing.B) {
	requireFFmpeg(b)
	for _, name := range sampleVideos {
		for _, keep := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/keep=%v", name, keep), func(b *testing.B) {
				kept := 0
				measureVideo(b, func() Info {
					o := Options{}
					var k *Keeper
					if keep {
						k = NewKeeper(KeepOptions{})
						o.Keep = k
					}
					_, info, err := HashFile(context.Background(), videoPath(name), o)
					if err != nil {
						b.Fatal(err)
					}
					if k != nil {
						kept = len(k.Frames())
					}
					return info
				})
				if keep {
					b.ReportMetric(float64(kept), "frames-kept")
				}
			})
		}
	}
}
