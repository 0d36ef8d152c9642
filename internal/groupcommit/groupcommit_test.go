package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// TestGroupsWritesQueuedDuringCommit checks that the writes that arrive
// while a commit runs go into the next group together, each caller gets
// its own write's result, and a caller returns only after its group's
// Commit has returned.
func TestGroupsWritesQueuedDuringCommit(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var groups [][]int
	committed := map[int]bool{}
	g := &Group[int]{Commit: func(ops []*Op[int]) {
		var ids []int
		for _, op := range ops {
			ids = append(ids, op.Fn)
		}
		if slices.Contains(ids, 0) {
			<-release // the first group commits slowly
		}
		mu.Lock()
		groups = append(groups, ids)
		for _, op := range ops {
			if op.Fn%3 == 2 {
				op.Err = fmt.Errorf("write %d failed", op.Fn)
			} else {
				committed[op.Fn] = true
			}
		}
		mu.Unlock()
	}}
	errs := make([]error, 10)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = g.Do(context.Background(), 0) })
	for g.Waiting() != 0 || !isBusy(g) {
		runtime.Gosched() // until the first write is being committed
	}
	for i := 1; i < len(errs); i++ {
		wg.Go(func() {
			errs[i] = g.Do(context.Background(), i)
			mu.Lock()
			defer mu.Unlock()
			if errs[i] == nil && !committed[i] {
				t.Errorf("write %d returned before its commit", i)
			}
		})
	}
	for g.Waiting() != len(errs)-1 {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if len(groups) != 2 || len(groups[0]) != 1 || len(groups[1]) != len(errs)-1 {
		t.Fatalf("groups %v, want [0] then the other %d together", groups, len(errs)-1)
	}
	for i, err := range errs {
		if want := i%3 == 2; (err != nil) != want {
			t.Errorf("write %d: err %v, want failure %v", i, err, want)
		}
	}
	if isBusy(g) {
		t.Error("group still busy with nothing queued")
	}
}

// TestGroupMax checks that no group holds more than Max writes, and that
// every write is committed exactly once.
func TestGroupMax(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	g := &Group[int]{Max: 3, Commit: func(ops []*Op[int]) {
		if len(ops) > 3 {
			t.Errorf("group of %d", len(ops))
		}
		mu.Lock()
		defer mu.Unlock()
		for _, op := range ops {
			seen[op.Fn]++
		}
	}}
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if err := g.Do(context.Background(), i); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i := range 200 {
		if seen[i] != 1 {
			t.Errorf("write %d committed %d times", i, seen[i])
		}
	}
	if err := g.Do(context.Background(), -1); err != nil || seen[-1] != 1 {
		t.Error(errors.New("a write alone was not committed"))
	}
}

func isBusy[F any](g *Group[F]) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.busy
}

// TestPanicFailsGroup checks that a panic while committing fails that
// group's writes and leaves the group usable.
func TestPanicFailsGroup(t *testing.T) {
	g := &Group[int]{Commit: func(ops []*Op[int]) {
		if ops[0].Fn == 1 {
			panic("bug")
		}
	}}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic did not reach the committing caller")
			}
		}()
		g.Do(context.Background(), 1)
	}()
	if err := g.Do(context.Background(), 2); err != nil {
		t.Fatalf("write after a panic: %v", err)
	}
}

// TestSyncAfterHandOff checks Group.Sync: it runs once the committing role
// has passed on, so that the next group commits while the previous one is
// still being synced; a write's caller returns only once its group's Sync
// has returned; and Sync's failures are the writes' results, with the
// writes that Commit failed keeping their own error.
func TestSyncAfterHandOff(t *testing.T) {
	syncing, release := make(chan struct{}), make(chan struct{})
	committed := make(chan int, 10)
	errSync := errors.New("sync failed")
	g := &Group[int]{
		Commit: func(ops []*Op[int]) {
			for _, op := range ops {
				if op.Fn == 3 {
					op.Err = errors.New("write 3 failed")
				}
				committed <- op.Fn
			}
		},
		Sync: func(ops []*Op[int]) {
			if ops[0].Fn == 1 {
				close(syncing)
				<-release // the first group syncs slowly
			}
			for _, op := range ops {
				if op.Err == nil && op.Fn == 2 {
					op.Err = errSync
				}
			}
		},
	}
	var synced1 bool
	var mu sync.Mutex
	done1 := make(chan error, 1)
	go func() {
		err := g.Do(context.Background(), 1)
		mu.Lock()
		defer mu.Unlock()
		if !synced1 {
			t.Error("write 1 returned before its group's Sync did")
		}
		done1 <- err
	}()
	<-syncing
	if n := <-committed; n != 1 {
		t.Fatalf("committed %d first, want 1", n)
	}
	// The first group is held in Sync: the next ones commit meanwhile.
	if err := g.Do(context.Background(), 2); err != errSync {
		t.Errorf("write 2: %v, want Sync's error", err)
	}
	if err := g.Do(context.Background(), 3); err == nil || err == errSync {
		t.Errorf("write 3: %v, want Commit's own error", err)
	}
	mu.Lock()
	synced1 = true
	mu.Unlock()
	close(release)
	if err := <-done1; err != nil {
		t.Errorf("write 1: %v", err)
	}
}

// TestReadyGathersGroup checks Group.Ready: the committing caller calls it
// before taking its group, and the writes that queue while it blocks go
// into that group.
func TestReadyGathersGroup(t *testing.T) {
	ready, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var groups [][]int
	first := true
	g := &Group[int]{
		Ready: func() {
			if first {
				first = false
				close(ready)
				<-release
			}
		},
		Commit: func(ops []*Op[int]) {
			var ids []int
			for _, op := range ops {
				ids = append(ids, op.Fn)
			}
			mu.Lock()
			groups = append(groups, ids)
			mu.Unlock()
		},
	}
	var wg sync.WaitGroup
	wg.Go(func() { g.Do(context.Background(), 0) })
	<-ready
	for i := 1; i < 5; i++ {
		wg.Go(func() { g.Do(context.Background(), i) })
	}
	for g.Waiting() != 5 {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if len(groups) != 1 || len(groups[0]) != 5 {
		t.Errorf("groups %v, want the five writes in one", groups)
	}
}
