package vpdq

import (
	"context"
	"os"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/pdq"
)

func TestPoster(t *testing.T) {
	requireFFmpeg(t)
	data, err := os.ReadFile(videoPath("pattern-sd-with-small-logo-bar"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := Poster(context.Background(), data, 160, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// 480 wide by 720 high fits 160 as 106×160.
	if b := img.Bounds(); b.Dx() != 106 || b.Dy() != 160 {
		t.Fatalf("poster is %v, want 106x160", b)
	}
	// A real frame, not a blank one: the pattern has more than a few
	// distinct pixel values.
	seen := map[[3]uint8]bool{}
	for i := 0; i < len(img.Pix); i += 4 {
		seen[[3]uint8{img.Pix[i], img.Pix[i+1], img.Pix[i+2]}] = true
	}
	if len(seen) < 16 {
		t.Fatalf("poster has %d distinct colours: blank?", len(seen))
	}
	assertNoChildren(t)
}

func TestPosterBadInput(t *testing.T) {
	requireFFmpeg(t)
	data, err := os.ReadFile(videoPath("pattern-sd-with-small-logo-bar"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
		opts Options
		code string
	}{
		{"not a video", []byte("hello, this is text"), Options{}, vigil.EINVALID},
		{"over MaxPixels", data, Options{MaxPixels: 100 * 100}, vigil.ETOOLARGE},
		{"no ffmpeg", data, Options{FFmpeg: "vigil-no-such-ffmpeg"}, vigil.EINTERNAL},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Poster(context.Background(), c.data, 160, c.opts)
			if got := vigil.ErrorCode(err); got != c.code {
				t.Fatalf("error %v (code %q), want code %q", err, got, c.code)
			}
		})
	}
	assertNoChildren(t)
}

// TestPosterAt checks that the poster at a time is the frame shown then:
// in a video of three scenes, the poster at 2.5 s is the second scene's
// frame (its PDQ hash matches the one hashing gave at 2 s, not at 0), and
// a time past the end is refused.
func TestPosterAt(t *testing.T) {
	requireFFmpeg(t)
	path := scenesVideo(t, "scenes.mp4", "smptebars", "rgbtestsrc", "yuvtestsrc")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	frames, _, err := HashFile(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	img, err := PosterAt(context.Background(), data, 2.5, 320, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := pdq.NewHasher(pdq.Full).Hash(img)
	if d0, d2 := pdq.Distance(h, frames[0].Hash), pdq.Distance(h, frames[2].Hash); d2 > DefaultSceneDistance || d0 <= DefaultSceneDistance {
		t.Errorf("poster at 2.5 s: distance %d to the frame at 2 s, %d to the first", d2, d0)
	}
	for _, at := range []float64{-1, 60, MaxPosterTime.Seconds() + 1} {
		if _, err := PosterAt(context.Background(), data, at, 160, Options{}); vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("poster at %v s: %v, want EINVALID", at, err)
		}
	}
	assertNoChildren(t)
}
