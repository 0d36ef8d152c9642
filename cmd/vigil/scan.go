package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/respond"
)

// ScanCommand sweeps directories for known content:
// `vigil scan [flags] PATH...`.
type ScanCommand struct{ *Main }

// scanLine is one JSON line of `vigil scan` output: a file that matched,
// or one that could not be scanned.
type scanLine struct {
	Path    string              `json:"path"`
	SHA256  string              `json:"sha256,omitempty"`
	Results []vigil.MatchResult `json:"results,omitempty"`
	// Actions says what the local store's rules did with the matches
	// (--rules only).
	Actions *vigil.Outcome `json:"actions,omitempty"`
	Error   string         `json:"error,omitempty"`
}

// Run hashes every file once, skips those whose SHA-256 an earlier run of
// the same state file recorded, matches the rest locally or against a
// server, and prints the matches.
func (c *ScanCommand) Run(ctx context.Context, args []string) error {
	fs := c.newFlagSet("vigil scan", "Usage: vigil scan [flags] PATH...\n\nHashes every file under PATH (images by PDQ, videos by vPDQ, every file by its digests) and prints a\nJSON line for each one that matches a bank, or could not be read. A summary goes to stderr.")
	data := dataFlag(fs)
	server := fs.String("server", "", "match against this vigil server (URL) instead of the local data directory; only hashes are sent")
	key := fs.String("key", os.Getenv("VIGIL_KEY"), "API key for --server (default $VIGIL_KEY)")
	workers := fs.Int("workers", runtime.NumCPU(), "files hashed in parallel")
	fs.limit("workers", atLeast(1))
	statePath := fs.String("state", "", "file recording the SHA-256 of every file scanned, so a re-run skips them (default: none, scan everything)")
	dihedral := fs.Bool("dihedral", false, "also match rotated and flipped versions")
	keep := fs.Duration("keep-signals", 0, "keep the signals (never the content) of every file scanned this long, so that entries added to a bank later match them retroactively (local store only; 0: off)")
	act := fs.Bool("rules", false, "run the local store's rules on every match, as vigil serve does: cases open in its review queues (holding the file's path and digest, no media; one per file and queue however often it is scanned); local store only")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return fs.usageErrorf("scan takes at least one PATH")
	case *server != "" && *keep > 0:
		return fs.usageErrorf("--keep-signals works on the local store; a server keeps signals by its own --keep-signals")
	case *server != "" && *key == "":
		return fs.usageErrorf("--server needs an API key (--key or $VIGIL_KEY)")
	case *server != "" && *act:
		return fs.usageErrorf("--rules works on the local store; a server runs its own rules on what it matches")
	}

	var lookup func(ctx context.Context, sigs []vigil.Signal) ([]vigil.MatchResult, error)
	opts := vigil.MatchOptions{Dihedral: *dihedral}
	var flow *respond.Service
	if *server != "" {
		rc := &remoteLookup{url: strings.TrimRight(*server, "/") + "/v1/lookup", key: *key, client: &http.Client{Timeout: time.Minute}}
		lookup = func(ctx context.Context, sigs []vigil.Signal) ([]vigil.MatchResult, error) {
			return rc.lookup(ctx, sigs, opts)
		}
	} else {
		db, err := c.openStore(ctx, data)
		if err != nil {
			return err
		}
		defer db.Close()
		m, err := c.localMatcher(ctx, db)
		if err != nil {
			return err
		}
		signals := db.Signals
		lookup = func(ctx context.Context, sigs []vigil.Signal) ([]vigil.MatchResult, error) {
			res, err := m.Lookup(ctx, sigs, opts)
			if err != nil || *keep == 0 {
				return res, err
			}
			return res, vigil.KeepSeen(ctx, signals, sigs, *keep)
		}
		if *act {
			// No notifier: a rule's webhook event is reported as not sent.
			flow = &respond.Service{Rules: db.Rules, Cases: db.Cases, Logger: c.Logger}
		}
	}

	state, err := openScanState(*statePath)
	if err != nil {
		return err
	}
	defer state.Close()

	paths, walkErrs, _ := expandPaths(fs.Args())
	var bar *progress
	if isTerminal(c.Stderr) {
		bar = newProgress(c.Stderr, len(paths), time.Now)
	}
	enc := json.NewEncoder(c.Stdout)
	var sum scanSummary
	for _, e := range walkErrs {
		enc.Encode(scanLine{Path: e.path, Error: e.err.Error()})
		sum.failed++
	}
	hopts := hashing.Options{Limits: hashing.Limits{Memory: workerBudget(0)}, Pipeline: pdq.Full, Dihedral: *dihedral}
	start := time.Now()
	results := mapOrdered(ctx, paths, *workers, func() func(string) scanResult {
		h := hashing.NewHasher(hopts)
		return func(path string) scanResult { return scanPath(ctx, h, state, lookup, path, c.Stdin) }
	})
	for r := range results {
		bar.add(1)
		switch {
		case r.skipped:
			sum.skipped++
			continue
		case r.line.Error != "":
			sum.failed++
		case r.matched:
			sum.matched++
		}
		sum.scanned++
		if r.line.Error == "" {
			if err := state.record(r.line.SHA256); err != nil {
				return err
			}
		}
		if r.matched && flow != nil {
			r.line.Actions = flow.Match(ctx, vigil.ContentRef{SHA256: r.line.SHA256, ContentID: scanContentID(r.line.Path)}, r.line.Results, nil)
		}
		if r.matched || r.line.Error != "" {
			enc.Encode(r.line)
		}
	}
	bar.done()
	fmt.Fprintf(c.Stderr, "scanned %d files (%.1f/s), %d matched, %d skipped as already scanned, %d failed\n",
		sum.scanned, float64(sum.scanned)/time.Since(start).Seconds(), sum.matched, sum.skipped, sum.failed)
	if err := ctx.Err(); err != nil {
		return err
	}
	if sum.failed > 0 {
		return errSilent
	}
	return nil
}

