package http

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
)

// TestRevealGrant checks the derived reveal grants: good for its case and
// session only, until revealTTL, and not forgeable by changing the expiry.
func TestRevealGrant(t *testing.T) {
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	s := &uiSession{Session: &vigil.Session{}, token: randomToken()}
	other := &uiSession{Session: &vigil.Session{}, token: randomToken()}
	tok := s.grantReveal(42, now)
	exp, mac, _ := strings.Cut(tok, ".")
	later := strconv.FormatInt(now.Add(time.Hour).Unix(), 10)
	switch {
	case !s.revealed(tok, 42, now):
		t.Fatal("fresh grant refused")
	case !s.revealed(tok, 42, now.Add(revealTTL)):
		t.Fatal("grant refused at the end of its time")
	case s.revealed(tok, 43, now):
		t.Fatal("grant for case 42 opened case 43")
	case other.revealed(tok, 42, now):
		t.Fatal("another session used the grant")
	case s.revealed("nope", 42, now), s.revealed("", 42, now), s.revealed(exp+".", 42, now):
		t.Fatal("malformed token accepted")
	case s.revealed(later+"."+mac, 42, now):
		t.Fatal("grant with a changed expiry accepted")
	case s.revealed(tok, 42, now.Add(revealTTL+time.Second)):
		t.Fatal("expired grant accepted")
	}
	// A grant made for the far future (by whoever knew the token) is
	// refused all the same.
	if far := s.grantReveal(42, now.Add(time.Hour)); s.revealed(far, 42, now) {
		t.Fatal("grant expiring past revealTTL from now accepted")
	}
	if s.csrf() == other.csrf() || s.csrf() != (&uiSession{token: s.token}).csrf() {
		t.Fatal("CSRF tokens are not one per session token")
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "/ui/",
		"/ui/cases/3":          "/ui/cases/3",
		"/ui/queues/a?state=x": "/ui/queues/a?state=x",
		"https://evil.example": "/ui/",
		"//evil.example/ui/":   "/ui/",
		"/ui/\\evil":           "/ui/",
		"/v1/keys":             "/ui/",
		"/ui/\r\nSet-Cookie:":  "/ui/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// testPicture is a benign generated image: a colour gradient with a hard
// black-and-white edge down the middle, so that blurring shows.
func testPicture(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(255 * x / w), uint8(255 * y / h), 200, 255}
			if x > w/2 && x < w/2+w/8 {
				c = color.NRGBA{0, 0, 0, 255}
			} else if x >= w/2+w/8 && x < w/2+w/4 {
				c = color.NRGBA{255, 255, 255, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

func encode(tb testing.TB, img image.Image, format string) []byte {
	tb.Helper()
	var buf bytes.Buffer
	var err error
	if format == "jpeg" {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	} else {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestBlurredRendition(t *testing.T) {
	for _, format := range []string{"png", "jpeg"} {
		t.Run(format, func(t *testing.T) {
			src := testPicture(640, 480)
			out, err := blurredRendition(encode(t, src, format), hashing.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			img, f, err := image.Decode(bytes.NewReader(out))
			if err != nil || f != "png" {
				t.Fatalf("rendition is not a PNG: %v %q", err, f)
			}
			b := img.Bounds()
			if b.Dx() != previewSize || b.Dy() != previewSize*480/640 {
				t.Fatalf("rendition is %v, want %dx%d", b, previewSize, previewSize*480/640)
			}
			// Greyscale: every pixel has equal channels.
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					r, g, bl, _ := img.At(x, y).RGBA()
					if r != g || g != bl {
						t.Fatalf("pixel (%d,%d) has colour %d,%d,%d", x, y, r, g, bl)
					}
				}
			}
			// Blurred: the hard edge of the source (black next to white in
			// adjacent columns) is gone; the steepest step between
			// neighbours in the rendition is a fraction of it.
			steepest := 0
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X + 1; x < b.Max.X; x++ {
					d := int(grey(img.At(x, y))) - int(grey(img.At(x-1, y)))
					steepest = max(steepest, d, -d)
				}
			}
			if steepest > 40 {
				t.Fatalf("steepest step between neighbours is %d of 255: not blurred", steepest)
			}
			if bytes.Equal(out, encode(t, src, "png")) {
				t.Fatal("rendition equals the original")
			}
		})
	}
}

func grey(c color.Color) uint8 { return color.GrayModel.Convert(c).(color.Gray).Y }

func TestBlurredRenditionLimits(t *testing.T) {
	data := encode(t, testPicture(200, 200), "png")
	if _, err := blurredRendition(data, hashing.Limits{MaxBytes: 100}); vigil.ErrorCode(err) != vigil.ETOOLARGE {
		t.Fatalf("over MaxBytes: %v", err)
	}
	if _, err := blurredRendition(data, hashing.Limits{MaxPixels: 100 * 100}); vigil.ErrorCode(err) != vigil.ETOOLARGE {
		t.Fatalf("over MaxPixels: %v", err)
	}
	if _, err := blurredRendition([]byte("<svg onload=alert(1)>"), hashing.Limits{}); vigil.ErrorCode(err) != vigil.EUNSUPPORTED {
		t.Fatalf("not an image: %v", err)
	}
	// Small images are not scaled up, and a one-pixel image still works.
	for _, n := range []int{1, 3, 50} {
		out, err := blurredRendition(encode(t, testPicture(n, n), "png"), hashing.Limits{})
		if err != nil {
			t.Fatalf("%dx%d: %v", n, n, err)
		}
		cfg, _, _ := image.DecodeConfig(bytes.NewReader(out))
		if cfg.Width != n || cfg.Height != n {
			t.Fatalf("%dx%d became %dx%d", n, n, cfg.Width, cfg.Height)
		}
	}
}

// FuzzBlurredRendition feeds arbitrary bytes to the preview decoder: it
// must return an error or a PNG, never panic or exceed its limits.
func FuzzBlurredRendition(f *testing.F) {
	f.Add(encode(f, testPicture(40, 30), "png"))
	f.Add(encode(f, testPicture(40, 30), "jpeg"))
	f.Add([]byte("GIF89a"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := blurredRendition(data, hashing.Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20})
		if err != nil {
			return
		}
		cfg, f, err := image.DecodeConfig(bytes.NewReader(out))
		if err != nil || f != "png" || cfg.Width > previewSize || cfg.Height > previewSize {
			t.Fatalf("bad rendition: %v %q %dx%d", err, f, cfg.Width, cfg.Height)
		}
	})
}

func TestBreakDue(t *testing.T) {
	tests := []struct {
		opts    UIOptions
		decided int
		stretch time.Duration
		want    bool
	}{
		{UIOptions{}, 0, 0, false},
		{UIOptions{}, DefaultBreakAfter - 1, DefaultBreakEvery - time.Minute, false},
		{UIOptions{}, DefaultBreakAfter, time.Minute, true},
		{UIOptions{}, 1, DefaultBreakEvery, true},
		{UIOptions{BreakAfter: 5}, 5, 0, true},
		{UIOptions{BreakAfter: 5}, 4, 0, false},
		{UIOptions{BreakEvery: 10 * time.Minute}, 0, 10 * time.Minute, true},
	}
	for _, tt := range tests {
		if got := tt.opts.breakDue(tt.decided, tt.stretch); got != tt.want {
			t.Errorf("%+v breakDue(%d, %v) = %v, want %v", tt.opts, tt.decided, tt.stretch, got, tt.want)
		}
	}
}

// FuzzRevealToken feeds arbitrary reveal tokens (a URL path segment) to
// the check: it must never panic, and accept only a grant the session
// made for that case.
func FuzzRevealToken(f *testing.F) {
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	s := &uiSession{Session: &vigil.Session{}, token: "fuzz-session-token"}
	good := s.grantReveal(7, now)
	f.Add(good, int64(7))
	f.Add("", int64(0))
	f.Add("1767258120.", int64(7))
	f.Add("-1.AAAA", int64(-1))
	f.Add("99999999999999999999999.x", int64(7))
	f.Fuzz(func(t *testing.T, token string, caseID int64) {
		if s.revealed(token, caseID, now) && !(token == good && caseID == 7) {
			t.Fatalf("accepted %q for case %d", token, caseID)
		}
	})
}

func TestFrameTime(t *testing.T) {
	for sec, want := range map[float64]string{0: "0:00.0", 4: "0:04.0", 4.99: "0:04.9", 65.25: "1:05.2", 3723: "1:02:03.0", -1: "0:00.0"} {
		if got := frameTime(sec); got != want {
			t.Errorf("frameTime(%v) = %q, want %q", sec, got, want)
		}
	}
}
