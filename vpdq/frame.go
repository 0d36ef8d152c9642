package vpdq

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/pdq"
)

// Frame is the PDQ hash of one sampled video frame.
type Frame struct {
	// Number is the 0-based index of the frame among all decoded frames.
	// For frames read from python-threatexchange's format, which carries
	// no frame numbers, it is the 0-based line index instead.
	Number int
	// Quality is PDQ's quality score, 0 to 100.
	Quality int
	// Hash is the frame's PDQ hash.
	Hash pdq.Hash
	// Timestamp is Number divided by the video's average frame rate, in
	// seconds; it is not the frame's presentation time.
	Timestamp float64
}

// WriteFrames writes frames in the reference's text format, one line per
// frame: "frameNumber,quality,hash,timestamp", the timestamp with three
// decimals. The output is byte-identical to vpdq-hash-video's.
func WriteFrames(w io.Writer, frames []Frame) error {
	bw := bufio.NewWriter(w)
	line := make([]byte, 0, 128)
	for _, f := range frames {
		line = appendFrame(line[:0], f)
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("write frames: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write frames: %w", err)
	}
	return nil
}

func appendFrame(b []byte, f Frame) []byte {
	b = strconv.AppendInt(b, int64(f.Number), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(f.Quality), 10)
	b = append(b, ',')
	b = append(b, f.Hash.String()...)
	b = append(b, ',')
	// strconv rounds the exact binary value half-to-even, as glibc's
	// printf("%.3f") does, so the text matches the reference's.
	b = strconv.AppendFloat(b, f.Timestamp, 'f', 3, 64)
	return append(b, '\n')
}

// Limits bounds what ReadFrames accepts. A zero field takes its default.
type Limits struct {
	// MaxBytes is the most bytes read in all (default 64 MiB, about
	// 700,000 frames: over six hours at 30 fps, every frame).
	MaxBytes int64
	// MaxLineBytes is the longest line accepted (default 256; a line is
	// under 100 bytes).
	MaxLineBytes int
	// MaxFrames is the most frames returned (default 1,000,000).
	MaxFrames int
}

// Defaults for Limits.
const (
	DefaultMaxBytes     = 64 << 20
	DefaultMaxLineBytes = 256
	DefaultMaxFrames    = 1_000_000
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = DefaultMaxLineBytes
	}
	if l.MaxFrames <= 0 {
		l.MaxFrames = DefaultMaxFrames
	}
	return l
}

// maxFrameNumber keeps frame numbers within what the reference stores (a
// C int) and far from overflow in arithmetic on them.
const maxFrameNumber = math.MaxInt32

// ParseValue reads a stored vPDQ entry value: vigil.CanonicalValue's form
// of WriteFrames' text, frames separated by ";", at most
// vigil.MaxVPDQFrames of them.
func ParseValue(v string) ([]Frame, error) {
	return ReadFrames(strings.NewReader(strings.ReplaceAll(v, ";", "\n")), Limits{MaxFrames: vigil.MaxVPDQFrames})
}

