package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress draws a one-line progress bar with rate and ETA on a terminal.
// A nil *progress does nothing, so callers need no checks.
type progress struct {
	w         io.Writer
	total, n  int
	start     time.Time
	lastDrawn time.Time
	now       func() time.Time
}

func newProgress(w io.Writer, total int, now func() time.Time) *progress {
	return &progress{w: w, total: total, start: now(), now: now}
}

func (p *progress) add(k int) {
	if p == nil {
		return
	}
	p.n += k
	if t := p.now(); t.Sub(p.lastDrawn) >= 100*time.Millisecond || p.n == p.total {
		p.lastDrawn = t
		p.draw(t)
	}
}

func (p *progress) draw(t time.Time) {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.n) / float64(p.total)
	}
	filled := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		if i < filled {
			bar[i] = '='
		} else {
			bar[i] = ' '
		}
	}
	elapsed := t.Sub(p.start).Seconds()
	rate, eta := 0.0, "?"
	if elapsed > 0 && p.n > 0 {
		rate = float64(p.n) / elapsed
		eta = time.Duration(float64(p.total-p.n) / rate * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r[%s] %d/%d %.1f/s ETA %s ", bar, p.n, p.total, rate, eta)
}

func (p *progress) done() {
	if p == nil {
		return
	}
	p.draw(p.now())
	fmt.Fprintln(p.w)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
