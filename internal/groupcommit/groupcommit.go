// Package groupcommit gathers writes that arrive while a transaction is
// being committed into the next one, so that a store with one writer pays
// one commit (one fsync) for a group of them rather than one each; with
// Group.Sync, the sync of one group overlaps the next group's commit. The
// stores (sqlite, postgres) supply the transaction; this package only
// queues the writes and hands the committing role from one caller to the
// next, with no goroutine of its own.
package groupcommit

import (
	"context"
	"errors"
	"sync"
)

// ErrAbandoned is the result of the writes of a group whose commit
// panicked: whether they were written is not known.
var ErrAbandoned = errors.New("write abandoned: its group's commit panicked")

// DefaultMaxGroup bounds a group when Group.Max is not set: large enough
// that a commit's cost is shared widely, small enough that a group's
// transaction stays short.
const DefaultMaxGroup = 64

// Op is one caller's write, waiting for its group's commit.
type Op[F any] struct {
	Ctx context.Context
	Fn  F
	// Err is the write's result, set by Commit: nil only once the write
	// is durable.
	Err error
	// Mark is free for Commit to leave a note on the write for Sync.
	Mark int

	wake chan bool // true: lead the next group; false: done
}

// Group queues writes and commits them in groups. Set Commit before use.
type Group[F any] struct {
	// Commit writes ops in one or more transactions and sets every op's
	// Err; it returns only when each is durable or has failed, unless
	// Sync is set.
	Commit func(ops []*Op[F])
	// Sync, if set, makes durable the ops that Commit committed (those
	// whose Err it left nil), setting the Err of any it cannot. It is
	// called once Commit has returned and the committing role has passed
	// to the next group, so that the next group's transaction runs while
	// this one is synced; the ops' callers are woken when it returns.
	Sync func(ops []*Op[F])
	// Ready, if set, is called by the committing caller before it takes
	// the next group from the queue, and may block to let more writes
	// join it: a store whose groups wait for a sync blocks while writes
	// already committed still wait for their sync to begin, since a group
	// committed now would wait for that same sync, and one larger group
	// costs less than two.
	Ready func()
	// Max bounds the writes in one group; 0 means DefaultMaxGroup.
	Max int

	mu      sync.Mutex
	pending []*Op[F]
	busy    bool // a caller is committing a group
}

// Do queues fn and returns once it has been committed, in a group with
// whatever other writes were queued while the previous group committed,
// with fn's own result. A caller whose write waits is woken either when it
// is done or to commit the next group itself (always one that holds its
// own write), so that someone always commits and nothing else runs.
func (g *Group[F]) Do(ctx context.Context, fn F) error {
	op := &Op[F]{Ctx: ctx, Fn: fn, wake: make(chan bool, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, op)
	lead := !g.busy
	g.busy = true
	g.mu.Unlock()
	for {
		if lead {
			g.commitNext()
		}
		if lead = <-op.wake; !lead {
			return op.Err
		}
	}
}

// commitNext commits up to Max pending writes, wakes their callers and
// hands the committing role to the first caller still waiting, if any.
func (g *Group[F]) commitNext() {
	limit := g.Max
	if limit <= 0 {
		limit = DefaultMaxGroup
	}
	if g.Ready != nil {
		g.Ready()
	}
	g.mu.Lock()
	n := min(len(g.pending), limit)
	batch := g.pending[:n:n]
	g.pending = g.pending[n:]
	g.mu.Unlock()
	// Deferred, so that a panic in Commit (a bug in a write) fails its
	// group and passes the role on, rather than leave every later writer
	// waiting; the panic goes on up in the caller that committed.
	committed := false
	defer func() {
		if !committed {
			for _, op := range batch {
				op.Err = ErrAbandoned
			}
		}
		g.mu.Lock()
		if len(g.pending) > 0 {
			g.pending[0].wake <- true
		} else {
			g.busy = false
		}
		g.mu.Unlock()
		synced := false
		defer func() {
			if !synced {
				// Sync panicked: committed, but not known durable.
				for _, op := range batch {
					if op.Err == nil {
						op.Err = ErrAbandoned
					}
				}
			}
			for _, op := range batch {
				op.wake <- false
			}
		}()
		if committed && g.Sync != nil && len(batch) > 0 {
			g.Sync(batch)
		}
		synced = true
	}()
	if len(batch) > 0 {
		g.Commit(batch)
	}
	committed = true
}

// Waiting returns the number of writes queued and not yet taken into a
// group (tests wait on it to know that a group will form).
func (g *Group[F]) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}
