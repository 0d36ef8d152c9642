package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/provenance"
	"github.com/vigil-oss/vigil/vpdq"
)

// HashCommand hashes image files: `vigil hash [flags] PATH...`.
type HashCommand struct{ *Main }

// hashLine is one JSON line of `vigil hash` output.
type hashLine struct {
	Path     string            `json:"path"`
	PDQ      string            `json:"pdq,omitempty"`
	Quality  *int              `json:"quality,omitempty"`
	Dihedral map[string]string `json:"dihedral,omitempty"`
	MD5      string            `json:"md5,omitempty"`
	SHA1     string            `json:"sha1,omitempty"`
	SHA256   string            `json:"sha256,omitempty"`
	Width    int               `json:"width,omitempty"`
	Height   int               `json:"height,omitempty"`
	// Video holds a video's vPDQ frame hashes, in the reference's text
	// form "frame,quality,hash,timestamp".
	Video *videoHashes `json:"vpdq,omitempty"`
	// Provenance is what an image says of its origin (C2PA manifest,
	// XMP digital source type), and GenerativeAI the indication it gives
	// a reviewer when it declares a generative source.
	Provenance   *provenance.Result  `json:"provenance,omitempty"`
	GenerativeAI *vigil.GenerativeAI `json:"generative_ai,omitempty"`
	Error        string              `json:"error,omitempty"`
}

type videoHashes struct {
	FrameRate float64  `json:"frame_rate"`
	Frames    []string `json:"frames"`
	frames    []vpdq.Frame
}

// Run parses flags, expands directories and hashes every file with a pool
// of workers, printing results in input order.
func (c *HashCommand) Run(ctx context.Context, args []string) error {
	fset := c.newFlagSet("vigil hash", "Usage: vigil hash [flags] PATH...\n\nHashes images (jpeg, png, gif, webp, bmp, tiff) with PDQ and videos (through ffmpeg) with vPDQ,\nplus MD5, SHA-1 and SHA-256 of every file.\nA JPEG's or PNG's provenance is read too: its C2PA manifest (signer, claim generator, actions,\nwhether the signature and the binding to the file hold) and XMP digital source type.\nDirectories are walked recursively; - reads standard input. Exits 1 if any input failed.")
	format := fset.String("format", "json", "output format: json (one object per line), text, or vpdq (a video's frame hashes in the reference's text format; one input)")
	everyFrame := fset.Bool("every-frame", false, "videos: hash every frame (as vpdq-hash-video -r 0) instead of one per second")
	workers := fset.Int("workers", runtime.NumCPU(), "files hashed in parallel")
	pipeline := fset.String("pipeline", "full", "PDQ pipeline: full (as shared lists, HMA, Java) or cli512 (as the C++ pdq-photo-hasher)")
	dihedral := fset.Bool("dihedral", false, "also print the PDQ hashes of the 8 rotations and flips")
	maxBytes := fset.Int64("max-bytes", hashing.DefaultLimits.MaxBytes, "largest file read, in bytes")
	maxPixels := fset.Int64("max-pixels", hashing.DefaultLimits.MaxPixels, "largest image decoded, in pixels")
	c2paTrust := fset.String("c2pa-trust", "", "PEM file of the certificates trusted as C2PA signers' and time-stamping authorities' roots (none: signatures are checked, signers reported untrusted)")
	for _, name := range []string{"workers", "max-bytes", "max-pixels"} {
		fset.limit(name, positive())
	}
	if err := fset.parse(args); err != nil {
		return err
	}
	if fset.NArg() == 0 {
		return fset.usageErrorf("hash takes at least one PATH")
	}
	if *format != "json" && *format != "text" && *format != "vpdq" {
		return fset.usageErrorf("unknown --format %q (json, text or vpdq)", *format)
	}
	if *format == "vpdq" && fset.NArg() != 1 {
		return fset.usageErrorf("--format vpdq takes exactly one video")
	}
	opts := hashing.Options{Limits: hashing.Limits{MaxBytes: *maxBytes, MaxPixels: *maxPixels, Memory: workerBudget(*maxPixels)}, Dihedral: *dihedral}
	prov, err := provenanceReader(*c2paTrust)
	if err != nil {
		return err
	}
	opts.Provenance = prov
	switch *pipeline {
	case "full":
		opts.Pipeline = pdq.Full
	case "cli512":
		opts.Pipeline = pdq.CLI512
	default:
		return fset.usageErrorf("unknown --pipeline %q (full or cli512)", *pipeline)
	}

	paths, walkErrs, sawDir := expandPaths(fset.Args())
	var bar *progress
	if sawDir && isTerminal(c.Stderr) {
		bar = newProgress(c.Stderr, len(paths), time.Now)
	}

	failed := len(walkErrs) > 0
	for _, e := range walkErrs {
		c.writeLine(*format, hashLine{Path: e.path, Error: e.err.Error()})
	}
	results := hashAll(ctx, paths, *workers, opts, vpdq.Options{EveryFrame: *everyFrame}, c.Stdin)
	for line := range results {
		if *format == "vpdq" && line.Error == "" && line.Video == nil {
			// An image: it has no frame hashes to print, which is a failure.
			line.Error = line.Path + ": not a video"
		}
		if line.Error != "" {
			failed = true
		}
		c.writeLine(*format, line)
		bar.add(1)
	}
	bar.done()
	if err := ctx.Err(); err != nil {
		return err
	}
	if failed {
		return errSilent
	}
	return nil
}

