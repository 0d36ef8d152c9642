package storetest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestPHMInbox tests the private hash matching service's inbox (its
// PHMService is the store's vigil.PHMInbox): vouchers kept byte for byte
// in order of arrival, a batch stored whole or not at all, the bound
// refusing a batch whole, failed attempts deferred, and processed vouchers
// deleted.
func TestPHMInbox(t *testing.T, open Opener) {
	ctx := context.Background()
	inbox := func(t *testing.T) vigil.PHMInbox {
		s := open(t)
		in, ok := s.PHM.(vigil.PHMInbox)
		if !ok {
			t.Fatalf("the store's PHM service %T keeps no inbox", s.PHM)
		}
		return in
	}
	v := func(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

	t.Run("Order", func(t *testing.T) {
		in := inbox(t)
		if n, b, err := in.PHMInboxDepth(ctx); err != nil || n != 0 || b != 0 {
			t.Fatalf("empty inbox: %d vouchers, %d bytes, %v", n, b, err)
		}
		must(t, in.AppendPHMInbox(ctx, "u1", [][]byte{v(1, 17069), v(2, 17069), v(3, 100)}, 0))
		must(t, in.AppendPHMInbox(ctx, "u2", [][]byte{v(4, 5), v(5, vigil.MaxPHMInboxVoucherLen)}, 0))
		got, err := in.PHMInboxNext(ctx, now, 100)
		must(t, err)
		want := []struct {
			acct string
			v    []byte
		}{{"u1", v(1, 17069)}, {"u1", v(2, 17069)}, {"u1", v(3, 100)}, {"u2", v(4, 5)}, {"u2", v(5, vigil.MaxPHMInboxVoucherLen)}}
		if len(got) != len(want) {
			t.Fatalf("%d vouchers in the inbox, want %d", len(got), len(want))
		}
		for i, w := range want {
			if got[i].Account != w.acct || !bytes.Equal(got[i].Voucher, w.v) || got[i].Attempts != 0 {
				t.Fatalf("voucher %d: %s, %d bytes, %d attempts", i, got[i].Account, len(got[i].Voucher), got[i].Attempts)
			}
			if i > 0 && got[i].ID <= got[i-1].ID {
				t.Fatalf("ids out of order: %d after %d", got[i].ID, got[i-1].ID)
			}
		}
		if n, b, err := in.PHMInboxDepth(ctx); err != nil || n != 5 || b != 2*17069+100+5+vigil.MaxPHMInboxVoucherLen {
			t.Fatalf("depth %d vouchers, %d bytes, %v", n, b, err)
		}
		if page, err := in.PHMInboxNext(ctx, now, 2); err != nil || len(page) != 2 || page[0].ID != got[0].ID {
			t.Fatalf("a page of 2: %d, %v", len(page), err)
		}
		// Deleted vouchers are gone; unknown ids are ignored.
		must(t, in.DeletePHMInbox(ctx, []int64{got[0].ID, got[3].ID, got[4].ID + 1000}))
		rest, err := in.PHMInboxNext(ctx, now, 100)
		must(t, err)
		if len(rest) != 3 || rest[0].ID != got[1].ID || rest[1].ID != got[2].ID || rest[2].ID != got[4].ID {
			t.Fatalf("after deleting: %+v", ids(rest))
		}
		// New vouchers come after all that are left, never in a freed place.
		must(t, in.DeletePHMInbox(ctx, []int64{got[4].ID}))
		must(t, in.AppendPHMInbox(ctx, "u3", [][]byte{v(6, 10)}, 0))
		rest, err = in.PHMInboxNext(ctx, now, 100)
		must(t, err)
		if len(rest) != 3 || rest[2].Account != "u3" || rest[2].ID <= got[4].ID {
			t.Fatalf("after a new append: %v", ids(rest))
		}
	})

	t.Run("Refused", func(t *testing.T) {
		in := inbox(t)
		wantCode(t, in.AppendPHMInbox(ctx, "", [][]byte{v(1, 10)}, 0), vigil.EINVALID)
		wantCode(t, in.AppendPHMInbox(ctx, "u\x00", [][]byte{v(1, 10)}, 0), vigil.EINVALID)
		wantCode(t, in.AppendPHMInbox(ctx, strings.Repeat("u", vigil.MaxPHMAccountLen+1), [][]byte{v(1, 10)}, 0), vigil.EINVALID)
		// One bad voucher refuses its batch whole.
		wantCode(t, in.AppendPHMInbox(ctx, "u", [][]byte{v(1, 10), nil}, 0), vigil.EINVALID)
		wantCode(t, in.AppendPHMInbox(ctx, "u", [][]byte{v(1, 10), v(2, vigil.MaxPHMInboxVoucherLen+1)}, 0), vigil.EINVALID)
		many := make([][]byte, vigil.MaxPHMInboxAppend+1)
		for i := range many {
			many[i] = v(1, 10)
		}
		wantCode(t, in.AppendPHMInbox(ctx, "u", many, 0), vigil.ETOOLARGE)
		if n, _, err := in.PHMInboxDepth(ctx); err != nil || n != 0 {
			t.Fatalf("refused appends stored %d vouchers (%v)", n, err)
		}
		must(t, in.AppendPHMInbox(ctx, "u", many[:vigil.MaxPHMInboxAppend], 0))
	})

	t.Run("Bound", func(t *testing.T) {
		in := inbox(t)
		must(t, in.AppendPHMInbox(ctx, "u", [][]byte{v(1, 10), v(2, 10), v(3, 10)}, 5))
		// Two more would make 5: taken. One more would make 6: refused,
		// and a batch of two that would make 6 is refused whole.
		wantCode(t, in.AppendPHMInbox(ctx, "u", [][]byte{v(4, 10), v(5, 10), v(6, 10)}, 5), vigil.EUNAVAILABLE)
		if n, _, err := in.PHMInboxDepth(ctx); err != nil || n != 3 {
			t.Fatalf("a refused batch left %d vouchers (%v), want 3", n, err)
		}
		must(t, in.AppendPHMInbox(ctx, "u", [][]byte{v(4, 10), v(5, 10)}, 5))
		wantCode(t, in.AppendPHMInbox(ctx, "w", [][]byte{v(6, 10)}, 5), vigil.EUNAVAILABLE)
		// The bound is the caller's: no bound takes it.
		must(t, in.AppendPHMInbox(ctx, "w", [][]byte{v(6, 10)}, 0))
		got, err := in.PHMInboxNext(ctx, now, 100)
		must(t, err)
		if len(got) != 6 {
			t.Fatalf("%d vouchers, want 6", len(got))
		}
		// Room again once some are processed.
		must(t, in.DeletePHMInbox(ctx, []int64{got[0].ID, got[1].ID}))
		must(t, in.AppendPHMInbox(ctx, "w", [][]byte{v(7, 10)}, 5))
	})

	t.Run("Defer", func(t *testing.T) {
		in := inbox(t)
		must(t, in.AppendPHMInbox(ctx, "u", [][]byte{v(1, 10), v(2, 10)}, 0))
		got, err := in.PHMInboxNext(ctx, now, 100)
		must(t, err)
		must(t, in.DeferPHMInbox(ctx, got[0].ID, now.Add(time.Minute)))
		due, err := in.PHMInboxNext(ctx, now, 100)
		must(t, err)
		if len(due) != 1 || due[0].ID != got[1].ID {
			t.Fatalf("due while the first waits: %v", ids(due))
		}
		due, err = in.PHMInboxNext(ctx, now.Add(time.Minute), 100)
		must(t, err)
		if len(due) != 2 || due[0].ID != got[0].ID || due[0].Attempts != 1 || !bytes.Equal(due[0].Voucher, v(1, 10)) {
			t.Fatalf("due once its time came: %+v", ids(due))
		}
		must(t, in.DeferPHMInbox(ctx, got[0].ID, now.Add(time.Hour)))
		due, err = in.PHMInboxNext(ctx, now.Add(2*time.Hour), 100)
		must(t, err)
		if len(due) != 2 || due[0].Attempts != 2 {
			t.Fatalf("after a second failure: %+v", ids(due))
		}
		wantCode(t, in.DeferPHMInbox(ctx, got[1].ID+1000, now), vigil.ENOTFOUND)
	})

	t.Run("Concurrent", func(t *testing.T) {
		in := inbox(t)
		const writers, each = 12, 3
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for w := range writers {
			wg.Go(func() {
				batch := make([][]byte, each)
				for i := range batch {
					batch[i] = []byte(fmt.Sprintf("w%d-%d", w, i))
				}
				errs[w] = in.AppendPHMInbox(ctx, fmt.Sprintf("acct-%d", w), batch, 0)
			})
		}
		wg.Wait()
		for _, err := range errs {
			must(t, err)
		}
		got, err := in.PHMInboxNext(ctx, now, 100)
		must(t, err)
		if len(got) != writers*each {
			t.Fatalf("%d vouchers, want %d", len(got), writers*each)
		}
		// Each batch is stored in one piece, in its order.
		for i := 0; i < len(got); i += each {
			for j := range each {
				it := got[i+j]
				var w int
				if _, err := fmt.Sscanf(it.Account, "acct-%d", &w); err != nil {
					t.Fatal(err)
				}
				if string(it.Voucher) != fmt.Sprintf("w%d-%d", w, j) || it.Account != got[i].Account {
					t.Fatalf("row %d is %s %q: batches interleaved", i+j, it.Account, it.Voucher)
				}
			}
		}
	})
}

func ids(items []vigil.PHMInboxItem) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}
