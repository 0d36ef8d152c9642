package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/vigil-oss/vigil/hashing"
)

// Input handling shared by the commands that read files: hash, match,
// scan, bank import, grooming and eval.

// openInput opens path, or returns stdin for "-".
func openInput(path string, stdin io.Reader) (io.Reader, func(), error) {
	if path == "-" {
		return stdin, func() {}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err // *PathError already names the file
	}
	return f, func() { f.Close() }, nil
}

// readInput reads path (or stdin for "-") once through h, returning its
// digests and bytes (valid until h's next read). Errors name the path.
func readInput(h *hashing.Hasher, path string, stdin io.Reader) (hashing.Digests, []byte, error) {
	r, closeInput, err := openInput(path, stdin)
	if err != nil {
		return hashing.Digests{}, nil, err
	}
	defer closeInput()
	d, data, err := h.Read(r)
	if err != nil {
		return d, nil, fmt.Errorf("%s: %s", path, errorText(err))
	}
	return d, data, nil
}

type pathError struct {
	path string
	err  error
}

// expandPaths walks directories (recursively, in lexical order, regular
// files only) and keeps "-" for standard input.
func expandPaths(args []string) (paths []string, errs []pathError, sawDir bool) {
	for _, arg := range args {
		if arg == "-" {
			paths = append(paths, arg)
			continue
		}
		info, err := os.Stat(arg)
		if err != nil {
			errs = append(errs, pathError{arg, err})
			continue
		}
		if !info.IsDir() {
			paths = append(paths, arg)
			continue
		}
		sawDir = true
		err = filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, pathError{p, err})
				return nil
			}
			if d.Type().IsRegular() {
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, pathError{arg, err})
		}
	}
	return paths, errs, sawDir
}

// mapOrdered applies a per-worker function to every path with n workers
// and yields the results in the order of paths. newWorker is called once per
// worker, so each can own state that is not safe to share (a Hasher). On
// cancellation it stops handing out paths and flushes what finished.
func mapOrdered[T any](ctx context.Context, paths []string, n int, newWorker func() func(string) T) <-chan T {
	type job struct {
		i    int
		path string
	}
	type done struct {
		i int
		v T
	}
	jobs := make(chan job)
	dones := make(chan done, n)
	out := make(chan T, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			work := newWorker()
			for j := range jobs {
				dones <- done{j.i, work(j.path)}
			}
		})
	}
	go func() {
		defer close(jobs)
		for i, p := range paths {
			select {
			case jobs <- job{i, p}:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(dones) }()
	go func() {
		defer close(out)
		pending := map[int]T{}
		next := 0
		for d := range dones {
			pending[d.i] = d.v
			for {
				v, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				out <- v
				next++
			}
		}
		rest := make([]int, 0, len(pending))
		for i := range pending {
			rest = append(rest, i)
		}
		sort.Ints(rest)
		for _, i := range rest {
			out <- pending[i]
		}
	}()
	return out
}