func (c *HashCommand) writeLine(format string, l hashLine) {
	if format == "vpdq" {
		if l.Error != "" {
			fmt.Fprintf(c.Stderr, "vigil: %s\n", l.Error)
		} else {
			vpdq.WriteFrames(c.Stdout, l.Video.frames)
		}
		return
	}
	if format == "json" {
		b, _ := json.Marshal(l)
		fmt.Fprintf(c.Stdout, "%s\n", b)
		return
	}
	if l.Error != "" {
		fmt.Fprintf(c.Stdout, "error\t%s\t%s\n", l.Path, l.Error)
		return
	}
	if l.Video != nil {
		fmt.Fprintf(c.Stdout, "vpdq:%d-frames\t-\t%s\t%s\t%s\t%s\n", len(l.Video.Frames), l.MD5, l.SHA1, l.SHA256, l.Path)
		return
	}
	fmt.Fprintf(c.Stdout, "%s\t%d\t%s\t%s\t%s\t%s\n", l.PDQ, *l.Quality, l.MD5, l.SHA1, l.SHA256, l.Path)
}

// workerBudget returns the decode budget a command's workers share, so
// that many large images at once cannot exhaust memory: the default size,
// or room for one image of maxPixels (0: the default limit) at its most
// costly (16 bytes a pixel), and a wait long enough that a worker queues
// for room rather than fails.
func workerBudget(maxPixels int64) *hashing.DecodeBudget {
	return hashing.NewDecodeBudget(max(hashing.DefaultDecodeMemory, 16*maxPixels), 24*time.Hour)
}

// hashAll hashes paths with n workers, each with its own Hasher, and yields
// the results in the order of paths.
func hashAll(ctx context.Context, paths []string, n int, opts hashing.Options, vopts vpdq.Options, stdin io.Reader) <-chan hashLine {
	return mapOrdered(ctx, paths, n, func() func(string) hashLine {
		h := hashing.NewHasher(opts)
		return func(path string) hashLine { return hashPath(ctx, h, vopts, path, stdin) }
	})
}

func hashPath(ctx context.Context, h *hashing.Hasher, vopts vpdq.Options, path string, stdin io.Reader) hashLine {
	line := hashLine{Path: path}
	d, data, err := readInput(h, path, stdin)
	if err != nil {
		line.Error = err.Error()
		return line
	}
	line.MD5, line.SHA1, line.SHA256 = d.Hex()
	res, err := h.HashImageBytes(data)
	if vigil.ErrorCode(err) == vigil.EUNSUPPORTED && hashing.MayBeVideo(data) {
		// Not an image: perhaps a video.
		line = hashVideo(ctx, vopts, line, path, data)
		if line.Error == "" {
			// An MP4's or MOV's C2PA manifest, from the bytes read.
			line.Provenance = h.ReadProvenance(data)
			line.GenerativeAI = line.Provenance.GenerativeAI()
		}
		return line
	}
	if err != nil {
		line.Error = fmt.Sprintf("%s: %s", path, errorText(err))
		return line
	}
	q := res.Quality
	line.PDQ, line.Quality, line.Width, line.Height = res.PDQ.String(), &q, res.Width, res.Height
	line.Provenance, line.GenerativeAI = res.Provenance, res.Provenance.GenerativeAI()
	if res.Dihedral != nil {
		line.Dihedral = make(map[string]string, 8)
		for d, hh := range res.Dihedral {
			line.Dihedral[pdq.Dihedral(d).String()] = hh.String()
		}
	}
	return line
}

// hashVideo computes a file's vPDQ hashes with ffmpeg, from its path when
// it has one (ffmpeg can then seek), else from the bytes read. A file that
// is neither an image nor a video is an error, as before.
func hashVideo(ctx context.Context, vopts vpdq.Options, line hashLine, path string, data []byte) hashLine {
	file := path
	if path == "-" {
		file = ""
	}
	frames, info, err := hashing.HashVideo(ctx, data, file, vopts)
	if err != nil {
		line.MD5, line.SHA1, line.SHA256 = "", "", ""
		line.Error = fmt.Sprintf("%s: not an image in a supported format (jpeg, png, gif, webp, bmp, tiff), nor a video ffmpeg can read: %s", path, errorText(err))
		return line
	}
	v := &videoHashes{FrameRate: info.FrameRate, frames: frames}
	var b bytes.Buffer
	for _, f := range frames {
		b.Reset()
		vpdq.WriteFrames(&b, []vpdq.Frame{f})
		v.Frames = append(v.Frames, strings.TrimSuffix(b.String(), "\n"))
	}
	line.Video, line.Width, line.Height = v, info.Width, info.Height
	return line
}

// errorText is the text of an error for the operator: the whole error,
// with every *vigil.Error in it reduced to its message, so that the
// context wrapped around it stays and "vigil error: code=… message=…"
// never shows.
func errorText(err error) string {
	s := err.Error()
	for _, e := range vigilErrors(err, nil) {
		s = strings.ReplaceAll(s, e.Error(), e.Message)
	}
	return s
}

// vigilErrors appends the *vigil.Error values in err's tree to out.
func vigilErrors(err error, out []*vigil.Error) []*vigil.Error {
	switch x := err.(type) {
	case nil:
		return out
	case *vigil.Error:
		return append(out, x)
	case interface{ Unwrap() error }:
		return vigilErrors(x.Unwrap(), out)
	case interface{ Unwrap() []error }:
		for _, e := range x.Unwrap() {
			out = vigilErrors(e, out)
		}
	}
	return out
}
