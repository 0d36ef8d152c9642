package jobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// A queued submission is retried while its destination is away and run
// once more when it answers; queueing it twice runs it once.
func TestSubmissionJobRetries(t *testing.T) {
	e := mustOpenEnv(t)
	c := mustOpenClient(t, e.config(nil), false)
	var mu sync.Mutex
	calls := map[int64]int{}
	done := make(chan int64, 4)
	c.OnSubmission(func(ctx context.Context, id int64) error {
		mu.Lock()
		calls[id]++
		n := calls[id]
		mu.Unlock()
		switch {
		case id == 2:
			done <- id
			return vigil.Errorf(vigil.EINVALID, "refused for good")
		case n < 3:
			return vigil.Errorf(vigil.EUNAVAILABLE, "ncmec busy")
		}
		done <- id
		return nil
	})
	ctx := context.Background()
	for _, id := range []int64{1, 1, 2} {
		if err := c.QueueSubmission(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[int64]bool{}
	for len(got) < 2 {
		select {
		case id := <-done:
			got[id] = true
		case <-time.After(60 * time.Second): // only keeps a broken test from hanging
			t.Fatalf("submissions done: %v", got)
		}
	}
	time.Sleep(300 * time.Millisecond) // room for a wrong extra run to show
	mu.Lock()
	defer mu.Unlock()
	if calls[1] != 3 || calls[2] != 1 {
		t.Errorf("calls %v: want 3 for the retried one (queued twice), 1 for the refused one", calls)
	}
}
