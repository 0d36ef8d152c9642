// Package pausedload holds an index load still, for tests of what a
// replica does while it reads a large store: an entry store whose
// ForEachActiveEntry stops part way until released.
package pausedload

import (
	"context"
	"sync"

	"github.com/vigil-oss/vigil"
)

// Store is an entry store whose load of entries of Type (every type when
// empty) stops after After of them, holding its snapshot open, until
// Release is called; Paused is closed when it stops.
type Store struct {
	vigil.EntryService
	After int
	Type  vigil.SignalType

	Paused  chan struct{}
	release chan struct{}
	once    sync.Once
}

// New returns a Store over entries that pauses after the given number of
// entries of type t ("" for any).
func New(entries vigil.EntryService, after int, t vigil.SignalType) *Store {
	return &Store{EntryService: entries, After: after, Type: t, Paused: make(chan struct{}), release: make(chan struct{})}
}

// Release lets the paused load go on (and any later one run through).
func (s *Store) Release() { s.once.Do(func() { close(s.release) }) }

// ForEachActiveEntry implements vigil.EntryService.
func (s *Store) ForEachActiveEntry(ctx context.Context, t vigil.SignalType, fn func(*vigil.Entry) error) (int64, error) {
	n := 0
	return s.EntryService.ForEachActiveEntry(ctx, t, func(e *vigil.Entry) error {
		if s.Type == "" || t == s.Type {
			if n++; n == s.After+1 {
				close(s.Paused)
				select {
				case <-s.release:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		return fn(e)
	})
}
