package vpdq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/pdq"
)

// Options configures hashing. The zero value hashes one frame per second
// at native size, as python-threatexchange and HMA do, with the default
// limits.
type Options struct {
	// EveryFrame hashes every decoded frame, as vpdq-hash-video does by
	// default (-r 0); SecondsPerHash is then ignored.
	EveryFrame bool
	// SecondsPerHash is the sampling interval: frame n is hashed iff
	// n % int(SecondsPerHash·frameRate) == 0 (a modulus of 0 counts as
	// 1). Zero means DefaultSecondsPerHash.
	SecondsPerHash float64
	// Size, when positive, scales frames to Size×Size (aspect not kept,
	// area filter) before hashing, as vpdq-hash-video -s Size. Only 128 is
	// checked against the reference. Zero hashes at native size.
	Size int
	// MaxPixels is the largest width×height accepted (default
	// DefaultMaxPixels), checked on the native size before decoding, Size
	// or not. Frame buffers take
	// 3·(Workers+2)·width·height bytes (200 MB for two workers at the
	// default limit), plus ffmpeg's own.
	MaxPixels int64
	// MaxFrames is the most frames decoded, hashed or not (default
	// DefaultMaxVideoFrames).
	MaxFrames int
	// MaxDuration is the longest video accepted (default
	// DefaultMaxDuration), checked against the container's claim before
	// decoding and against frame timestamps while decoding.
	MaxDuration time.Duration
	// Timeout bounds the wall time of the whole call (default
	// DefaultTimeout), in addition to the context's deadline.
	Timeout time.Duration
	// Workers is the number of goroutines hashing frames while one more
	// reads them from ffmpeg (default 1, at most GOMAXPROCS). Output
	// order does not depend on it.
	Workers int
	// FFmpeg and FFprobe are the programs to run, looked up in PATH when
	// they have no slash (default "ffmpeg" and "ffprobe").
	FFmpeg, FFprobe string
	// ProbeBytes bounds how much of a stream HashReader keeps in memory
	// while ffprobe reads its header (default DefaultProbeBytes).
	ProbeBytes int
	// Keep, if set, keeps scaled copies of the scene frames among those
	// sampled, for classifiers (see Keeper), from the pixels decoded for
	// hashing. With Size set they are scaled from the Size×Size frames.
	Keep *Keeper
}

// Defaults for Options.
const (
	DefaultSecondsPerHash = 1.0
	// DefaultMaxPixels admits 4096×4096 and so every 4K format, not 8K.
	DefaultMaxPixels = 4096 * 4096
	// DefaultMaxVideoFrames is three hours at 60 frames per second.
	DefaultMaxVideoFrames = 3 * 3600 * 60
	DefaultMaxDuration    = 3 * time.Hour
	DefaultTimeout        = 30 * time.Minute
	DefaultProbeBytes     = 16 << 20
	// maxSize bounds Options.Size; the reference takes any size, but
	// there is no use for hashing frames larger than this.
	maxSize = 4096
)

func (o Options) withDefaults() (Options, error) {
	if o.SecondsPerHash == 0 {
		o.SecondsPerHash = DefaultSecondsPerHash
	}
	if math.IsNaN(o.SecondsPerHash) || math.IsInf(o.SecondsPerHash, 0) || o.SecondsPerHash < 0 {
		return o, vigil.Errorf(vigil.EINVALID, "seconds per hash must be a positive number, not %v", o.SecondsPerHash)
	}
	if o.Size != 0 && (o.Size < pdq.MinDimension || o.Size > maxSize) {
		return o, vigil.Errorf(vigil.EINVALID, "frame size must be 0 (native) or %d to %d, not %d", pdq.MinDimension, maxSize, o.Size)
	}
	if o.MaxPixels <= 0 {
		o.MaxPixels = DefaultMaxPixels
	}
	if o.MaxFrames <= 0 {
		o.MaxFrames = DefaultMaxVideoFrames
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = DefaultMaxDuration
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	// More hashers than threads would only add frame buffers.
	o.Workers = max(1, min(o.Workers, runtime.GOMAXPROCS(0)))
	if o.FFmpeg == "" {
		o.FFmpeg = "ffmpeg"
	}
	if o.FFprobe == "" {
		o.FFprobe = "ffprobe"
	}
	if o.ProbeBytes <= 0 {
		o.ProbeBytes = DefaultProbeBytes
	}
	return o, nil
}

// HashFile hashes the video at path. It runs ffprobe, checks the limits,
// then decodes with ffmpeg and hashes the sampled frames in frame order.
//
// Errors carry a vigil code: EINVALID for data that is not a decodable
// video, EUNSUPPORTED for a file without a video stream, ETOOLARGE when a
// limit is passed, EINTERNAL when ffmpeg or ffprobe is missing. When
// MaxFrames or MaxDuration stops decoding, the frames hashed so far are
// returned with the ETOOLARGE error. A cancelled ctx gives ctx.Err(),
// wrapped. In every case ffmpeg has exited and been waited for on return.
//
// A frame that FFmpeg cannot decode is skipped, as the ffmpeg command
// does, where the reference would fail the whole video.
func HashFile(ctx context.Context, path string, opts Options) ([]Frame, Info, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, Info{}, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, o.Timeout, errTimeout)
	defer cancel()
	// The file: prefix keeps a path from being read as a URL or an
	// option ("http://…", "-…").
	input := "file:" + path
	info, err := probe(ctx, o.FFprobe, input, nil)
	if err != nil {
		return nil, info, o.contextError(ctx, "probe video", err)
	}
	frames, info, err := o.decode(ctx, input, nil, info)
	return frames, info, o.contextError(ctx, "hash video", err)
}