// ReadFrames parses a vPDQ hash from text, one frame per line, in either
// of two formats, the first line deciding which:
//
//   - the reference's "frameNumber,quality,hash,timestamp", as written by
//     vpdq-hash-video and WriteFrames;
//   - python-threatexchange's "hash,quality,timestamp", whose timestamp
//     has three significant digits (so "12.5" or "1.23e+02"); Number is
//     then the line's 0-based index among the frames.
//
// Blank lines are skipped and a trailing CR is ignored. Errors name the
// line; they have code EINVALID, or ETOOLARGE when a limit is passed.
func ReadFrames(r io.Reader, lim Limits) ([]Frame, error) {
	lim = lim.withDefaults()
	// Reading one byte past the limit tells "exactly at the limit" from
	// "over it" without trusting the reader to report a size.
	lr := &io.LimitedReader{R: r, N: lim.MaxBytes + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, min(lim.MaxLineBytes+1, 4096)), lim.MaxLineBytes+1)

	var (
		frames []Frame
		fields [5][]byte
		format int // number of fields per line, fixed by the first frame
	)
	lineNo := 0
	var consumed int64
	for sc.Scan() {
		lineNo++
		line := sc.Bytes()
		if len(line) > lim.MaxLineBytes {
			return nil, vigil.Errorf(vigil.ETOOLARGE, "vpdq hash line %d is longer than %d bytes", lineNo, lim.MaxLineBytes)
		}
		// Checked per line, so that a line cut short by the limit is
		// reported as the limit, not as a syntax error.
		if consumed+int64(len(line)) > lim.MaxBytes {
			return nil, vigil.Errorf(vigil.ETOOLARGE, "vpdq hash is larger than %d bytes", lim.MaxBytes)
		}
		consumed += int64(len(line)) + 1
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if len(frames) >= lim.MaxFrames {
			return nil, vigil.Errorf(vigil.ETOOLARGE, "vpdq hash has more than %d frames", lim.MaxFrames)
		}
		n := splitComma(line, fields[:])
		if n != 3 && n != 4 {
			return nil, vigil.Errorf(vigil.EINVALID, "vpdq hash line %d: want 4 comma-separated fields (frame,quality,hash,timestamp) or 3 (hash,quality,timestamp), got %d", lineNo, n)
		}
		if format == 0 {
			format = n
		} else if n != format {
			return nil, vigil.Errorf(vigil.EINVALID, "vpdq hash line %d: %d fields where earlier lines have %d", lineNo, n, format)
		}
		f, err := parseFrame(fields[:n], len(frames))
		if err != nil {
			return nil, vigil.Errorf(vigil.EINVALID, "vpdq hash line %d: %s", lineNo, err)
		}
		frames = append(frames, f)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, vigil.Errorf(vigil.ETOOLARGE, "vpdq hash line %d is longer than %d bytes", lineNo+1, lim.MaxLineBytes)
		}
		return nil, fmt.Errorf("read vpdq hash: %w", err)
	}
	if lr.N <= 0 {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "vpdq hash is larger than %d bytes", lim.MaxBytes)
	}
	return frames, nil
}

// splitComma splits line at commas into dst and returns the number of
// fields, or len(dst) when there are at least that many.
func splitComma(line []byte, dst [][]byte) int {
	n := 0
	for n < len(dst) {
		i := bytes.IndexByte(line, ',')
		if i < 0 {
			dst[n] = line
			return n + 1
		}
		dst[n] = line[:i]
		line = line[i+1:]
		n++
	}
	return n
}

// parseFrame parses the fields of one line; index is the frame's position,
// used as its number in the three-field format.
func parseFrame(fields [][]byte, index int) (Frame, error) {
	var f Frame
	var hexField, qualityField, tsField []byte
	if len(fields) == 4 {
		n, err := parseInt(fields[0], maxFrameNumber)
		if err != nil {
			return f, fmt.Errorf("frame number: %w", err)
		}
		f.Number = n
		qualityField, hexField, tsField = fields[1], fields[2], fields[3]
	} else {
		f.Number = index
		hexField, qualityField, tsField = fields[0], fields[1], fields[2]
	}
	q, err := parseInt(qualityField, 100)
	if err != nil {
		return f, fmt.Errorf("quality: %w", err)
	}
	f.Quality = q
	if f.Hash, err = pdq.ParseHash(string(hexField)); err != nil {
		return f, err
	}
	ts, err := strconv.ParseFloat(string(tsField), 64)
	if err != nil || math.IsNaN(ts) || ts < 0 || ts > math.MaxInt32 {
		return f, fmt.Errorf("timestamp %q is not a number of seconds", truncate(tsField))
	}
	f.Timestamp = ts
	return f, nil
}

// parseInt parses a non-negative decimal integer of at most max, digits
// only (no sign, spaces or underscores, which strconv.Atoi would take).
func parseInt(b []byte, max int) (int, error) {
	if len(b) == 0 || len(b) > 10 {
		return 0, fmt.Errorf("%q is not a number from 0 to %d", truncate(b), max)
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not a number from 0 to %d", truncate(b), max)
		}
		n = 10*n + int(c-'0')
	}
	if n > max {
		return 0, fmt.Errorf("%d is over %d", n, max)
	}
	return n, nil
}

// truncate shortens untrusted text quoted in error messages.
func truncate(b []byte) string {
	if len(b) > 32 {
		return string(b[:32]) + "…"
	}
	return string(b)
}
