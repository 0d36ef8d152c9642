package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/pdq"
)

// MatchCommand hashes files and matches them against the local banks:
// `vigil match [flags] PATH...`.
type MatchCommand struct{ *Main }

// matchLine is one JSON line of `vigil match` output.
type matchLine struct {
	Path     string              `json:"path"`
	Matched  bool                `json:"matched"`
	Signals  []vigil.Signal      `json:"signals,omitempty"`
	Results  []vigil.MatchResult `json:"results,omitempty"`
	PDQError string              `json:"pdq_error,omitempty"`
	Error    string              `json:"error,omitempty"`
}

// Run loads the indexes from the data directory and matches every file.
func (c *MatchCommand) Run(ctx context.Context, args []string) error {
	fs := c.newFlagSet("vigil match", "Usage: vigil match [flags] PATH...\n\nHashes files and matches them against the banks in the data directory.\nPrints one JSON line per file; exits 1 if any file failed.")
	data := dataFlag(fs)
	workers := fs.Int("workers", runtime.NumCPU(), "files hashed in parallel")
	fs.limit("workers", atLeast(1))
	dihedral := fs.Bool("dihedral", false, "also match rotated and flipped versions")
	minQuality := fs.Int("min-quality", vigil.DefaultMinQuality, "lowest PDQ quality matched (-1: no filter)")
	fs.limit("min-quality", between(-1, 100))
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fs.usageErrorf("match takes at least one PATH")
	}
	db, err := c.openStore(ctx, data)
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := c.localMatcher(ctx, db)
	if err != nil {
		return err
	}
	opts := vigil.MatchOptions{MinQuality: *minQuality, Dihedral: *dihedral}
	hopts := hashing.Options{Limits: hashing.Limits{Memory: workerBudget(0)}, Pipeline: pdq.Full, Dihedral: *dihedral}

	paths, walkErrs, _ := expandPaths(fs.Args())
	failed := len(walkErrs) > 0
	enc := json.NewEncoder(c.Stdout)
	for _, e := range walkErrs {
		enc.Encode(matchLine{Path: e.path, Error: e.err.Error()})
	}
	lines := mapOrdered(ctx, paths, *workers, func() func(string) matchLine {
		h := hashing.NewHasher(hopts)
		return func(path string) matchLine { return matchPath(ctx, h, m, opts, path, c.Stdin) }
	})
	for l := range lines {
		failed = failed || l.Error != ""
		enc.Encode(l)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if failed {
		return errSilent
	}
	return nil
}

func matchPath(ctx context.Context, h *hashing.Hasher, m vigil.MatchService, opts vigil.MatchOptions, path string, stdin io.Reader) matchLine {
	line := matchLine{Path: path}
	d, data, err := readInput(h, path, stdin)
	if err != nil {
		line.Error = err.Error()
		return line
	}
	if line.Signals, line.PDQError, err = contentSignals(ctx, h, d, data, path); err != nil {
		line.Error = fmt.Sprintf("%s: %s", path, errorText(err))
		return line
	}
	if line.Results, err = m.Lookup(ctx, line.Signals, opts); err != nil {
		line.Error = fmt.Sprintf("%s: %s", path, errorText(err))
		return line
	}
	for _, r := range line.Results {
		line.Matched = line.Matched || len(r.Matches) > 0
	}
	return line
}

// contentSignals returns the signals of a file's content: PDQ for an image,
// vPDQ for a video, and always the exact digests. pdqErr says, in full for
// the operator, why there is no perceptual signal.
func contentSignals(ctx context.Context, h *hashing.Hasher, d hashing.Digests, data []byte, path string) (sigs []vigil.Signal, pdqErr string, err error) {
	opts := hashing.ContentOptions{Path: path, SkipText: true}
	if path == "-" {
		opts.Path = "" // standard input: the bytes are piped to ffmpeg
	}
	c, err := h.HashContent(ctx, d, data, opts)
	switch {
	case err != nil:
		return nil, "", err
	case c.VideoErr != nil:
		return c.Signals, errorText(c.ImageErr) + ", nor a video ffmpeg can read: " + errorText(c.VideoErr), nil
	case c.ImageErr != nil:
		// Not an image we can hash: the exact digests still match.
		return c.Signals, errorText(c.ImageErr), nil
	}
	return c.Signals, "", nil
}