// HashReader hashes a video read from r, piped to ffmpeg's stdin, nothing
// written to disk. ffprobe reads the stream's header first; the bytes it
// reads (at most ProbeBytes) are kept in memory and fed again to ffmpeg.
//
// Streaming formats (Matroska, WebM, MPEG-TS, fragmented MP4) and MP4 with
// its index ("moov") at the front work. An MP4 with the index at the end
// cannot be decoded from a pipe: ffprobe fails on it if it is over
// ProbeBytes, and ffmpeg if not; either way HashReader returns an
// EUNSUPPORTED error that says so. Hash such files with HashFile, or remux
// them with "ffmpeg -i in.mp4 -c copy -movflags +faststart out.mp4".
//
// Errors and limits are as for HashFile. If r blocks, a goroutine may
// still be inside r.Read for a moment after HashReader returns with an
// error; closing r ends it.
func HashReader(ctx context.Context, r io.Reader, opts Options) ([]Frame, Info, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, Info{}, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, o.Timeout, errTimeout)
	defer cancel()
	rec := &recorder{r: r, max: o.ProbeBytes}
	info, err := probe(ctx, o.FFprobe, "pipe:0", rec)
	head, tooLong := rec.stop()
	if errors.Is(err, exec.ErrWaitDelay) {
		// ffprobe's stdin copier may still be inside r.Read, so r can no
		// longer be read in order.
		return nil, info, fmt.Errorf("probe video: stream reader did not return: %w", err)
	}
	if err != nil {
		if tooLong && vigil.ErrorCode(err) == vigil.EINVALID {
			err = vigil.Errorf(vigil.EUNSUPPORTED, "video stream cannot be read from its first %d bytes (an MP4 with its index at the end cannot be streamed: hash it from a file or remux it with -movflags +faststart): %s", o.ProbeBytes, vigil.ErrorMessage(err))
		}
		return nil, info, o.contextError(ctx, "probe video", err)
	}
	frames, info, err := o.decode(ctx, "pipe:0", io.MultiReader(bytes.NewReader(head), r), info)
	return frames, info, o.contextError(ctx, "hash video", err)
}

// errTimeout is the cause of our own deadline, to tell it from the
// caller's.
var errTimeout = errors.New("vpdq timeout")

// contextError turns a failure caused by the context into the error the
// caller should see: ETOOLARGE for our Timeout, the context's error for
// the caller's cancellation or deadline.
func (o Options) contextError(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		if context.Cause(ctx) == errTimeout {
			return vigil.Errorf(vigil.ETOOLARGE, "video took longer than %v to hash", o.Timeout)
		}
		return fmt.Errorf("%s: %w", what, context.Cause(ctx))
	}
	if _, ok := errors.AsType[*vigil.Error](err); ok {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// recorder passes the first max bytes of r to ffprobe and keeps them so
// that ffmpeg can be given them again; past max it reports EOF.
type recorder struct {
	mu      sync.Mutex
	r       io.Reader
	max     int
	buf     []byte
	stopped bool
	hitMax  bool
}

func (c *recorder) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return 0, io.EOF
	}
	room := c.max - len(c.buf)
	if room <= 0 {
		c.hitMax = true
		return 0, io.EOF
	}
	n, err := c.r.Read(p[:min(len(p), room)])
	c.buf = append(c.buf, p[:n]...)
	return n, err
}

