package hashing

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/vigil-oss/vigil"
)

// Defaults of a DecodeBudget: the memory admits one image at the default
// pixel limit in its most costly form (an interlaced 16-bit PNG or a
// progressive colour JPEG, up to 16 bytes a pixel while decoding), or many
// ordinary photos at once.
const (
	DefaultDecodeMemory = 1 << 30
	DefaultDecodeWait   = 10 * time.Second
)

// A DecodeBudget bounds the memory held by images being decoded and hashed
// at once, across every caller that shares it: the API's uploads, the
// background jobs, the review UI's previews and the CLI's workers. Each
// decode reserves an estimate of its memory, from the image's header,
// before any pixel memory is allocated, and keeps it until the image is
// released; a decode that does not fit waits a bounded time for others to
// finish, and is then refused (EUNAVAILABLE). Without a budget the number
// of images decoded at once, and so the memory, has no bound.
type DecodeBudget struct {
	sem  *semaphore.Weighted
	size int64
	wait time.Duration
}

// NewDecodeBudget returns a budget of memory bytes (≤ 0:
// DefaultDecodeMemory) in which a decode waits at most wait (≤ 0:
// DefaultDecodeWait) for room.
func NewDecodeBudget(memory int64, wait time.Duration) *DecodeBudget {
	if memory <= 0 {
		memory = DefaultDecodeMemory
	}
	if wait <= 0 {
		wait = DefaultDecodeWait
	}
	return &DecodeBudget{sem: semaphore.NewWeighted(memory), size: memory, wait: wait}
}

// Size returns the budget's memory in bytes.
func (b *DecodeBudget) Size() int64 { return b.size }

// Reserve reserves n bytes, waiting at most the budget's wait (or until
// ctx ends), and returns the function that gives them back. A nil budget
// reserves nothing.
func (b *DecodeBudget) Reserve(ctx context.Context, n int64) (release func(), err error) {
	if b == nil {
		return func() {}, nil
	}
	if n > b.size {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "image needs about %d MB to decode, more than the %d MB decode memory limit", mb(n), mb(b.size))
	}
	wctx, cancel := context.WithTimeout(ctx, b.wait)
	defer cancel()
	if err := b.sem.Acquire(wctx, n); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, vigil.Errorf(vigil.EUNAVAILABLE, "busy decoding other images (%d MB in use): try again later", mb(b.size))
		}
		return nil, err
	}
	return func() { b.sem.Release(n) }, nil
}

func mb(n int64) int64 { return (n + 1<<20 - 1) >> 20 }
