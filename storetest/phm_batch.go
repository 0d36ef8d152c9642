package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestPHMInboxBatch tests ApplyPHMInbox: a batch of processed inbox
// vouchers in one transaction, each item's update given the state the
// earlier items left, a voucher that did not open given its account's
// latest epoch and keeping nothing, replays and vouchers left out of the
// changes keeping nothing, an EINVALID item dropped inside the batch, the
// batch's inbox rows deleted with it, and any other failure undoing all
// of it.
func TestPHMInboxBatch(t *testing.T, open Opener) {
	ctx := context.Background()
	id := func(b byte) [vigil.PHMVoucherIDLen]byte { return [vigil.PHMVoucherIDLen]byte{b, 0x5a, b} }
	data := func(b byte) []byte { return bytes.Repeat([]byte{b}, 5320) }
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	// seen is what each item's fn was given.
	type seen struct {
		called    bool
		keep      bool
		epoch     uint32
		positives int
		pending   int
	}
	// add is the update of a voucher that opened below the threshold; it
	// tries to change the account even where it is told nothing is kept.
	add := func(v [vigil.PHMVoucherIDLen]byte, d []byte, got *seen) func(a *vigil.PHMAccount, keep bool) (*vigil.AuditRecord, error) {
		return func(a *vigil.PHMAccount, keep bool) (*vigil.AuditRecord, error) {
			*got = seen{true, keep, a.Epoch, a.Positives, len(a.Pending)}
			a.Positives++
			a.Changes = append(a.Changes, vigil.PHMVoucher{ID: v, State: vigil.PHMPending, Data: d, N: a.Positives})
			return nil, nil
		}
	}
	setup := func(t *testing.T, n int) (Services, vigil.PHMInbox, []vigil.PHMInboxItem) {
		s := open(t)
		in, ok := s.PHM.(vigil.PHMInbox)
		if !ok {
			t.Fatalf("the store's PHM service %T keeps no inbox", s.PHM)
		}
		vs := make([][]byte, n)
		for i := range vs {
			vs[i] = []byte(fmt.Sprintf("voucher %d", i))
		}
		must(t, in.AppendPHMInbox(ctx, "u", vs, 0))
		items, err := in.PHMInboxNext(ctx, now, 100)
		must(t, err)
		return s, in, items
	}

	t.Run("InOrder", func(t *testing.T) {
		s, in, rows := setup(t, 9)
		var got [9]seen
		items := []vigil.PHMInboxUpdate{
			{Account: "u", Opened: true, Epoch: 2, Voucher: id(1), Fn: add(id(1), data(1), &got[0])},
			{Account: "u", Opened: true, Epoch: 2, Voucher: id(2), Fn: add(id(2), data(2), &got[1])},
			// A replay of the first, in the same batch.
			{Account: "u", Opened: true, Epoch: 2, Voucher: id(1), Fn: add(id(1), data(1), &got[2])},
			// Did not open: the account's latest epoch, 2; nothing kept.
			{Account: "u", Voucher: id(3), Epoch: 77, Fn: add(id(3), data(3), &got[3])},
			// Opened, but its update leaves it out (an account past its
			// bound): nothing kept, not even what else it changed.
			{Account: "u", Opened: true, Epoch: 2, Voucher: id(4), Fn: func(a *vigil.PHMAccount, keep bool) (*vigil.AuditRecord, error) {
				got[4] = seen{true, keep, a.Epoch, a.Positives, len(a.Pending)}
				a.Positives = 100
				return nil, nil
			}},
			// Dropped inside the batch.
			{Account: "u", Opened: true, Epoch: 2, Voucher: id(5), Fn: func(a *vigil.PHMAccount, keep bool) (*vigil.AuditRecord, error) {
				got[5] = seen{true, keep, a.Epoch, a.Positives, len(a.Pending)}
				return nil, vigil.Errorf(vigil.EINVALID, "not a voucher")
			}},
			// Changes against the states' rules: dropped too.
			{Account: "u", Opened: true, Epoch: 2, Voucher: id(6), Fn: func(a *vigil.PHMAccount, keep bool) (*vigil.AuditRecord, error) {
				got[6] = seen{true, keep, a.Epoch, a.Positives, len(a.Pending)}
				a.Positives++
				a.Changes = append(a.Changes, vigil.PHMVoucher{ID: id(6), State: vigil.PHMHandled, Data: data(6), N: a.Positives})
				return nil, nil
			}},
			// A later epoch, then a voucher that did not open sees it.
			{Account: "u", Opened: true, Epoch: 9, Voucher: id(1), Fn: add(id(1), data(7), &got[7])},
			{Account: "u", Voucher: id(8), Fn: add(id(8), data(8), &got[8])},
		}
		for i := range items {
			items[i].ID, items[i].Pad = rows[i].ID, 5320
		}
		out, err := s.PHM.ApplyPHMInbox(ctx, items)
		must(t, err)
		want := []struct {
			counted, dropped bool
			seen             seen
		}{
			{true, false, seen{true, true, 2, 0, 0}},
			{true, false, seen{true, true, 2, 1, 1}},
			{false, false, seen{true, false, 2, 2, 2}},
			{false, false, seen{true, false, 2, 2, 2}},
			{false, false, seen{true, true, 2, 2, 2}},
			{false, true, seen{true, true, 2, 2, 2}},
			{false, true, seen{true, true, 2, 2, 2}},
			{true, false, seen{true, true, 9, 0, 0}},
			{false, false, seen{true, false, 9, 1, 1}},
		}
		if len(out) != len(want) {
			t.Fatalf("%d results for %d items", len(out), len(items))
		}
		for i, w := range want {
			if out[i].Counted != w.counted || (out[i].Err != nil) != w.dropped || got[i] != w.seen {
				t.Errorf("item %d: counted %v, err %v, its update saw %+v; want counted %v, dropped %v, %+v", i, out[i].Counted, out[i].Err, got[i], w.counted, w.dropped, w.seen)
			}
			if w.dropped && vigil.ErrorCode(out[i].Err) != vigil.EINVALID {
				t.Errorf("item %d dropped with %v, want EINVALID", i, out[i].Err)
			}
		}
		for _, k := range []struct {
			epoch   uint32
			pending int
		}{{2, 2}, {9, 1}} {
			a, err := s.PHM.PHMAccount(ctx, "u", k.epoch)
			must(t, err)
			if a.Positives != k.pending || len(a.Pending) != k.pending {
				t.Fatalf("epoch %d: %d positives, %d pending; want %d", k.epoch, a.Positives, len(a.Pending), k.pending)
			}
		}
		if _, err := s.PHM.PHMAccount(ctx, "u", 77); vigil.ErrorCode(err) != vigil.ENOTFOUND {
			t.Fatalf("the epoch a voucher that did not open claimed: %v, want ENOTFOUND", err)
		}
		if left, err := in.PHMInboxNext(ctx, now, 100); err != nil || len(left) != 0 {
			t.Fatalf("%d inbox rows left after the batch (%v)", len(left), err)
		}
	})

	t.Run("AllOrNothing", func(t *testing.T) {
		s, in, rows := setup(t, 3)
		var got [3]seen
		items := []vigil.PHMInboxUpdate{
			{ID: rows[0].ID, Account: "u", Opened: true, Voucher: id(1), Fn: add(id(1), data(1), &got[0])},
			{ID: rows[1].ID, Account: "u", Voucher: id(2), Fn: add(id(2), data(2), &got[1])},
			{ID: rows[2].ID, Account: "u", Opened: true, Voucher: id(3), Fn: func(*vigil.PHMAccount, bool) (*vigil.AuditRecord, error) {
				return nil, errors.New("database is locked")
			}},
		}
		if _, err := s.PHM.ApplyPHMInbox(ctx, items); err == nil {
			t.Fatal("a failing batch succeeded")
		}
		if _, err := s.PHM.PHMAccount(ctx, "u", 0); vigil.ErrorCode(err) != vigil.ENOTFOUND {
			t.Fatalf("a failed batch kept its first item: %v", err)
		}
		if left, err := in.PHMInboxNext(ctx, now, 100); err != nil || len(left) != 3 {
			t.Fatalf("%d inbox rows left after a failed batch (%v), want 3", len(left), err)
		}
		// An audit record that cannot be stored undoes the batch too.
		items[2].Fn = func(a *vigil.PHMAccount, keep bool) (*vigil.AuditRecord, error) {
			a.Positives++
			a.Changes = append(a.Changes, vigil.PHMVoucher{ID: id(3), State: vigil.PHMPending, Data: data(3), N: a.Positives})
			return &vigil.AuditRecord{Action: vigil.AuditPHMReveal, Target: vigil.PHMTarget("u", 0)}, nil // no actor
		}
		if _, err := s.PHM.ApplyPHMInbox(ctx, items); err == nil {
			t.Fatal("a batch whose audit record cannot be stored succeeded")
		}
		if _, err := s.PHM.PHMAccount(ctx, "u", 0); vigil.ErrorCode(err) != vigil.ENOTFOUND {
			t.Fatalf("a failed batch kept its first item: %v", err)
		}
		// Run again as it is, it commits whole.
		items[2].Fn = add(id(3), data(3), &got[2])
		out, err := s.PHM.ApplyPHMInbox(ctx, items)
		must(t, err)
		if !out[0].Counted || out[1].Counted || !out[2].Counted {
			t.Fatalf("batch after its failures: %+v", out)
		}
		if left, err := in.PHMInboxNext(ctx, now, 100); err != nil || len(left) != 0 {
			t.Fatalf("%d inbox rows left (%v)", len(left), err)
		}
	})

	t.Run("Bounds", func(t *testing.T) {
		s := open(t)
		if out, err := s.PHM.ApplyPHMInbox(ctx, nil); err != nil || len(out) != 0 {
			t.Fatalf("an empty batch: %v, %v", out, err)
		}
		many := make([]vigil.PHMInboxUpdate, vigil.MaxPHMInboxBatch+1)
		for i := range many {
			var got seen
			many[i] = vigil.PHMInboxUpdate{ID: int64(i + 1), Account: "u", Fn: add(id(byte(i)), data(1), &got)}
		}
		_, err := s.PHM.ApplyPHMInbox(ctx, many)
		wantCode(t, err, vigil.ETOOLARGE)
		// An account id the inbox would not take is dropped, not stored.
		out, err := s.PHM.ApplyPHMInbox(ctx, []vigil.PHMInboxUpdate{{ID: 1, Account: "", Opened: true, Voucher: id(1), Fn: many[0].Fn}})
		must(t, err)
		if out[0].Counted || vigil.ErrorCode(out[0].Err) != vigil.EINVALID {
			t.Fatalf("an empty account id: %+v", out[0])
		}
	})

	// A voucher that does not open keeps nothing, whatever epoch it
	// claims and however many come: the chaff it writes is the ring's.
	t.Run("NothingKept", func(t *testing.T) {
		s := open(t)
		const n = 2000
		for b := 0; b < n; b += 16 {
			items := make([]vigil.PHMInboxUpdate, 16)
			for i := range items {
				var got seen
				k := b + i
				items[i] = vigil.PHMInboxUpdate{ID: int64(k + 1), Account: fmt.Sprintf("u%d", k%7), Epoch: uint32(k * 7919), Voucher: id(byte(k)), Pad: 5320,
					Fn: add(id(byte(k)), data(byte(k)), &got)}
			}
			out, err := s.PHM.ApplyPHMInbox(ctx, items)
			must(t, err)
			for i, o := range out {
				if o.Counted || o.Err != nil {
					t.Fatalf("item %d: %+v", b+i, o)
				}
			}
		}
		for k := range 7 {
			for _, epoch := range []uint32{0, uint32(k * 7919)} {
				if _, err := s.PHM.PHMAccount(ctx, fmt.Sprintf("u%d", k), epoch); vigil.ErrorCode(err) != vigil.ENOTFOUND {
					t.Fatalf("account u%d/%d after vouchers that did not open: %v", k, epoch, err)
				}
			}
		}
	})
}

