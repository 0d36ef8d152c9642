package http

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
)

// fakeClock is a settable clock for the session store.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestSessionExpiry(t *testing.T) {
	tests := []struct {
		name  string
		steps []time.Duration // gaps between uses after login
		live  bool
	}{
		{"used now", []time.Duration{0}, true},
		{"idle just under the limit", []time.Duration{sessionIdle - time.Second}, true},
		{"idle past the limit", []time.Duration{sessionIdle + time.Second}, false},
		{"kept alive by use", []time.Duration{20 * time.Minute, 20 * time.Minute, 20 * time.Minute}, true},
		// Used every 20 minutes it never idles out, but ends at the absolute limit.
		{"absolute limit", repeat(20*time.Minute, int(sessionMaxAge/(20*time.Minute))+1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
			st := newSessionStore(clk.now)
			id, _, err := st.create(&vigil.Key{ID: 1, Name: "r", Role: vigil.RoleReviewer})
			if err != nil {
				t.Fatal(err)
			}
			var live bool
			for _, d := range tt.steps {
				clk.advance(d)
				live = st.get(id) != nil
				if !live {
					break
				}
			}
			if live != tt.live {
				t.Fatalf("live = %v, want %v", live, tt.live)
			}
		})
	}
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestSessionStoreBounds(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	st := newSessionStore(clk.now)
	k := &vigil.Key{ID: 7, Name: "r", Role: vigil.RoleReviewer}
	first, _, _ := st.create(k)
	for range maxSessionsPerKey {
		clk.advance(time.Second)
		if _, _, err := st.create(k); err != nil {
			t.Fatal(err)
		}
	}
	if len(st.m) != maxSessionsPerKey {
		t.Fatalf("%d sessions for one key, want the cap %d", len(st.m), maxSessionsPerKey)
	}
	if st.get(first) != nil {
		t.Fatal("the key's oldest session survived its cap")
	}
	// Another key's sessions are untouched by this key's logins, and the
	// store refuses new sessions when full of live ones.
	other, _, _ := st.create(&vigil.Key{ID: 8, Name: "o", Role: vigil.RoleReviewer})
	for i := int64(100); len(st.m) < maxSessions; i++ {
		st.m[hashSessionID(randomToken())] = &session{key: &vigil.Key{ID: i}, created: clk.t, lastSeen: clk.t}
	}
	if _, _, err := st.create(&vigil.Key{ID: 9}); vigil.ErrorCode(err) != vigil.ECONFLICT {
		t.Fatalf("create in a full store: %v, want ECONFLICT", err)
	}
	if st.get(other) == nil {
		t.Fatal("a full store dropped a live session")
	}
	st.deleteKey(8)
	if st.get(other) != nil {
		t.Fatal("deleteKey left the key's session")
	}
}

func TestRevealGrant(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	st := newSessionStore(clk.now)
	_, s, _ := st.create(&vigil.Key{ID: 1})
	_, other, _ := st.create(&vigil.Key{ID: 2})
	tok := st.grantReveal(s, 42)
	switch {
	case !st.revealed(s, tok, 42):
		t.Fatal("fresh grant refused")
	case st.revealed(s, tok, 43):
		t.Fatal("grant for case 42 opened case 43")
	case st.revealed(other, tok, 42):
		t.Fatal("another session used the grant")
	case st.revealed(s, "nope", 42):
		t.Fatal("unknown token accepted")
	}
	clk.advance(revealTTL + time.Second)
	if st.revealed(s, tok, 42) {
		t.Fatal("expired grant accepted")
	}
}

func TestLoginLimiter(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
	l := loginLimiter{now: clk.now}
	for i := range loginBurst {
		if !l.allow("10.0.0.1") {
			t.Fatalf("refused after %d failures", i)
		}
		l.fail("10.0.0.1")
	}
	if l.allow("10.0.0.1") {
		t.Fatal("allowed past the burst")
	}
	if !l.allow("10.0.0.2") {
		t.Fatal("another address was limited")
	}
	clk.advance(loginWindow)
	if !l.allow("10.0.0.1") {
		t.Fatal("still refused after the window")
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
