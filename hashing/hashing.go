// Package hashing turns content into signals: it reads a file once, under a
// size limit, computing its exact digests (MD5, SHA-1, SHA-256) as the bytes
// go by, and decodes images (JPEG, PNG, GIF, WebP, BMP, TIFF) for their PDQ
// hash after checking their dimensions from the header. Given a
// provenance.Reader, it also reads the provenance (C2PA, XMP) a JPEG, PNG
// or MP4/MOV carries, from the same bytes.
package hashing

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"image"
	_ "image/gif" // registered decoders: the formats we hash
	_ "image/jpeg"
	_ "image/png"
	"io"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/provenance"
)

// Limits bound the work and memory spent on one input.
type Limits struct {
	// MaxBytes is the largest input read, in bytes.
	MaxBytes int64
	// MaxPixels is the largest image decoded, in width × height, checked
	// from the header before any pixel memory is allocated.
	MaxPixels int64
	// Memory, when set, bounds the memory of all the images decoded at
	// once by everyone sharing it (see DecodeBudget). Nil: no bound
	// beyond MaxPixels on each image.
	Memory *DecodeBudget
}

// DefaultLimits admit a 64 MiB file and a 64-megapixel image (a large
// phone photo); decoding one takes about 100–260 MB.
var DefaultLimits = Limits{MaxBytes: 64 << 20, MaxPixels: 64_000_000}

// WithDefaults returns l with each zero (or negative) limit replaced by
// DefaultLimits'.
func (l Limits) WithDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultLimits.MaxBytes
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultLimits.MaxPixels
	}
	return l
}

// Digests are the exact hashes of the input bytes.
type Digests struct {
	MD5    [md5.Size]byte
	SHA1   [sha1.Size]byte
	SHA256 [sha256.Size]byte
}

// Result holds the signals of one image.
type Result struct {
	Digests
	Format        string   // decoder name: jpeg, png, gif, webp, bmp, tiff
	Width, Height int      // pixels
	PDQ           pdq.Hash // hash of the original orientation
	Quality       int      // PDQ quality, 0–100
	// Dihedral holds the hashes of the eight rotations and flips, indexed
	// by pdq.Dihedral, when the Hasher was asked for them.
	Dihedral *[8]pdq.Hash
	// Provenance is what the file says of its origin, when the Hasher
	// has a provenance reader and the file carries any.
	Provenance *provenance.Result
}

// Hex returns the lowercase hex forms of the digests.
func (d Digests) Hex() (md5Hex, sha1Hex, sha256Hex string) {
	return hex.EncodeToString(d.MD5[:]), hex.EncodeToString(d.SHA1[:]), hex.EncodeToString(d.SHA256[:])
}

// Options configure a Hasher.
type Options struct {
	Limits   Limits
	Pipeline pdq.Pipeline
	Dihedral bool // also compute the eight dihedral PDQ variants
	// Provenance, when set, reads C2PA manifests and XMP digital source
	// types from the bytes being hashed (no further I/O). Nil: none read.
	Provenance *provenance.Reader
}

// Hasher hashes content. It reuses its buffers and is not safe for
// concurrent use: give each worker its own.
type Hasher struct {
	opts             Options
	pdq              *pdq.Hasher
	buf              bytes.Buffer
	md5, sha1, sha25 hash.Hash
	sums             io.Writer
}

// NewHasher returns a Hasher. Zero limits take DefaultLimits.
func NewHasher(opts Options) *Hasher {
	opts.Limits = opts.Limits.WithDefaults()
	h := &Hasher{opts: opts, pdq: pdq.NewHasher(opts.Pipeline), md5: md5.New(), sha1: sha1.New(), sha25: sha256.New()}
	h.sums = io.MultiWriter(h.md5, h.sha1, h.sha25)
	return h
}

// maxRetained caps the read buffer kept between calls, so that one large
// file does not pin its size in memory for the worker's lifetime.
const maxRetained = 16 << 20

// Read reads r to the end (at most MaxBytes) and returns its digests and
// bytes. The bytes are valid until the next call.
func (h *Hasher) Read(r io.Reader) (Digests, []byte, error) {
	if h.buf.Cap() > maxRetained {
		h.buf = bytes.Buffer{}
	}
	h.buf.Reset()
	h.md5.Reset()
	h.sha1.Reset()
	h.sha25.Reset()
	var d Digests
	n, err := h.buf.ReadFrom(io.TeeReader(io.LimitReader(r, h.opts.Limits.MaxBytes+1), h.sums))
	if err != nil {
		return d, nil, fmt.Errorf("read: %w", err)
	}
	if n > h.opts.Limits.MaxBytes {
		return d, nil, vigil.Errorf(vigil.ETOOLARGE, "input is larger than the %d-byte limit", h.opts.Limits.MaxBytes)
	}
	if n == 0 {
		return d, nil, vigil.Errorf(vigil.EINVALID, "input is empty")
	}
	h.md5.Sum(d.MD5[:0])
	h.sha1.Sum(d.SHA1[:0])
	h.sha25.Sum(d.SHA256[:0])
	return d, h.buf.Bytes(), nil
}

