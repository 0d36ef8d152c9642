package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-oss/vigil/internal/cputime"
	"github.com/vigil-oss/vigil/phm"
)

// BenchmarkWorkerVoucher measures the worker's processing of one voucher
// (Submit: open, the account's transaction) in an account holding one
// positive, for a voucher that does not open (miss) and one that does,
// below the threshold (hit), each in a fresh account. The two run in the
// same process.
func BenchmarkWorkerVoucher(b *testing.B) {
	p := phm.DefaultParams
	hitData := pngBytes(b, picture(810, 96))
	firstData := pngBytes(b, picture(811, 96))
	f, s := newFixture(b, p, 0, sha256Key(b, hitData), sha256Key(b, firstData))
	first := f.voucher(b, s, prepare(b, firstData))
	miss := f.voucher(b, s, prepare(b, pngBytes(b, picture(812, 96))))
	hit := f.voucher(b, s, prepare(b, hitData))
	ctx := context.Background()
	n := 0
	for _, c := range []struct {
		name  string
		v     []byte
		opens bool
	}{{"miss", miss, false}, {"hit", hit, true}} {
		b.Run(c.name, func(b *testing.B) {
			cputime.PerOp(b, func() {
				b.StopTimer()
				n++
				acct := fmt.Sprintf("%s-%d", c.name, n)
				if _, err := s.Submit(ctx, acct, first); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if res, err := s.Submit(ctx, acct, c.v); err != nil || res.Opened != c.opens {
					b.Fatal(res, err)
				}
			})
		})
	}
}

// TestInboxHandOffOnGrid checks that the inbox's worker does not recover
// nor reveal as it processes the voucher that crosses the threshold: the
// batch is counted and marks the account due, and the recovery, the
// reveal and the case wait for the worker's next tick on the clock (here
// an hour away).
func TestInboxHandOffOnGrid(t *testing.T) {
	w := newInboxWorld(t)
	ctx := context.Background()
	resp := &blockingResponder{entered: make(chan struct{}), release: make(chan struct{})}
	close(resp.release)
	s := w.start(t, resp)
	s.Inbox.HandOffEvery = time.Hour
	if err := s.Receive(ctx, "u", append(append([][]byte{}, w.matching...), w.other...)); err != nil {
		t.Fatal(err)
	}
	stop := run(t, s)
	s.Wake()
	waitFor(t, "the inbox to empty", func() bool { return depth(t, s) == 0 })
	stop()
	st, err := s.Store.PHMAccount(ctx, "u", 0)
	if err != nil || st.Key != nil || !st.Due || len(st.Pending) != w.p.T+1 {
		t.Fatalf("account after its batches: %v, %v; want due, not recovered, %d pending", st != nil && st.Key != nil, err, w.p.T+1)
	}
	rev, err := s.Store.PHMRevealed(ctx, 100)
	if err != nil || len(rev) != 0 || resp.calls() != 0 || s.Inbox.HandedOn() != 0 {
		t.Fatalf("%d revealed waiting (%v), %d cases, %d handed on; want nothing revealed and no case yet", len(rev), err, resp.calls(), s.Inbox.HandedOn())
	}
	// The next tick recovers, reveals and opens the case.
	if n, err := s.tick(ctx); err != nil || n != w.p.T+1 || resp.calls() != 1 {
		t.Fatalf("tick: %d, %v, %d cases", n, err, resp.calls())
	}
	if st, err := s.Store.PHMAccount(ctx, "u", 0); err != nil || st.Key == nil || st.Due || len(st.Pending) != 0 {
		t.Fatalf("account after the tick: %+v, %v; want recovered, nothing pending", st, err)
	}
}
