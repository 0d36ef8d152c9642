package vpdq

import (
	"context"
	"os"
	"testing"

	"github.com/vigil-oss/vigil"
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