// HashReader reads an image from r once and returns its digests and PDQ
// hash. Errors are *vigil.Error for bad input (EINVALID, ETOOLARGE,
// EUNSUPPORTED) and wrapped I/O errors otherwise.
func (h *Hasher) HashReader(r io.Reader) (*Result, error) {
	d, data, err := h.Read(r)
	if err != nil {
		return nil, err
	}
	res, err := h.HashImageBytes(data)
	if err != nil {
		return nil, err
	}
	res.Digests = d
	return res, nil
}

// HashImageBytes decodes an image already in memory and returns its PDQ
// signals (Digests left zero).
func (h *Hasher) HashImageBytes(data []byte) (*Result, error) {
	return h.hashImage(context.Background(), data)
}

func (h *Hasher) hashImage(ctx context.Context, data []byte) (*Result, error) {
	img, format, release, err := DecodeImage(ctx, data, h.opts.Limits)
	if err != nil {
		return nil, err
	}
	defer release()
	res := &Result{Format: format, Width: img.Bounds().Dx(), Height: img.Bounds().Dy()}
	if h.opts.Dihedral {
		dih, q := h.pdq.HashDihedral(img)
		res.Dihedral, res.PDQ, res.Quality = &dih, dih[pdq.Original], q
		if res.Width == 64 && res.Height == 64 {
			// Only here do the two reference entry points differ (the plain
			// one skips the filter); the plain hash is the one lists hold.
			res.PDQ, res.Quality = h.pdq.Hash(img)
		}
	} else {
		res.PDQ, res.Quality = h.pdq.Hash(img)
	}
	if h.opts.Provenance != nil {
		res.Provenance = h.opts.Provenance.Read(data)
	}
	return res, nil
}

// DecodeImage decodes an image of a supported format (jpeg, png, gif,
// webp, bmp, tiff) within l's pixel limit (zero: the default), checked
// from the header before any pixel memory is allocated, as is that the
// file is large enough to hold the pixels it claims. When l has a
// DecodeBudget, the image's estimated memory is reserved in it, waiting
// for room a bounded time; call release when done with the image to give
// it back (release is never nil when err is nil). A decoder panic on
// hostile input comes back as an error. The error is a *vigil.Error:
// EUNSUPPORTED for data that is no image we read, ETOOLARGE over a limit,
// EINVALID for a corrupt, empty or implausible image, EUNAVAILABLE when
// the budget stayed full; or ctx's error.
func DecodeImage(ctx context.Context, data []byte, l Limits) (img image.Image, format string, release func(), err error) {
	maxPixels := l.WithDefaults().MaxPixels
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, "", nil, vigil.Errorf(vigil.EUNSUPPORTED, "not an image in a supported format (jpeg, png, gif, webp, bmp, tiff)")
		}
		return nil, format, nil, vigil.Errorf(vigil.EINVALID, "corrupt %s header: %v", formatName(format), err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, format, nil, vigil.Errorf(vigil.EINVALID, "%s image has no pixels (%dx%d)", format, cfg.Width, cfg.Height)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPixels {
		return nil, format, nil, vigil.Errorf(vigil.ETOOLARGE, "%s image is %dx%d, over the %d-pixel limit", format, cfg.Width, cfg.Height, maxPixels)
	}
	if err := checkPlausible(format, cfg, data); err != nil {
		return nil, format, nil, err
	}
	release, err = l.Memory.Reserve(ctx, decodeCost(format, cfg, data))
	if err != nil {
		return nil, format, nil, err
	}
	img, err = decode(data)
	if err != nil {
		release()
		return nil, format, nil, vigil.Errorf(vigil.EINVALID, "corrupt or truncated %s: %v", format, err)
	}
	return img, format, release, nil
}

// decode runs the registered decoder, turning a panic inside a decoder
// (third-party decoders have had them on hostile input) into an error.
func decode(data []byte) (img image.Image, err error) {
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("decoder panic: %v", r)
		}
	}()
	img, _, err = image.Decode(bytes.NewReader(data))
	return img, err
}

func formatName(f string) string {
	if f == "" {
		return "image"
	}
	return f
}

// Signals returns the exact-hash signals of the digests.
func (d Digests) Signals() []vigil.Signal {
	m, s1, s256 := d.Hex()
	return []vigil.Signal{
		{Type: vigil.SignalMD5, Value: m},
		{Type: vigil.SignalSHA1, Value: s1},
		{Type: vigil.SignalSHA256, Value: s256},
	}
}

// Signals returns the image's PDQ signal (with its quality and, when
// computed, its dihedral variants) followed by the exact-hash signals.
func (r *Result) Signals() []vigil.Signal {
	q := r.Quality
	sig := vigil.Signal{Type: vigil.SignalPDQ, Value: r.PDQ.String(), Quality: &q}
	if r.Dihedral != nil {
		sig.Dihedral = make(map[string]string, 7)
		for v := pdq.Rotate90; v <= pdq.FlipMinus1; v++ {
			sig.Dihedral[v.String()] = r.Dihedral[v].String()
		}
	}
	return append([]vigil.Signal{sig}, r.Digests.Signals()...)
}
