package vpdq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-oss/vigil"
)

// Info describes the video stream that was hashed.
type Info struct {
	// Width and Height are the coded size of the first video stream.
	Width, Height int
	// FrameRate is the stream's average frame rate (r_frame_rate when
	// the container has none), which sets frame sampling and timestamps.
	FrameRate float64
	// Format is FFmpeg's name for the container format, Codec for the
	// stream's codec.
	Format, Codec string
	// Duration is the container's duration, 0 when unknown. It is only
	// a claim of the file: limits are enforced on decoded frames.
	Duration time.Duration
	// Frames is the number of frames decoded, hashed or not.
	Frames int
	// Warning is the last complaint of ffmpeg about a video it still
	// decoded (a truncated or damaged file gives the frames before the
	// damage, as the reference does), or "".
	Warning string
}

// probeOutput is the part of ffprobe's JSON output we read.
type probeOutput struct {
	Streams []struct {
		CodecType    string `json:"codec_type"`
		CodecName    string `json:"codec_name"`
		Width        int    `json:"width"`
		Height       int    `json:"height"`
		AvgFrameRate string `json:"avg_frame_rate"`
		RFrameRate   string `json:"r_frame_rate"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
}

// maxProbeOutput bounds ffprobe's JSON: with one stream selected and a few
// fields it is a few hundred bytes.
const maxProbeOutput = 1 << 20

// formatWhitelist lists the demuxers FFmpeg may use: video containers and
// elementary streams. It leaves out every format that opens other files or
// URLs named inside the input (HLS and DASH playlists, concat scripts,
// image sequences), since an uploaded "video" could otherwise make us read
// and hash local files or fetch URLs. Single images are left out too.
const formatWhitelist = "mov,matroska,avi,flv,live_flv,mpegts,mpeg,asf,ogg,gif,apng," +
	"h264,hevc,m4v,mpegvideo,ivf,obu,av1,mxf,nut,yuv4mpegpipe,dv,rm,mjpeg,vc1"

// inputArgs restricts how FFmpeg may open input: its protocol ("file" or
// "pipe") and the demuxers above.
func inputArgs(input string) []string {
	protocol := "file"
	if strings.HasPrefix(input, "pipe:") {
		protocol = "pipe"
	}
	return []string{"-protocol_whitelist", protocol, "-format_whitelist", formatWhitelist, "-i", input}
}

// probe runs ffprobe on input (a "file:" path, or "pipe:0" with stdin) and
// returns the first video stream's description.
func probe(ctx context.Context, ffprobe, input string, stdin io.Reader) (Info, error) {
	var info Info
	args := []string{"-hide_banner", "-v", "error",
		"-select_streams", "v:0",
		"-show_entries", "stream=codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate:format=format_name,duration",
		"-of", "json"}
	cmd := exec.CommandContext(ctx, ffprobe, append(args, inputArgs(input)...)...)
	cmd.Stdin = stdin
	out := &limitedBuffer{max: maxProbeOutput}
	stderr := &tailBuffer{max: stderrTail}
	cmd.Stdout = out
	cmd.Stderr = stderr
	cmd.WaitDelay = waitDelay
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return info, ctx.Err()
		}
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return info, notFound("ffprobe", ffprobe, err)
		}
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if strings.Contains(stderr.String(), "not on whitelist") {
				return info, vigil.Errorf(vigil.EUNSUPPORTED, "video format is not supported: %s", stderr.message("ffprobe failed"))
			}
			return info, vigil.Errorf(vigil.EINVALID, "video cannot be read: %s", stderr.message("ffprobe failed"))
		}
		return info, fmt.Errorf("run ffprobe: %w", err)
	}
	if out.over {
		return info, fmt.Errorf("ffprobe output is over %d bytes", maxProbeOutput)
	}
	var p probeOutput
	if err := json.Unmarshal(out.Bytes(), &p); err != nil {
		return info, fmt.Errorf("parse ffprobe output: %w", err)
	}
	if len(p.Streams) == 0 || p.Streams[0].CodecType != "video" {
		return info, vigil.Errorf(vigil.EUNSUPPORTED, "file has no video stream")
	}
	s := p.Streams[0]
	info.Width, info.Height = s.Width, s.Height
	info.Format, info.Codec = p.Format.FormatName, s.CodecName
	if info.Width <= 0 || info.Height <= 0 {
		return info, vigil.Errorf(vigil.EINVALID, "video stream has no size (%dx%d)", s.Width, s.Height)
	}
	// As the reference: the average frame rate, or r_frame_rate when the
	// container gives none (0/0).
	rate, ok := parseRate(s.AvgFrameRate)
	if !ok {
		rate, ok = parseRate(s.RFrameRate)
	}
	if !ok {
		return info, vigil.Errorf(vigil.EINVALID, "video stream has no frame rate")
	}
	info.FrameRate = rate
	if d, err := strconv.ParseFloat(p.Format.Duration, 64); err == nil && d > 0 && d < 1e9 {
		info.Duration = time.Duration(d * float64(time.Second))
	}
	return info, nil
}

// parseRate parses an FFmpeg rational such as "30000/1001"; ok is false
// for 0/0, a zero or negative rate, or garbage.
func parseRate(s string) (float64, bool) {
	n, d, found := strings.Cut(s, "/")
	if !found {
		return 0, false
	}
	num, err1 := strconv.ParseInt(n, 10, 64)
	den, err2 := strconv.ParseInt(d, 10, 64)
	if err1 != nil || err2 != nil || num <= 0 || den <= 0 {
		return 0, false
	}
	// The reference divides the two as doubles.
	return float64(num) / float64(den), true
}

// decodeArgs returns ffmpeg's arguments to decode the first video stream of
// input to raw RGB24 frames of width×height on stdout.
//
// The explicit scale keeps every frame the probed size even if the stream
// changes resolution midway (which would otherwise break our framing); at
// the native size it is only the YUV→RGB conversion, byte-identical to
// "-pix_fmt rgb24". flags=area is the reference's SWS_AREA, which matters
// when Size shrinks frames. fps_mode passthrough stops the CLI from
// dropping or duplicating frames to make a variable-rate video constant:
// the reference counts decoded frames.
func decodeArgs(input string, width, height int) []string {
	args := []string{"-hide_banner", "-nostdin", "-v", "error", "-threads", "1"}
	args = append(args, inputArgs(input)...)
	return append(args,
		"-map", "0:v:0", "-an", "-sn", "-dn",
		"-fps_mode", "passthrough",
		"-vf", fmt.Sprintf("scale=%d:%d:flags=area,format=rgb24", width, height),
		"-f", "rawvideo", "-",
	)
}

// notFound reports a missing ffmpeg or ffprobe binary. It is EINTERNAL,
// not the caller's fault, and says what to install.
func notFound(tool, path string, err error) error {
	return fmt.Errorf("%w: %w", vigil.Errorf(vigil.EINTERNAL,
		"%s not found (%q): install the ffmpeg package or set Options.%s", tool, path, toolOption(tool)), err)
}

func toolOption(tool string) string {
	if tool == "ffprobe" {
		return "FFprobe"
	}
	return "FFmpeg"
}

// waitDelay bounds how long Wait waits for output pipes after the process
// has been killed or has exited (a grandchild could hold them open).
const waitDelay = 5 * time.Second

// stderrTail is how much of a tool's error output we keep for messages.
const stderrTail = 2048

// tailBuffer is an io.Writer that keeps only the last max bytes, so that a
// tool printing an error per frame cannot use unbounded memory.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// message returns the last non-empty line of output, or def when there is
// none; FFmpeg's last line is usually the one that says what failed.
func (t *tailBuffer) message(def string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(t.buf)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			if len(l) > 200 {
				l = l[:200] + "…"
			}
			return l
		}
	}
	return def
}

// String returns all kept output, for matching known messages.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// limitedBuffer is a bytes.Buffer that stops storing after max bytes and
// remembers that it did.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := l.max - l.Len(); len(p) > room {
		l.over = true
		p = p[:max(room, 0)]
	}
	l.Buffer.Write(p)
	return n, nil
}
