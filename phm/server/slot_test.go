package server

import (
	"context"
	"encoding/binary"
	"testing"

	vigil "github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/phm"
)

// itemSeen is what one item of a batch handed the store, and what its
// update was given and did, as batchRecorder sees it.
type itemSeen struct {
	Opened    bool
	Pad       int
	Calls     int  // runs of its update
	Keep      bool // what the store told it
	Pending   int  // pending vouchers in the state it was given
	Positives int
	Data      int // bytes of the changes it made
}

// batchRecorder records the batches a service hands its store.
type batchRecorder struct {
	vigil.PHMService
	batches [][]*itemSeen
}

func (r *batchRecorder) ApplyPHMInbox(ctx context.Context, items []vigil.PHMInboxUpdate) ([]vigil.PHMInboxApplied, error) {
	var seen []*itemSeen
	for i := range items {
		it := &itemSeen{Opened: items[i].Opened, Pad: items[i].Pad}
		seen = append(seen, it)
		fn := items[i].Fn
		items[i].Fn = func(a *vigil.PHMAccount, keep bool) (*vigil.AuditRecord, error) {
			it.Calls++
			it.Keep, it.Pending, it.Positives = keep, len(a.Pending), a.Positives
			rec, err := fn(a, keep)
			it.Data = 0
			for _, c := range a.Changes {
				it.Data += len(c.Data)
			}
			return rec, err
		}
	}
	r.batches = append(r.batches, seen)
	return r.PHMService.ApplyPHMInbox(ctx, items)
}

// TestVoucherWorkAlike: below the threshold the service hands the store
// the same work for every voucher whatever it opens to: one batch, one
// run of the update, given the account's state (a voucher that did not
// open, its latest epoch's: the same pending vouchers restored), the same
// chaff size; and a positive's kept change is exactly that size, so that
// what the store writes for it (sqlite's TestPHMBatchStoreWork) is what
// it writes for the others. On main a voucher that did not open never
// reached the store.
func TestVoucherWorkAlike(t *testing.T) {
	p := phm.Params{T: 3, S: 4}
	var hits [][]byte
	var keys []phm.Key
	for i := range 3 {
		hits = append(hits, pngBytes(t, picture(830+i, 96)))
		keys = append(keys, sha256Key(t, hits[i]))
	}
	f, s := newFixture(t, p, 0, keys...)
	rec := &batchRecorder{PHMService: s.Store}
	s.Store = rec
	ctx := context.Background()
	first := f.voucher(t, s, prepare(t, hits[0]))
	if res, err := s.Submit(ctx, "a", first); err != nil || !res.Opened || res.Positives != 1 {
		t.Fatalf("first positive: %+v, %v", res, err)
	}
	miss := f.voucher(t, s, prepare(t, pngBytes(t, picture(930, 80))))
	cases := []struct {
		name, account string
		v             []byte
		opened, kept  bool
		pending       int
	}{
		{"not opened", "a", miss, false, false, 1},
		{"first of an epoch", "b", f.voucher(t, s, prepare(t, hits[1])), true, true, 0},
		{"later positive", "a", f.voucher(t, s, prepare(t, hits[2])), true, true, 1},
		{"replayed positive", "a", first, true, false, 2},
		{"not a voucher", "a", miss[:len(miss)-1], false, false, 2},
	}
	for _, tc := range cases {
		rec.batches = nil
		res, err := s.Submit(ctx, tc.account, tc.v)
		if tc.name == "not a voucher" {
			if vigil.ErrorCode(err) != vigil.EINVALID {
				t.Fatalf("%s: %v, want EINVALID", tc.name, err)
			}
		} else if err != nil || res.Opened != tc.opened || res.Replay != (tc.opened && !tc.kept) {
			t.Fatalf("%s: %+v, %v", tc.name, res, err)
		}
		if len(rec.batches) != 1 || len(rec.batches[0]) != 1 {
			t.Fatalf("%s: %d batches, want one of one item", tc.name, len(rec.batches))
		}
		it := rec.batches[0][0]
		if it.Calls != 1 || it.Pad != p.HeaderPlainSize() || it.Opened != tc.opened || it.Keep != tc.kept || it.Pending != tc.pending {
			t.Errorf("%s: %+v; want one run given %d pending, pad %d, opened %v, keep %v", tc.name, it, tc.pending, p.HeaderPlainSize(), tc.opened, tc.kept)
		}
		if want := map[bool]int{true: it.Pad, false: 0}[tc.kept]; it.Data != want {
			t.Errorf("%s: its update changed %d bytes, want %d", tc.name, it.Data, want)
		}
	}
	for acct, want := range map[string]int{"a": 2, "b": 1} {
		st, err := rec.PHMService.PHMAccount(ctx, acct, 0)
		if err != nil || st.Positives != want || len(st.Pending) != want {
			t.Fatalf("account %s: %+v, %v; want %d positives pending", acct, st, err, want)
		}
	}
}

// TestInboxNonPositivesKeepNothing: vouchers that do not open, each
// claiming an epoch of the client's choosing, go through the inbox's
// worker in batches and leave no account behind, in any epoch they
// named; the account's one positive counts once.
func TestInboxNonPositivesKeepNothing(t *testing.T) {
	w := newInboxWorld(t)
	s := w.start(t, &responder{})
	ctx := context.Background()
	const n = 40
	var batch [][]byte
	epochs := map[uint32]bool{}
	for i := range n {
		v := append([]byte(nil), w.other[i%len(w.other)]...)
		e := uint32(i)*2654435761 + 1
		binary.BigEndian.PutUint32(v[1:1+phm.EpochSize], e)
		epochs[e] = true
		batch = append(batch, v)
	}
	batch = append(batch, w.matching[0])
	for len(batch) > 0 {
		k := min(len(batch), vigil.MaxPHMInboxAppend)
		if err := s.Receive(ctx, "u", batch[:k]); err != nil {
			t.Fatal(err)
		}
		batch = batch[k:]
	}
	stop := run(t, s)
	s.Wake()
	waitFor(t, "the inbox to empty", func() bool { return depth(t, s) == 0 })
	stop()
	if got := s.Inbox.Processed(); got != n+1 {
		t.Fatalf("processed %d, want %d", got, n+1)
	}
	for e := range epochs {
		if _, err := s.Store.PHMAccount(ctx, "u", e); vigil.ErrorCode(err) != vigil.ENOTFOUND {
			t.Fatalf("account u/%d, an epoch only a voucher that did not open named: %v", e, err)
		}
	}
	st, err := s.Store.PHMAccount(ctx, "u", 0)
	if err != nil || st.Positives != 1 {
		t.Fatalf("account u/0: %+v, %v", st, err)
	}
}
