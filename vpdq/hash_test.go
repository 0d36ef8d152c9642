package vpdq

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// children lists our child processes, zombies included, as "pid (comm)
// state". After a Hash call returns it must be empty: every ffmpeg and
// ffprobe has exited and been waited for.
func children(tb testing.TB) []string {
	tb.Helper()
	if runtime.GOOS != "linux" {
		return nil
	}
	self := strconv.Itoa(os.Getpid())
	entries, err := os.ReadDir("/proc")
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid …; comm may contain spaces and parens.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) >= 2 && f[1] == self {
			out = append(out, s[:i+1]+" "+f[0])
		}
	}
	return out
}

func assertNoChildren(tb testing.TB) {
	tb.Helper()
	if c := children(tb); len(c) > 0 {
		tb.Errorf("child processes left: %v", c)
	}
}

// makeVideo runs ffmpeg with args to write name in dir and returns its
// path.
func makeVideo(tb testing.TB, dir, name string, args ...string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	cmd := exec.Command("ffmpeg", append(append([]string{"-nostdin", "-v", "error", "-y"}, args...), path)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
	return path
}

func writeFile(tb testing.TB, dir, name string, data []byte) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func checkCode(tb testing.TB, err error, code, substr string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("no error, want %s", code)
	}
	if vigil.ErrorCode(err) != code || !strings.Contains(err.Error(), substr) {
		tb.Errorf("error %q (code %s), want code %s containing %q", err, vigil.ErrorCode(err), code, substr)
	}
}

func TestHashBadInput(t *testing.T) {
	requireFFmpeg(t)
	dir := t.TempDir()
	sample, err := os.ReadFile(videoPath("test-padded-dimensions"))
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(i*7919 + i>>8)
	}
	cases := []struct {
		name string
		path string
		opts Options
		code string
		msg  string
	}{
		{"missing file", filepath.Join(dir, "nope.mp4"), Options{}, vigil.EINVALID, "No such file"},
		{"zero length", writeFile(t, dir, "empty.mp4", nil), Options{}, vigil.EINVALID, "cannot be read"},
		{"garbage", writeFile(t, dir, "garbage.mp4", garbage), Options{}, vigil.EINVALID, "cannot be read"},
		// The sample's index is at the end, so a cut copy has none.
		{"truncated, no index", writeFile(t, dir, "cut.mp4", sample[:len(sample)/2]), Options{}, vigil.EINVALID, "Invalid data"},
		{"audio only", makeVideo(t, dir, "sine.m4a", "-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac"), Options{}, vigil.EUNSUPPORTED, "no video stream"},
		// A playlist that names another local file must not be followed.
		{"playlist", writeFile(t, dir, "playlist.mp4", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n"+
			mustAbs(t, videoPath("doorknob-hd-no-bar"))+"\n#EXT-X-ENDLIST\n")), Options{}, vigil.EUNSUPPORTED, "not supported"},
		{"concat script", writeFile(t, dir, "concat.mp4", []byte("ffconcat version 1.0\nfile '"+
			mustAbs(t, videoPath("doorknob-hd-no-bar"))+"'\n")), Options{}, vigil.EUNSUPPORTED, "not supported"},
		// 4160×4160 is over the default 4096×4096 pixel limit.
		{"huge resolution", makeVideo(t, dir, "huge.mp4", "-f", "lavfi", "-i", "color=c=blue:size=4160x4160:r=1:d=1",
			"-c:v", "libx264", "-preset", "ultrafast"), Options{}, vigil.ETOOLARGE, "4160x4160"},
		{"pixel limit", videoPath("doorknob-hd-no-bar"), Options{MaxPixels: 1280*720 - 1}, vigil.ETOOLARGE, "1280x720"},
		{"claimed duration", videoPath("doorknob-hd-no-bar"), Options{MaxDuration: 2 * time.Second}, vigil.ETOOLARGE, "lasts"},
		{"seconds per hash", videoPath("doorknob-hd-no-bar"), Options{SecondsPerHash: -1}, vigil.EINVALID, "seconds per hash"},
		{"seconds per hash NaN", videoPath("doorknob-hd-no-bar"), Options{SecondsPerHash: math.NaN()}, vigil.EINVALID, "seconds per hash"},
		{"size", videoPath("doorknob-hd-no-bar"), Options{Size: 4}, vigil.EINVALID, "frame size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			frames, _, err := HashFile(context.Background(), c.path, c.opts)
			checkCode(t, err, c.code, c.msg)
			if frames != nil {
				t.Errorf("%d frames returned with the error", len(frames))
			}
			assertNoChildren(t)
		})
	}
}