// PHMChaffStorm applies n vouchers that did not open, in batches of 16,
// claiming n different epochs over 13 accounts, each with an update that
// would keep a 5,320-byte voucher were the store to let it: what
// TestPHMChaffBound in each store runs before counting its rows (the
// chaff ring at most vigil.PHMChaffSlots, no account or voucher row).
func PHMChaffStorm(t testing.TB, s vigil.PHMService, n int) {
	t.Helper()
	ctx := context.Background()
	keepTrying := func(a *vigil.PHMAccount, keep bool) (*vigil.AuditRecord, error) {
		// What a careless update would keep, were the store to let it.
		a.Positives++
		a.Changes = append(a.Changes, vigil.PHMVoucher{ID: [vigil.PHMVoucherIDLen]byte{1}, State: vigil.PHMPending, Data: make([]byte, 5320), N: a.Positives})
		return nil, nil
	}
	for b := 0; b < n; b += 16 {
		items := make([]vigil.PHMInboxUpdate, min(16, n-b))
		for i := range items {
			k := b + i
			items[i] = vigil.PHMInboxUpdate{ID: int64(k + 1), Account: fmt.Sprintf("acct-%d", k%13), Epoch: uint32(k) * 104729,
				Voucher: [vigil.PHMVoucherIDLen]byte{byte(k), byte(k >> 8)}, Pad: 5320, Fn: keepTrying}
		}
		if _, err := s.ApplyPHMInbox(ctx, items); err != nil {
			t.Fatal(err)
		}
	}
}
