package vpdq

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
				frames, info, err := HashFile(context.Background(), videoPath(name), m.opts)
				if err != nil {
					t.Fatal(err)
				}
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
