package vpdq

import (
	"bytes"
	"image"
	"image/jpeg"
	"slices"
	"sync"

	"github.com/vigil-oss/vigil/pdq"
)

// KeepOptions say which of the frames hashing samples a Keeper keeps, for
// classifiers that look at pixels: the scene frames, so that a shot held
// for a minute is looked at once, spread over the whole video.
type KeepOptions struct {
	// MaxFrames is the most frames kept (default DefaultKeepFrames, at
	// most MaxKeepFrames). When a video has more scene frames, every
	// other one is dropped, as often as needed, so that those kept stay
	// evenly spread from the first to the last.
	MaxFrames int
	// MaxBytes bounds the JPEG bytes of all the frames kept (default
	// DefaultKeepBytes); Frames drops frames evenly until they fit.
	MaxBytes int
	// Size is the longest side of a kept frame, in pixels (default
	// DefaultKeepSize): frames are scaled down (never up), aspect kept,
	// with an area filter. Classifiers look at a few hundred pixels.
	Size int
	// SceneDistance is the PDQ distance from the last scene frame over
	// which a sampled frame starts a new scene (default
	// DefaultSceneDistance: a frame that would match the last scene's is
	// the same scene). The first sampled frame always starts one.
	SceneDistance int
}

// Defaults and bounds of KeepOptions.
const (
	DefaultKeepFrames    = 16
	MaxKeepFrames        = 256
	DefaultKeepBytes     = 8 << 20
	DefaultKeepSize      = 512
	maxKeepSize          = 2048
	DefaultSceneDistance = 31
	keepJPEGQuality      = 90
)

func (o KeepOptions) withDefaults() KeepOptions {
	if o.MaxFrames <= 0 {
		o.MaxFrames = DefaultKeepFrames
	}
	o.MaxFrames = min(o.MaxFrames, MaxKeepFrames)
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultKeepBytes
	}
	if o.Size <= 0 {
		o.Size = DefaultKeepSize
	}
	o.Size = min(o.Size, maxKeepSize)
	if o.SceneDistance <= 0 {
		o.SceneDistance = DefaultSceneDistance
	}
	return o
}

// KeptFrame is a sampled frame a Keeper kept, encoded as JPEG.
type KeptFrame struct {
	Number    int     // as Frame.Number
	Timestamp float64 // as Frame.Timestamp, in seconds
	Hash      pdq.Hash
	JPEG      []byte
}

// Keeper keeps scaled copies of some of the frames vPDQ hashing samples,
// from the pixels it decodes anyway: a caller that wants video frames for
// a classifier gets them without decoding the video a second time. Give
// one Keeper to one HashFile or HashReader call (Options.Keep), then read
// Frames. Memory is bounded by MaxFrames scaled frames plus one per
// hashing worker.
type Keeper struct {
	opts KeepOptions

	mu      sync.Mutex
	step    int // sampling modulus: the frame numbers offered are 0, step, 2·step, …
	next    int // the next frame number to decide on
	pending map[int]offered
	scene   pdq.Hash // the last scene frame's hash
	scenes  int      // scene frames seen
	stride  int      // a scene frame is kept iff its index is a multiple
	kept    []keptRaw
}

type offered struct {
	frame Frame
	buf   []byte
	free  func([]byte)
}

type keptRaw struct {
	index int // among scene frames
	frame Frame
	img   *image.RGBA
}

// NewKeeper returns a Keeper; zero options take the defaults.
func NewKeeper(o KeepOptions) *Keeper {
	return &Keeper{opts: o.withDefaults(), stride: 1, pending: map[int]offered{}}
}

// start readies k for a video sampled every step frames.
func (k *Keeper) start(step int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.step, k.next = step, 0
	k.scenes, k.stride, k.kept = 0, 1, nil
	clear(k.pending)
}