func mustAbs(tb testing.TB, path string) string {
	tb.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		tb.Fatal(err)
	}
	return abs
}

// TestHashTruncated checks that a video cut short (index intact) hashes the
// frames before the cut, as the reference does, and says so in Warning.
func TestHashTruncated(t *testing.T) {
	requireFFmpeg(t)
	data, err := os.ReadFile(videoPath("doorknob-hd-no-bar"))
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, t.TempDir(), "cut.mp4", data[:len(data)/2])
	frames, info, err := HashFile(context.Background(), path, Options{EveryFrame: true, Size: 128})
	if err != nil {
		t.Fatal(err)
	}
	assertNoChildren(t)
	want := readSample(t, filepath.Join("testdata", "expected", "doorknob-hd-no-bar-128x128.txt"))
	if len(frames) == 0 || len(frames) >= len(want) {
		t.Fatalf("%d frames from half the file, %d in the whole", len(frames), len(want))
	}
	// Frames before the damage are intact.
	for i := range len(frames) - 1 {
		g, w := frames[i], want[i]
		if g.Number != w.Number || g.Quality != w.Quality || g.Hash != w.Hash {
			t.Errorf("frame %d = %+v, want %+v", i, frames[i], want[i])
		}
	}
	if info.Warning == "" {
		t.Error("no warning for a truncated file")
	}
	t.Logf("%d of %d frames; warning %q", len(frames), len(want), info.Warning)
}

// TestHashMaxFrames checks that decoding stops at the frame limit, the
// frames so far come back with the error, and ffmpeg is killed and reaped.
func TestHashMaxFrames(t *testing.T) {
	requireFFmpeg(t)
	frames, info, err := HashFile(context.Background(), videoPath("test-padded-dimensions"), Options{EveryFrame: true, Size: 64, MaxFrames: 10})
	checkCode(t, err, vigil.ETOOLARGE, "more than 10 frames")
	assertNoChildren(t)
	if len(frames) != 10 || info.Frames != 10 {
		t.Errorf("%d frames hashed, %d decoded; want 10", len(frames), info.Frames)
	}
	for i, f := range frames {
		if f.Number != i {
			t.Errorf("frame %d has number %d", i, f.Number)
		}
	}
}

// TestHashLongStream checks the duration limit while decoding: a
// two-minute MPEG-TS read from a pipe has no duration in its header.
func TestHashLongStream(t *testing.T) {
	requireFFmpeg(t)
	path := makeVideo(t, t.TempDir(), "long.ts", "-f", "lavfi", "-i", "color=c=red:size=64x64:r=1:d=120", "-c:v", "mpeg4")
	opts := Options{MaxDuration: time.Minute}
	_, _, err := HashFile(context.Background(), path, opts)
	checkCode(t, err, vigil.ETOOLARGE, "lasts")

	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	frames, info, err := HashReader(context.Background(), f, opts)
	checkCode(t, err, vigil.ETOOLARGE, "lasts longer than 1m0s")
	assertNoChildren(t)
	if info.Duration != 0 || len(frames) != 60 {
		t.Errorf("duration %v, %d frames; want 0 (unknown) and 60 (one per second)", info.Duration, len(frames))
	}
}

func TestHashMissingTools(t *testing.T) {
	requireFFmpeg(t)
	path := videoPath("doorknob-hd-no-bar")
	for _, c := range []struct {
		opts Options
		msg  string
	}{
		{Options{FFprobe: "vigil-no-such-ffprobe"}, "ffprobe not found"},
		{Options{FFprobe: "/nonexistent/ffprobe"}, "ffprobe not found"},
		{Options{FFmpeg: "vigil-no-such-ffmpeg"}, "ffmpeg not found"},
		{Options{FFmpeg: "/nonexistent/ffmpeg"}, "ffmpeg not found"},
	} {
		_, _, err := HashFile(context.Background(), path, c.opts)
		checkCode(t, err, vigil.EINTERNAL, c.msg)
		if !strings.Contains(vigil.ErrorMessage(err), "install the ffmpeg package") {
			t.Errorf("message %q does not say what to install", vigil.ErrorMessage(err))
		}
	}
	assertNoChildren(t)
}

