package hashing

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// tinyBMP returns a 154-byte top-down 32-bit BMP whose header claims w×h
// pixels: decoding it would allocate w×h×4 bytes before finding the data
// missing.
func tinyBMP(w, h int32) []byte {
	b := make([]byte, 154)
	copy(b, "BM")
	binary.LittleEndian.PutUint32(b[2:], uint32(len(b)))
	binary.LittleEndian.PutUint32(b[10:], 54) // pixel data offset
	binary.LittleEndian.PutUint32(b[14:], 40) // BITMAPINFOHEADER
	binary.LittleEndian.PutUint32(b[18:], uint32(w))
	binary.LittleEndian.PutUint32(b[22:], uint32(-h)) // top-down
	binary.LittleEndian.PutUint16(b[26:], 1)          // planes
	binary.LittleEndian.PutUint16(b[28:], 32)         // bits per pixel
	return b
}

// bigJPEG returns a small JPEG whose frame header is patched to claim w×h.
func bigJPEG(tb testing.TB, w, h uint16) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 16, 16)), nil); err != nil {
		tb.Fatal(err)
	}
	b := buf.Bytes()
	i := bytes.Index(b, []byte{0xff, 0xc0})
	binary.BigEndian.PutUint16(b[i+5:], h)
	binary.BigEndian.PutUint16(b[i+7:], w)
	return b
}

// A header that claims more pixels than the file could hold is refused
// before any pixel memory is allocated.
func TestImplausibleSizeRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"154-byte 8000x8000 bmp", tinyBMP(8000, 8000)},
		{"8000x8000 png of 70 bytes", hugePNG(8000, 8000)},
		{"8000x8000 jpeg of 200 bytes", bigJPEG(t, 8000, 8000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, _, err := DecodeImage(t.Context(), tc.data, Limits{})
			runtime.ReadMemStats(&after)
			if vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(err.Error(), "claims") {
				t.Errorf("error %v, want EINVALID saying what the header claims", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
				t.Errorf("allocated %d MB before refusing", alloc>>20)
			}
		})
	}
	// The bounds leave real files alone, however well they compress.
	flat := image.NewGray(image.Rect(0, 0, 2000, 2000))
	for _, enc := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return png.Encode(b, flat) },
		func(b *bytes.Buffer) error { return jpeg.Encode(b, flat, &jpeg.Options{Quality: 1}) },
	} {
		var b bytes.Buffer
		if err := enc(&b); err != nil {
			t.Fatal(err)
		}
		_, format, release, err := DecodeImage(t.Context(), b.Bytes(), Limits{})
		if err != nil {
			t.Errorf("flat 2000x2000 %s of %d bytes: %v", format, b.Len(), err)
			continue
		}
		release()
	}
}

// flatPNG returns a 2000×2000 RGB PNG of one colour: about 16 KB that
// decode to 16 MB.
func flatPNG(tb testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 2000, 2000))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// peakHeap runs f while sampling the heap in use, and returns its peak
// above the level before f.
func peakHeap(f func()) uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	return peak.Load()
}

// Sixteen costly images hashed at once, by sixteen workers sharing one
// budget, keep the heap near the budget: the images decoded at any time
// fit in it, and the rest wait their turn.
func TestDecodeBudgetBoundsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 256 MB of images")
	}
	const budget = 40 << 20 // two of the 16 MB images at a time
	defer debug.SetGCPercent(debug.SetGCPercent(50))
	data := flatPNG(t)
	run := func(lim Limits) (uint64, []error) {
		errs := make([]error, 16)
		peak := peakHeap(func() {
			var wg sync.WaitGroup
			for i := range errs {
				wg.Go(func() {
					_, errs[i] = NewHasher(Options{Limits: lim}).HashImageBytes(data)
				})
			}
			wg.Wait()
		})
		return peak, errs
	}
	peak, errs := run(Limits{Memory: NewDecodeBudget(budget, time.Hour)})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Live images stay within the budget; garbage not yet collected
	// (GOGC 50) and the workers' buffers account for the rest.
	const bound = budget*3/2 + 24<<20
	t.Logf("peak heap in use: %d MB with a %d MB budget (bound %d MB)", peak>>20, budget>>20, bound>>20)
	if peak > bound {
		t.Errorf("peak heap in use %d MB, over the %d MB bound", peak>>20, bound>>20)
	}
	// The same 16 tiny BMPs claiming 8000x8000 take nothing at all.
	bmpPeak := peakHeap(func() {
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				if _, err := NewHasher(Options{}).HashImageBytes(tinyBMP(8000, 8000)); vigil.ErrorCode(err) != vigil.EINVALID {
					t.Errorf("tiny bmp: %v", err)
				}
			})
		}
		wg.Wait()
	})
	if bmpPeak > 16<<20 {
		t.Errorf("16 tiny BMPs: peak heap in use %d MB", bmpPeak>>20)
	}
	if testing.Verbose() {
		unbounded, _ := run(Limits{})
		t.Logf("without a budget: peak heap in use %d MB", unbounded>>20)
	}
}

// A budget that stays full refuses after its wait (EUNAVAILABLE, an error
// HashContent returns rather than a signal-less result); an image that
// could never fit is refused at once (ETOOLARGE).
func TestDecodeBudgetFull(t *testing.T) {
	data := flatPNG(t)
	b := NewDecodeBudget(20<<20, time.Millisecond)
	release, err := b.Reserve(t.Context(), 10<<20)
	if err != nil {
		t.Fatal(err)
	}
	h := NewHasher(Options{Limits: Limits{Memory: b}})
	if _, err := h.HashImageBytes(data); vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
		t.Errorf("full budget: %v, want EUNAVAILABLE", err)
	}
	d, data, _ := h.Read(bytes.NewReader(data))
	if c, err := h.HashContent(t.Context(), d, data, ContentOptions{NoVideo: true}); vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
		t.Errorf("HashContent on a full budget: %+v, %v; want EUNAVAILABLE", c, err)
	}
	release()
	if _, err := h.HashImageBytes(data); err != nil {
		t.Errorf("after release: %v", err)
	}
	small := NewHasher(Options{Limits: Limits{Memory: NewDecodeBudget(1<<20, time.Hour)}})
	if _, err := small.HashImageBytes(data); vigil.ErrorCode(err) != vigil.ETOOLARGE {
		t.Errorf("image over the whole budget: %v, want ETOOLARGE", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, _, err := DecodeImage(ctx, data, Limits{Memory: NewDecodeBudget(1<<30, time.Hour)}); !errors.Is(err, context.Canceled) {
		// The caller has gone: nothing to decode for.
		t.Errorf("cancelled ctx: %v, want context.Canceled", err)
	}
}

// decodeCost errs high for every colour model a decoder returns.
func TestDecodeCost(t *testing.T) {
	for _, m := range []color.Model{color.GrayModel, color.RGBAModel, color.NRGBA64Model, color.YCbCrModel, color.Palette{color.Black}} {
		c := decodeCost("png", image.Config{ColorModel: m, Width: 100, Height: 100}, nil)
		if c < 100*100 {
			t.Errorf("%T: cost %d", m, c)
		}
	}
}
