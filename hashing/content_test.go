package hashing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/vpdq"
)

func TestHashContent(t *testing.T) {
	const videoDir = "../vpdq/testdata/sample-videos/"
	jpg := readFile(t, "testdata/q0122.jpg")
	binary := make([]byte, 4096)
	for i := range binary {
		binary[i] = byte(i*131 + i/7) // neither text nor any container ffprobe knows
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	noFFprobe := vpdq.Options{FFprobe: "/nonexistent/ffprobe", FFmpeg: "/nonexistent/ffmpeg"}
	for _, tc := range []struct {
		name   string
		data   []byte
		file   string // read into data; passed as Path when path is set
		path   bool
		ctx    context.Context
		opts   ContentOptions
		ffmpeg bool // needs ffmpeg installed

		signal   vigil.SignalType // first signal; "" for the digests alone
		format   string           // prefix of Content.Format
		pdqError string           // substring of PDQError; "" for none
		videoErr bool             // VideoErr set
		errCode  string           // code of the error returned, "" for none
	}{
		{name: "png image", file: "testdata/synth-smooth-rgb-129x300.png",
			signal: vigil.SignalPDQ, format: "png"},
		{name: "video from its file, index at the end", file: videoDir + "test-padded-dimensions.mp4", path: true, ffmpeg: true,
			signal: vigil.SignalVPDQ, format: "video:h264"},
		{name: "video piped", file: videoDir + "doorknob-hd-no-bar.mp4", ffmpeg: true,
			signal: vigil.SignalVPDQ, format: "video:"},
		{name: "video with NoVideo", file: videoDir + "doorknob-hd-no-bar.mp4", opts: ContentOptions{NoVideo: true},
			pdqError: "not an image in a supported format"},
		{name: "text tried as video", data: []byte("hello, this is not an image\n"), ffmpeg: true,
			pdqError: "not an image in a supported format (jpeg, png, gif, webp, bmp, tiff); as video: ", videoErr: true},
		{name: "text with SkipText", data: []byte("hello, this is not an image\n"), opts: ContentOptions{SkipText: true, Video: noFFprobe},
			pdqError: "not an image in a supported format (jpeg, png, gif, webp, bmp, tiff)"},
		{name: "binary, neither image nor video", data: binary, ffmpeg: true,
			pdqError: "; as video: ", videoErr: true},
		{name: "corrupt jpeg is not tried as video", data: jpg[:len(jpg)/2], opts: ContentOptions{Video: noFFprobe},
			pdqError: "truncated"},
		{name: "ffprobe missing, reported", data: binary, opts: ContentOptions{Video: noFFprobe},
			pdqError: "; as video: ffprobe not found", videoErr: true},
		{name: "ffprobe missing, retryable", data: binary, opts: ContentOptions{Video: noFFprobe, Retryable: true},
			errCode: vigil.EINTERNAL},
		{name: "cancelled, retryable", file: videoDir + "doorknob-hd-no-bar.mp4", ctx: cancelled, opts: ContentOptions{Retryable: true}, ffmpeg: true,
			errCode: vigil.EINTERNAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ffmpeg && os.Getenv("VIGIL_SKIP_FFMPEG") != "" {
				t.Skip("VIGIL_SKIP_FFMPEG set")
			}
			data, opts, ctx := tc.data, tc.opts, tc.ctx
			if tc.file != "" {
				data = readFile(t, tc.file)
				if tc.path {
					opts.Path = tc.file
				}
			}
			if ctx == nil {
				ctx = context.Background()
			}
			h := NewHasher(Options{})
			d, data, err := h.Read(strings.NewReader(string(data)))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			c, err := h.HashContent(ctx, d, data, opts)
			if tc.errCode != "" {
				if err == nil || vigil.ErrorCode(err) != tc.errCode {
					t.Fatalf("error %v, want code %s", err, tc.errCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := len(c.Signals)
			if n < 3 || c.Signals[n-1].Type != vigil.SignalSHA256 || c.Signals[n-1].Value != hex.EncodeToString(sum[:]) {
				t.Fatalf("signals do not end with the exact digests: %+v", c.Signals)
			}
			if tc.signal == "" {
				if n != 3 || c.Format != "" || c.Width != 0 || c.PDQError == "" || c.ImageErr == nil {
					t.Fatalf("want the digests alone and why: %+v", c)
				}
			} else if n != 4 || c.Signals[0].Type != tc.signal || c.Width <= 0 || c.Height <= 0 || c.PDQError != "" || c.ImageErr != nil || c.VideoErr != nil {
				t.Fatalf("want a %s signal and the digests: %+v", tc.signal, c)
			}
			if !strings.HasPrefix(c.Format, tc.format) || !strings.Contains(c.PDQError, tc.pdqError) || (c.VideoErr != nil) != tc.videoErr {
				t.Fatalf("format %q, pdq error %q, video error %v", c.Format, c.PDQError, c.VideoErr)
			}
			if tc.signal == vigil.SignalVPDQ {
				if _, err := vigil.CanonicalValue(vigil.SignalVPDQ, c.Signals[0].Value); err != nil {
					t.Fatalf("vpdq value is not canonical: %v", err)
				}
			}
		})
	}
}

// The piped video and the same file read by ffmpeg from disk give the same
// signal, so that callers with and without a path agree.
func TestHashContentPathOrPipe(t *testing.T) {
	if os.Getenv("VIGIL_SKIP_FFMPEG") != "" {
		t.Skip("VIGIL_SKIP_FFMPEG set")
	}
	const file = "../vpdq/testdata/sample-videos/doorknob-hd-no-bar.mp4"
	h := NewHasher(Options{})
	data := readFile(t, file)
	d, data, err := h.Read(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, path := range []string{"", file} {
		c, err := h.HashContent(context.Background(), d, data, ContentOptions{Path: path})
		if err != nil || c.Signals[0].Type != vigil.SignalVPDQ {
			t.Fatalf("path %q: %v %+v", path, err, c)
		}
		values = append(values, c.Signals[0].Value)
	}
	if values[0] != values[1] {
		t.Fatal("piped and file hashing differ")
	}
}