// stop ends recording and returns the bytes read and whether the limit
// was reached.
func (c *recorder) stop() ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	return c.buf, c.hitMax
}

// decode checks info against the limits, runs ffmpeg on input and hashes
// its frames.
func (o Options) decode(ctx context.Context, input string, stdin io.Reader, info Info) ([]Frame, Info, error) {
	if px := int64(info.Width) * int64(info.Height); px > o.MaxPixels {
		return nil, info, vigil.Errorf(vigil.ETOOLARGE, "video is %dx%d, over the limit of %d pixels", info.Width, info.Height, o.MaxPixels)
	}
	if info.Duration > o.MaxDuration {
		return nil, info, vigil.Errorf(vigil.ETOOLARGE, "video lasts %v, over the limit of %v", info.Duration.Round(time.Second), o.MaxDuration)
	}
	w, h := info.Width, info.Height
	if o.Size > 0 {
		w, h = o.Size, o.Size
	}
	if w < pdq.MinDimension || h < pdq.MinDimension {
		// The reference fails on such frames too.
		return nil, info, vigil.Errorf(vigil.EINVALID, "video is %dx%d, under the %d-pixel minimum", w, h, pdq.MinDimension)
	}

	// Our own cancel, separate from the caller's, kills ffmpeg when we
	// stop reading early.
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dec, err := startDecoder(ctx, o.FFmpeg, input, stdin, w, h)
	if err != nil {
		return nil, info, err
	}
	s := sampler{
		width: w, height: h,
		rate:      info.FrameRate,
		frameMod:  frameMod(o, info.FrameRate),
		maxFrames: o.MaxFrames,
		maxTime:   o.MaxDuration.Seconds(),
		workers:   o.Workers,
		keep:      o.Keep,
	}
	if s.keep != nil {
		s.keep.start(s.frameMod)
	}
	frames, decoded, readErr := s.run(ctx, dec.out)
	info.Frames = decoded
	if readErr != nil {
		// We stopped reading: ffmpeg would block on a full pipe forever.
		cancel()
	}
	waitErr := dec.wait()
	stderr := dec.stderr
	switch {
	case readErr != nil && vigil.ErrorCode(readErr) == vigil.ETOOLARGE:
		return frames, info, readErr
	case parent.Err() != nil:
		// ffmpeg was killed; whatever it or the reader reported follows
		// from that.
		return nil, info, parent.Err()
	case readErr != nil:
		return nil, info, readErr
	case waitErr != nil:
		var exit *exec.ExitError
		if !errors.As(waitErr, &exit) {
			return nil, info, fmt.Errorf("run ffmpeg: %w", waitErr)
		}
		msg := stderr.message("ffmpeg failed")
		if input == "pipe:0" && strings.Contains(stderr.String(), "partial file") {
			return nil, info, vigil.Errorf(vigil.EUNSUPPORTED, "video cannot be decoded from a stream (an MP4 with its index at the end: hash it from a file or remux it with -movflags +faststart): %s", msg)
		}
		return nil, info, vigil.Errorf(vigil.EINVALID, "video cannot be decoded: %s", msg)
	case decoded == 0:
		return nil, info, vigil.Errorf(vigil.EINVALID, "video has no decodable frames: %s", stderr.message("ffmpeg gave none"))
	}
	info.Warning = stderr.message("")
	return frames, info, nil
}

// decoder is a running ffmpeg that writes raw frames to out.
type decoder struct {
	cmd    *exec.Cmd
	out    *os.File
	stderr *tailBuffer
}

// startDecoder starts ffmpeg decoding input to w×h RGB24 frames. The
// caller reads frames from out and must call wait, after cancelling ctx
// if it stops reading before EOF.
func startDecoder(ctx context.Context, ffmpeg, input string, stdin io.Reader, w, h int) (*decoder, error) {
	cmd := exec.CommandContext(ctx, ffmpeg, decodeArgs(input, w, h)...)
	cmd.Stdin = stdin
	stderr := &tailBuffer{max: stderrTail}
	cmd.Stderr = stderr
	cmd.WaitDelay = waitDelay
	// Our own pipe rather than StdoutPipe, to enlarge its buffer.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("run ffmpeg: %w", err)
	}
	setPipeSize(pw, 1<<20)
	cmd.Stdout = pw
	err = cmd.Start()
	// The child has its copy; ours must go for reads to see EOF.
	pw.Close()
	if err != nil {
		pr.Close()
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return nil, notFound("ffmpeg", ffmpeg, err)
		}
		return nil, fmt.Errorf("run ffmpeg: %w", err)
	}
	return &decoder{cmd: cmd, out: pr, stderr: stderr}, nil
}

