package respond

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vigil-oss/vigil"
)

// Kinds of item the transparency figures count as checked.
const (
	CheckedImage        = "image"
	CheckedVideo        = "video"
	CheckedText         = "text"
	CheckedOther        = "other"   // content of another media type, or none given
	CheckedSignals      = "signals" // hashes looked up without the content
	CheckedConversation = "conversation"
)

// CheckedKind is the kind a piece of content counts as.
func CheckedKind(ref vigil.ContentRef) string {
	switch {
	case ref.SHA256 == "":
		return CheckedSignals
	case strings.HasPrefix(ref.MediaType, "image/"):
		return CheckedImage
	case strings.HasPrefix(ref.MediaType, "video/"):
		return CheckedVideo
	case strings.HasPrefix(ref.MediaType, "text/"):
		return CheckedText
	}
	return CheckedOther
}

// CheckCounter counts the items Vigil checks, by day and kind, for the
// transparency figures. Counting is a map increment under a lock on the
// detection path; the counts are written to the store in one transaction
// every Run interval (and when Run ends), so a crash loses at most one
// interval's counts, and a write never waits on a detection.
type CheckCounter struct {
	Store  vigil.TransparencyService
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now

	mu     sync.Mutex
	counts map[string]map[string]int64 // day → kind → n
}

// Add counts one item of kind.
func (c *CheckCounter) Add(kind string) {
	if c == nil {
		return
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	day := now().UTC().Format(time.DateOnly)
	c.mu.Lock()
	if c.counts == nil {
		c.counts = map[string]map[string]int64{}
	}
	if c.counts[day] == nil {
		c.counts[day] = map[string]int64{}
	}
	c.counts[day][kind]++
	c.mu.Unlock()
}

// Flush writes the counts so far to the store; on failure they are kept
// for the next flush.
func (c *CheckCounter) Flush(ctx context.Context) error {
	c.mu.Lock()
	pending := c.counts
	c.counts = nil
	c.mu.Unlock()
	for day, kinds := range pending {
		t, _ := time.Parse(time.DateOnly, day)
		if err := c.Store.CountChecked(ctx, t, kinds); err != nil {
			c.mu.Lock()
			for d, ks := range pending {
				for k, n := range ks {
					if c.counts == nil {
						c.counts = map[string]map[string]int64{}
					}
					if c.counts[d] == nil {
						c.counts[d] = map[string]int64{}
					}
					c.counts[d][k] += n
				}
			}
			c.mu.Unlock()
			return err
		}
		delete(pending, day)
	}
	return nil
}

// Run flushes every interval until ctx ends, then once more.
func (c *CheckCounter) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := c.Flush(context.WithoutCancel(ctx)); err != nil && c.Logger != nil {
				c.Logger.Error("count items checked", "err", err)
			}
			return
		case <-t.C:
			if err := c.Flush(ctx); err != nil && c.Logger != nil {
				c.Logger.Error("count items checked", "err", err)
			}
		}
	}
}
