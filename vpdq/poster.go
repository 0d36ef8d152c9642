package vpdq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os/exec"
	"strconv"

	"github.com/vigil-oss/vigil"
)

// Poster returns the first frame of a video held in memory, scaled with an
// area filter to fit size×size with its aspect ratio kept, for previews
// such as the review UI's blurred one. It runs ffprobe and ffmpeg as
// hashing does: the video goes through a pipe (nothing is written to disk),
// with the same input restrictions, MaxPixels check and Timeout. An MP4
// with its index at the end cannot be read from a pipe and is an error.
func Poster(ctx context.Context, data []byte, size int, opts Options) (*image.RGBA, error) {
	return PosterAt(ctx, data, 0, size, opts)
}

// MaxPosterTime bounds PosterAt's time: as far as a video may last.
const MaxPosterTime = DefaultMaxDuration

// PosterAt is Poster for the frame shown at seconds from the start (the
// first frame from then on), such as the frame behind a classifier's
// score. ffmpeg decodes up to it from the pipe, within Timeout. A time
// past the end of the video is an EINVALID error.
func PosterAt(ctx context.Context, data []byte, seconds float64, size int, opts Options) (*image.RGBA, error) {
	if seconds != seconds || seconds < 0 || seconds > MaxPosterTime.Seconds() {
		return nil, vigil.Errorf(vigil.EINVALID, "poster time must be 0 to %v", MaxPosterTime)
	}
	if size < 1 {
		return nil, fmt.Errorf("poster size %d", size)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, o.Timeout, errTimeout)
	defer cancel()
	info, err := probe(ctx, o.FFprobe, "pipe:0", bytes.NewReader(data))
	if err != nil {
		return nil, o.contextError(ctx, "probe video", err)
	}
	if px := int64(info.Width) * int64(info.Height); px > o.MaxPixels {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "video is %dx%d, over the limit of %d pixels", info.Width, info.Height, o.MaxPixels)
	}
	w, h := fit(info.Width, info.Height, size)
	args := []string{"-hide_banner", "-nostdin", "-v", "error", "-threads", "1"}
	args = append(args, inputArgs("pipe:0")...)
	if seconds > 0 {
		// After the input: decode and drop up to the time, which a pipe
		// allows (no seeking back in it) and which lands on the frame
		// shown then, not on the keyframe before it.
		args = append(args, "-ss", strconv.FormatFloat(seconds, 'f', 3, 64))
	}
	args = append(args, "-map", "0:v:0", "-an", "-sn", "-dn", "-frames:v", "1",
		"-vf", fmt.Sprintf("scale=%d:%d:flags=area,format=rgb24", w, h),
		"-f", "rawvideo", "-")
	cmd := exec.CommandContext(ctx, o.FFmpeg, args...)
	cmd.Stdin = bytes.NewReader(data)
	out := &limitedBuffer{max: w * h * 3}
	stderr := &tailBuffer{max: stderrTail}
	cmd.Stdout, cmd.Stderr = out, stderr
	cmd.WaitDelay = waitDelay
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return nil, notFound("ffmpeg", o.FFmpeg, err)
		}
		if ctx.Err() == nil {
			err = vigil.Errorf(vigil.EINVALID, "video cannot be decoded: %s", stderr.message("ffmpeg failed"))
		}
		return nil, o.contextError(ctx, "decode poster", err)
	}
	if out.Len() != w*h*3 {
		return nil, vigil.Errorf(vigil.EINVALID, "video has no decodable frame: %s", stderr.message("ffmpeg gave none"))
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	px := out.Bytes()
	for i := range w * h {
		copy(img.Pix[4*i:4*i+3], px[3*i:3*i+3])
		img.Pix[4*i+3] = 0xff
	}
	return img, nil
}

// fit returns w×h scaled to fit size×size with the aspect ratio kept,
// never scaled up and never under one pixel.
func fit(w, h, size int) (int, int) {
	if w <= size && h <= size {
		return w, h
	}
	if w >= h {
		return size, max(1, h*size/w)
	}
	return max(1, w*size/h), size
}