// wait reaps ffmpeg and releases the pipe.
func (d *decoder) wait() error {
	err := d.cmd.Wait()
	d.out.Close()
	return err
}

// frameMod is the reference's sampling modulus: every frameMod-th decoded
// frame is hashed.
func frameMod(o Options, rate float64) int {
	if o.EveryFrame {
		return 1
	}
	// The reference truncates the double product to int; we clamp first
	// so that absurd intervals cannot overflow.
	m := o.SecondsPerHash * rate
	if m >= math.MaxInt32 {
		return math.MaxInt32
	}
	if m < 1 {
		return 1
	}
	return int(m)
}

// timestamp is the reference's: it divides in single precision.
func timestamp(n int, rate float64) float64 {
	return float64(float32(n) / float32(rate))
}

// sampler reads raw frames from ffmpeg and hashes the sampled ones.
type sampler struct {
	width, height int
	rate          float64
	frameMod      int
	maxFrames     int
	maxTime       float64
	workers       int
	keep          *Keeper
}

type job struct {
	number int
	buf    []byte
}

// run reads every frame from r, hashing those the sampling selects on
// s.workers goroutines, and returns the frames in order, the number of
// frames read and the first error. It returns only when all its
// goroutines have finished. On an error it stops reading: the caller must
// then stop the writer.
func (s *sampler) run(ctx context.Context, r io.Reader) ([]Frame, int, error) {
	size := 3 * s.width * s.height
	// One buffer per worker, one being filled and one queued: reading
	// stays a frame ahead of the hashers and memory stays bounded.
	nbuf := s.workers + 2
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- make([]byte, size)
	}
	jobs := make(chan job, 1)

	var (
		mu     sync.Mutex
		frames []Frame
		wg     sync.WaitGroup
	)
	for range s.workers {
		wg.Go(func() {
			h := pdq.NewHasher(pdq.Full)
			for j := range jobs {
				hash, q := h.HashRGB24(j.buf, s.width, s.height)
				f := Frame{Number: j.number, Quality: q, Hash: hash, Timestamp: timestamp(j.number, s.rate)}
				if s.keep != nil {
					s.keep.offer(f, j.buf, s.width, s.height, func(b []byte) { free <- b })
				} else {
					free <- j.buf
				}
				mu.Lock()
				frames = append(frames, f)
				mu.Unlock()
			}
		})
	}

	n, err := s.read(ctx, r, free, jobs, size)
	close(jobs)
	wg.Wait()
	// Workers finish out of order; the reference sorts by frame number
	// too.
	slices.SortFunc(frames, func(a, b Frame) int { return a.Number - b.Number })
	return frames, n, err
}

// read is run's reading loop; it returns the number of frames read.
func (s *sampler) read(ctx context.Context, r io.Reader, free chan []byte, jobs chan<- job, size int) (int, error) {
	var skip []byte
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		selected := n%s.frameMod == 0
		var buf []byte
		if selected {
			buf = <-free
		} else {
			if skip == nil {
				skip = make([]byte, min(size, 1<<20))
			}
		}
		var err error
		if selected {
			_, err = io.ReadFull(r, buf)
		} else {
			err = discard(r, skip, size)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return n, fmt.Errorf("ffmpeg output ends inside frame %d", n)
			}
			return n, fmt.Errorf("read frames: %w", err)
		}
		// A frame past a limit was decoded, so the video is over it.
		if n >= s.maxFrames {
			return n, vigil.Errorf(vigil.ETOOLARGE, "video has more than %d frames", s.maxFrames)
		}
		if float64(n)/s.rate >= s.maxTime {
			return n, vigil.Errorf(vigil.ETOOLARGE, "video lasts longer than %v", time.Duration(s.maxTime*float64(time.Second)))
		}
		if selected {
			jobs <- job{number: n, buf: buf}
		}
	}
}

// discard reads and drops size bytes from r through buf. Like io.ReadFull
// it returns io.EOF when nothing was read and io.ErrUnexpectedEOF when
// only part was.
func discard(r io.Reader, buf []byte, size int) error {
	done := 0
	for done < size {
		n, err := r.Read(buf[:min(len(buf), size-done)])
		done += n
		if err != nil {
			if err == io.EOF {
				if done == 0 {
					return io.EOF
				}
				if done < size {
					return io.ErrUnexpectedEOF
				}
				return nil
			}
			return err
		}
	}
	return nil
}
