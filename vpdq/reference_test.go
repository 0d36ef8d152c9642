package vpdq

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-oss/vigil/pdq"
)

// sampleVideos are the reference's sample videos in testdata.
var sampleVideos = []string{
	"doorknob-hd-no-bar",
	"pattern-sd-grey-bar",
	"pattern-sd-with-small-logo-bar",
	"test-padded-dimensions",
}

// requireFFmpeg fails the test when ffmpeg or ffprobe is missing, since CI
// installs them and a skipped reference test would hide a regression;
// VIGIL_SKIP_FFMPEG=1 skips instead, for machines without them.
func requireFFmpeg(tb testing.TB) {
	tb.Helper()
	if os.Getenv("VIGIL_SKIP_FFMPEG") == "1" {
		tb.Skip("VIGIL_SKIP_FFMPEG=1")
	}
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Fatalf("%s not found: install the ffmpeg package (Debian 12's 5.1.9 made the expected hashes), or set VIGIL_SKIP_FFMPEG=1 to skip: %v", tool, err)
		}
	}
}

func videoPath(name string) string {
	return filepath.Join("testdata", "sample-videos", name+".mp4")
}

// TestReferenceExact checks that our output is byte-identical to
// vpdq-hash-video's with the same FFmpeg build, in its three modes.
func TestReferenceExact(t *testing.T) {
	requireFFmpeg(t)
	modes := []struct {
		suffix string
		opts   Options
	}{
		{"", Options{EveryFrame: true}},
		{"-r1", Options{SecondsPerHash: 1}},
		{"-128x128", Options{EveryFrame: true, Size: 128}},
	}
	for _, name := range sampleVideos {
		for _, m := range modes {
			t.Run(name+m.suffix, func(t *testing.T) {
				want, err := os.ReadFile(filepath.Join("testdata", "expected", name+m.suffix+".txt"))
				if err != nil {
					t.Fatal(err)
				}
				frames, info := hashSample(t, name+m.suffix, m.opts)
				var got bytes.Buffer
				if err := WriteFrames(&got, frames); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want) {
					t.Errorf("%s: output differs from reference (%d frames of %d decoded)\n%s", name, len(frames), info.Frames, firstDiff(got.String(), string(want)))
				}
			})
		}
	}
}

// sampleCache holds hashed sample videos, so that the exactness and
// tolerance tests decode each video once per mode (the race detector makes
// hashing slow).
var sampleCache sync.Map // key → *sampleResult

type sampleResult struct {
	once   sync.Once
	frames []Frame
	info   Info
	err    error
}

// hashSample hashes the sample video name with opts; key names the pair.
func hashSample(tb testing.TB, key string, opts Options) ([]Frame, Info) {
	tb.Helper()
	name := key
	for _, s := range []string{"-r1", "-128x128"} {
		name = strings.TrimSuffix(name, s)
	}
	v, _ := sampleCache.LoadOrStore(key, &sampleResult{})
	r := v.(*sampleResult)
	r.once.Do(func() {
		r.frames, r.info, r.err = HashFile(context.Background(), videoPath(name), opts)
	})
	if r.err != nil {
		tb.Fatalf("hash %s: %v", key, r.err)
	}
	return r.frames, r.info
}

// TestSampleHashesTolerance compares our hashes with upstream's
// sample-hashes, made with an older FFmpeg, by upstream's regression rule:
// for each frame where both qualities are at least 50, the distance must
// be under 31.
func TestSampleHashesTolerance(t *testing.T) {
	requireFFmpeg(t)
	cases := []struct {
		key  string
		opts Options
	}{}
	for _, name := range sampleVideos {
		cases = append(cases, struct {
			key  string
			opts Options
		}{name, Options{EveryFrame: true}})
		if name != "test-padded-dimensions" { // upstream has no 128x128 file for it
			cases = append(cases, struct {
				key  string
				opts Options
			}{name + "-128x128", Options{EveryFrame: true, Size: 128}})
		}
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			want := readSample(t, filepath.Join("testdata", "sample-hashes", c.key+".txt"))
			got, _ := hashSample(t, c.key, c.opts)
			if len(got) != len(want) {
				t.Fatalf("%d frames, upstream has %d", len(got), len(want))
			}
			identical, compared, passed, maxDist := 0, 0, 0, 0
			for i := range got {
				g, w := got[i], want[i]
				if g.Number != w.Number || fmt.Sprintf("%.3f", g.Timestamp) != fmt.Sprintf("%.3f", w.Timestamp) {
					t.Fatalf("line %d: frame %d at %.3f, upstream %d at %.3f", i+1, g.Number, g.Timestamp, w.Number, w.Timestamp)
				}
				d := pdq.Distance(g.Hash, w.Hash)
				if d == 0 {
					identical++
				}
				if g.Quality < 50 || w.Quality < 50 {
					continue
				}
				compared++
				maxDist = max(maxDist, d)
				if d < 31 {
					passed++
				} else {
					t.Errorf("frame %d: distance %d to upstream", g.Number, d)
				}
			}
			t.Logf("%d frames: %d (%.0f%%) identical; %d/%d of quality ≥ 50 within distance < 31 (%.1f%%), max distance %d",
				len(got), identical, 100*float64(identical)/float64(len(got)), passed, compared, 100*float64(passed)/float64(max(compared, 1)), maxDist)
		})
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\n got %q\nwant %q", i+1, a, b)
		}
	}
	return "no line differs"
}
