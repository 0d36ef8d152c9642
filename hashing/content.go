package hashing

import (
	"bytes"
	"context"
	"net/http"
	"strings"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/provenance"
	"github.com/vigil-oss/vigil/vpdq"
)

// ContentOptions say how HashContent treats content that is not an image.
type ContentOptions struct {
	// NoVideo leaves content that is not an image at its exact digests,
	// without trying it as a video (a server without ffmpeg).
	NoVideo bool
	// Path is the file the content was read from, if any: ffmpeg then
	// reads it itself and can seek, so that an MP4 with its index at the
	// end hashes too. Without one the bytes are piped to ffmpeg and never
	// written to disk.
	Path string
	// Video configures the video hasher (timeout, sampling, limits).
	Video vpdq.Options
	// SkipText does not try content that sniffs as text as a video: in a
	// swept tree text is common, and each try costs an ffprobe run.
	SkipText bool
	// Retryable returns the video errors that are not the content's
	// fault, EINTERNAL (ffmpeg missing or failing) and the end of ctx, as
	// errors instead of reporting them in PDQError, for a caller that can
	// try again later (a background job). A request reports them.
	Retryable bool
}

// Content holds the signals of one item of content.
type Content struct {
	// Signals are the perceptual signal (PDQ for an image, vPDQ for a
	// video), when there is one, followed by the exact digests.
	Signals []vigil.Signal
	// Format is the image decoder's name, or "video:" and the codec; it,
	// Width and Height are empty without a perceptual signal.
	Format        string
	Width, Height int
	// Provenance is what an image or a video (a C2PA manifest in an MP4
	// or MOV) says of its origin (see Options.Provenance); nil when it
	// says nothing or was not read.
	Provenance *provenance.Result
	// PDQError says, in words fit for an API caller, why there is no
	// perceptual signal; "" when there is one.
	PDQError string
	// ImageErr says why the content is not an image that hashes, and
	// VideoErr, when it was tried as one, why it gave no video signal
	// either; both nil when there is a perceptual signal.
	ImageErr, VideoErr error
}

// HashContent turns content read by Read (its digests d and bytes data)
// into signals: PDQ for an image; for what the image decoders do not
// recognise, vPDQ through ffmpeg (unless opts.NoVideo); always the exact
// digests. Content that is neither gives its digests and a PDQError, not
// an error: the error return is for failures that are not the content's
// (see ContentOptions.Retryable).
func (h *Hasher) HashContent(ctx context.Context, d Digests, data []byte, opts ContentOptions) (*Content, error) {
	c := &Content{}
	img, err := h.hashImage(ctx, data)
	switch {
	case err == nil:
		img.Digests = d
		c.Signals = img.Signals()
		c.Format, c.Width, c.Height, c.Provenance = img.Format, img.Width, img.Height, img.Provenance
		return c, nil
	case vigil.ErrorCode(err) == vigil.EINTERNAL, vigil.ErrorCode(err) == vigil.EUNAVAILABLE:
		// Not the content's fault (a full decode budget, the end of
		// ctx): an error, for the caller to retry or refuse, not a
		// signal-less result.
		return nil, err
	}
	c.ImageErr, c.PDQError, c.Signals = err, vigil.ErrorMessage(err), d.Signals()
	if vigil.ErrorCode(err) != vigil.EUNSUPPORTED || opts.NoVideo || (opts.SkipText && !MayBeVideo(data)) {
		return c, nil
	}
	// Not an image: perhaps a video.
	frames, info, verr := HashVideo(ctx, data, opts.Path, opts.Video)
	if verr != nil {
		if opts.Retryable && (ctx.Err() != nil || vigil.ErrorCode(verr) == vigil.EINTERNAL) {
			return nil, verr
		}
		c.VideoErr = verr
		c.PDQError += "; as video: " + vigil.ErrorMessage(verr)
		return c, nil
	}
	var b strings.Builder
	vpdq.WriteFrames(&b, frames)
	value, verr := vigil.CanonicalValue(vigil.SignalVPDQ, b.String())
	if verr != nil {
		// Too many frames for a signal, or none at all.
		c.VideoErr, c.PDQError = verr, "as video: "+vigil.ErrorMessage(verr)
		return c, nil
	}
	c.ImageErr = nil
	c.Provenance = h.ReadProvenance(data)
	c.Signals = append([]vigil.Signal{{Type: vigil.SignalVPDQ, Value: value}}, c.Signals...)
	c.Format, c.Width, c.Height, c.PDQError = "video:"+info.Codec, info.Width, info.Height, ""
	return c, nil
}

// ReadProvenance returns what data, already in memory, says of its origin
// (C2PA in JPEG, PNG and ISO BMFF; XMP), or nil when the Hasher has no
// provenance reader or data says nothing. Image hashing calls it itself;
// the video path calls it on the bytes it hashed, without reading the
// file again.
func (h *Hasher) ReadProvenance(data []byte) *provenance.Result {
	if h.opts.Provenance == nil {
		return nil
	}
	return h.opts.Provenance.Read(data)
}

// HashVideo hashes content as a video with ffmpeg: from the file at path
// when there is one (ffmpeg can then seek), else from data through a pipe.
func HashVideo(ctx context.Context, data []byte, path string, opts vpdq.Options) ([]vpdq.Frame, vpdq.Info, error) {
	if path != "" {
		return vpdq.HashFile(ctx, path, opts)
	}
	return vpdq.HashReader(ctx, bytes.NewReader(data), opts)
}

// MayBeVideo reports whether content that is not an image is worth trying
// as a video: text is not.
func MayBeVideo(data []byte) bool {
	return !strings.HasPrefix(http.DetectContentType(data), "text/")
}

// MediaType returns the media type of content by the format hashing gave
// it (an image decoder's name, "video:" and the codec, or "text"), for
// the entry points' content references: "image/jpeg", "video/h264",
// "text/plain"; "" for an unknown one. The media store later replaces it
// with the type sniffed from the bytes it seals.
func MediaType(format string) string {
	switch {
	case format == "":
		return ""
	case format == "text":
		return "text/plain"
	case strings.HasPrefix(format, "video:"):
		return "video/" + strings.TrimPrefix(format, "video:")
	}
	return "image/" + format
}