type scanSummary struct{ scanned, matched, skipped, failed int }

// scanContentID is the platform id of a scanned file in the cases the
// rules open: its path, if a case can hold it.
func scanContentID(path string) string {
	if len(path) > vigil.MaxEntryFieldLen || !utf8.ValidString(path) || strings.ContainsFunc(path, unicode.IsControl) {
		return ""
	}
	return path
}

type scanResult struct {
	line             scanLine
	matched, skipped bool
}

func scanPath(ctx context.Context, h *hashing.Hasher, state *scanState, lookup func(context.Context, []vigil.Signal) ([]vigil.MatchResult, error), path string, stdin io.Reader) scanResult {
	r := scanResult{line: scanLine{Path: path}}
	d, data, err := readInput(h, path, stdin)
	if err != nil {
		r.line.Error = err.Error()
		return r
	}
	r.line.SHA256 = hex.EncodeToString(d.SHA256[:])
	if state.seen(r.line.SHA256) {
		r.skipped = true
		return r
	}
	sigs, _, err := contentSignals(ctx, h, d, data, path)
	if err != nil {
		r.line.Error = fmt.Sprintf("%s: %s", path, errorText(err))
		return r
	}
	results, err := lookup(ctx, sigs)
	if err != nil {
		r.line.Error = fmt.Sprintf("%s: %s", path, errorText(err))
		return r
	}
	for _, res := range results {
		if len(res.Matches) > 0 {
			r.matched = true
			r.line.Results = append(r.line.Results, res)
		}
	}
	return r
}

// scanState is the set of SHA-256 digests already scanned, kept in an
// append-only file of hex lines so that an interrupted sweep resumes where
// it stopped.
type scanState struct {
	mu   sync.Mutex
	set  map[string]bool
	file *os.File
	w    *bufio.Writer
}

func openScanState(path string) (*scanState, error) {
	s := &scanState{set: map[string]bool{}}
	if path == "" {
		return s, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open scan state: %w", err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// A torn last line from a crash is not a digest; skip it.
		if line := sc.Text(); len(line) == 64 {
			s.set[line] = true
		}
	}
	if err := sc.Err(); err != nil {
		f.Close()
		return nil, fmt.Errorf("read scan state %s: %w", path, err)
	}
	s.file, s.w = f, bufio.NewWriter(f)
	return s, nil
}

func (s *scanState) seen(sha string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set[sha]
}

func (s *scanState) record(sha string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set[sha] {
		return nil
	}
	s.set[sha] = true
	if s.w == nil {
		return nil
	}
	s.w.WriteString(sha + "\n")
	// Flushed per file: a kill loses at most the file in flight.
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("write scan state: %w", err)
	}
	return nil
}

func (s *scanState) Close() error {
	if s.file == nil {
		return nil
	}
	return s.file.Close()
}

// remoteLookup sends signals (never content) to a vigil server.
type remoteLookup struct {
	url, key string
	client   *http.Client
}

func (rl *remoteLookup) lookup(ctx context.Context, sigs []vigil.Signal, opts vigil.MatchOptions) ([]vigil.MatchResult, error) {
	body, err := json.Marshal(map[string]any{"signals": sigs, "dihedral": opts.Dihedral, "min_quality": opts.MinQuality})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", rl.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+rl.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := rl.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("lookup at %s: %w", rl.url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("lookup at %s: %w", rl.url, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return nil, fmt.Errorf("lookup at %s: %s (%d)", rl.url, e.Error.Message, resp.StatusCode)
		}
		return nil, fmt.Errorf("lookup at %s: status %d", rl.url, resp.StatusCode)
	}
	var out struct{ Results []vigil.MatchResult }
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("lookup at %s: bad response: %w", rl.url, err)
	}
	if len(out.Results) != len(sigs) {
		return nil, errors.New("lookup: server returned the wrong number of results")
	}
	return out.Results, nil
}