// offer hands k a hashed frame and the buffer of its w×h RGB24 pixels,
// which k gives back with free once decided. Frames may come out of
// order (several hashing workers); they are decided in frame order, so
// that what is kept does not depend on the number of workers. A frame
// waits only for earlier ones, which are being hashed, so no buffer is
// held for long.
func (k *Keeper) offer(f Frame, buf []byte, w, h int, free func([]byte)) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pending[f.Number] = offered{frame: f, buf: buf, free: free}
	for {
		p, ok := k.pending[k.next]
		if !ok {
			return
		}
		delete(k.pending, k.next)
		k.next += k.step
		k.decide(p.frame, p.buf, w, h)
		p.free(p.buf)
	}
}

// decide keeps f if it starts a scene and falls on the stride.
func (k *Keeper) decide(f Frame, buf []byte, w, h int) {
	if k.scenes > 0 && pdq.Distance(f.Hash, k.scene) <= k.opts.SceneDistance {
		return
	}
	k.scene = f.Hash
	index := k.scenes
	k.scenes++
	if index%k.stride != 0 {
		return
	}
	k.kept = append(k.kept, keptRaw{index: index, frame: f, img: scaleRGB24(buf, w, h, k.opts.Size)})
	for len(k.kept) > k.opts.MaxFrames {
		k.stride *= 2
		k.kept = slices.DeleteFunc(k.kept, func(r keptRaw) bool { return r.index%k.stride != 0 })
	}
}

// Frames returns the frames kept, in frame order, encoded as JPEG within
// MaxBytes: when they do not fit, every other frame is dropped until they
// do (a single frame over MaxBytes is dropped too).
func (k *Keeper) Frames() []KeptFrame {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make([]KeptFrame, 0, len(k.kept))
	total := 0
	for _, r := range k.kept {
		var b bytes.Buffer
		// Encoding an *image.RGBA to memory cannot fail.
		_ = jpeg.Encode(&b, r.img, &jpeg.Options{Quality: keepJPEGQuality})
		out = append(out, KeptFrame{Number: r.frame.Number, Timestamp: r.frame.Timestamp, Hash: r.frame.Hash, JPEG: b.Bytes()})
		total += b.Len()
	}
	for total > k.opts.MaxBytes && len(out) > 0 {
		if len(out) == 1 {
			return nil
		}
		thinned := out[:0]
		total = 0
		for i, f := range out {
			if i%2 == 0 {
				thinned = append(thinned, f)
				total += len(f.JPEG)
			}
		}
		out = thinned
	}
	return out
}

// scaleRGB24 returns the w×h RGB24 pixels in buf scaled to fit size×size
// (never up). Each target pixel averages the source pixels at the
// quarter and three-quarter points of the block it covers, at most four:
// the area average for blocks up to 2×2, and close to it for larger ones
// at a fraction of the cost (a 1080p frame has 2 million pixels to read
// otherwise, as many as PDQ's own pass over it).
func scaleRGB24(buf []byte, w, h, size int) *image.RGBA {
	tw, th := fit(w, h, size)
	img := image.NewRGBA(image.Rect(0, 0, tw, th))
	for ty := range th {
		y0, y1 := ty*h/th, max((ty+1)*h/th, ty*h/th+1)
		ys := [2]int{y0 + (y1-y0)/4, y0 + 3*(y1-y0)/4}
		row := img.Pix[ty*img.Stride:]
		for tx := range tw {
			x0, x1 := tx*w/tw, max((tx+1)*w/tw, tx*w/tw+1)
			xs := [2]int{x0 + (x1-x0)/4, x0 + 3*(x1-x0)/4}
			var r, g, b int
			for _, y := range ys {
				for _, x := range xs {
					i := 3 * (y*w + x)
					r += int(buf[i])
					g += int(buf[i+1])
					b += int(buf[i+2])
				}
			}
			px := row[4*tx : 4*tx+4]
			px[0], px[1], px[2], px[3] = uint8(r/4), uint8(g/4), uint8(b/4), 0xff
		}
	}
	return img
}