func TestHashCancel(t *testing.T) {
	requireFFmpeg(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(300 * time.Millisecond)
		cancel()
	}()
	_, _, err := HashFile(ctx, videoPath("test-padded-dimensions"), Options{EveryFrame: true})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	assertNoChildren(t)

	_, _, err = HashFile(context.Background(), videoPath("test-padded-dimensions"), Options{EveryFrame: true, Timeout: 300 * time.Millisecond})
	checkCode(t, err, vigil.ETOOLARGE, "longer than 300ms")
	assertNoChildren(t)
}

// TestHashReader checks hashing from a pipe against the reference, and the
// documented failure for an MP4 with its index at the end.
func TestHashReader(t *testing.T) {
	requireFFmpeg(t)
	want, err := os.ReadFile(filepath.Join("testdata", "expected", "doorknob-hd-no-bar-128x128.txt"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(videoPath("doorknob-hd-no-bar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A small probe window shows that the header bytes are replayed.
	frames, _, err := HashReader(context.Background(), f, Options{EveryFrame: true, Size: 128, ProbeBytes: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := WriteFrames(&got, frames); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("output differs from reference\n%s", firstDiff(got.String(), string(want)))
	}

	// A plain remux puts the index at the end. ffprobe finds it within a
	// large window, but ffmpeg cannot seek back to the frames from a pipe
	// once the file is larger than its buffer (test-padded-dimensions,
	// 56 KB with its index at the end, still decodes).
	path := makeVideo(t, t.TempDir(), "moov-at-end.mp4", "-i", videoPath("pattern-sd-grey-bar"), "-c", "copy")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = HashReader(context.Background(), bytes.NewReader(data), Options{})
	checkCode(t, err, vigil.EUNSUPPORTED, "index at the end")
	_, _, err = HashReader(context.Background(), bytes.NewReader(data), Options{ProbeBytes: 64 << 10})
	checkCode(t, err, vigil.EUNSUPPORTED, "index at the end")
	if _, _, err := HashFile(context.Background(), path, Options{}); err != nil {
		t.Errorf("the same file by path: %v", err)
	}
	_, _, err = HashReader(context.Background(), bytes.NewReader(nil), Options{})
	checkCode(t, err, vigil.EINVALID, "cannot be read")
	assertNoChildren(t)
}

// TestWorkers checks that the output does not depend on the number of
// hashing goroutines.
func TestWorkers(t *testing.T) {
	requireFFmpeg(t)
	want, err := os.ReadFile(filepath.Join("testdata", "expected", "pattern-sd-grey-bar-128x128.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, workers := range []int{2, 3} {
		frames, _, err := HashFile(context.Background(), videoPath("pattern-sd-grey-bar"), Options{EveryFrame: true, Size: 128, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := WriteFrames(&got, frames); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%d workers: output differs\n%s", workers, firstDiff(got.String(), string(want)))
		}
	}
}

func TestFrameMod(t *testing.T) {
	for _, c := range []struct {
		opts Options
		rate float64
		want int
	}{
		{Options{SecondsPerHash: 1}, 30, 30},
		{Options{SecondsPerHash: 1}, 30000.0 / 1001, 29},
		{Options{SecondsPerHash: 1}, 0.5, 1}, // truncates to 0, which counts as 1
		{Options{SecondsPerHash: 0.5}, 25, 12},
		{Options{SecondsPerHash: 1, EveryFrame: true}, 30, 1},
		{Options{SecondsPerHash: 1e300}, 30, math.MaxInt32},
	} {
		if got := frameMod(c.opts, c.rate); got != c.want {
			t.Errorf("frameMod(%+v, %v) = %d, want %d", c.opts, c.rate, got, c.want)
		}
	}
}
