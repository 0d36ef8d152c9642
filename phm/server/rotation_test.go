package server

import (
	"context"
	"crypto/hpke"
	"crypto/rand"
	"testing"

	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/phmtest"
)

// TestRotation: the table and the review key rotate while an account holds
// pending vouchers made against the old ones. With the old opener and
// review key kept as Previous and PreviousReview, the old vouchers still
// count (once: a replay of one after the rotation counts nothing), the
// next match recovers the account, and every payload opens, whichever key
// it was sealed to; a recovered account whose key was sealed to the old
// review key keeps working. Without them an old voucher opens nothing (it
// looks like any non-match: the service cannot tell), and an account key
// sealed to a dropped review key is refused with an error, never counted
// anew.
func TestRotation(t *testing.T) {
	ctx := context.Background()
	p := phm.Params{T: 2, S: 4}
	real, keys := listedImages(t, p.T+2, 600)
	old, cur := phmtest.NewTable(t, keys...), phmtest.NewTable(t, keys...)
	oldReview, curReview := phmtest.ReviewKey(t), phmtest.ReviewKey(t)
	oldOpener, err := NewOpener(old.Alpha, p)
	if err != nil {
		t.Fatal(err)
	}
	curOpener, err := NewOpener(cur.Alpha, p)
	if err != nil {
		t.Fatal(err)
	}
	store := openStore(t, t.TempDir())
	acct := newAccount(t, p)
	voucher := func(tbl phm.Table, review hpke.PrivateKey, data []byte) []byte {
		t.Helper()
		v, err := acct.NewVoucher(tbl, review.PublicKey(), prepare(t, data), "att", rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := &Service{Opener: oldOpener, Review: oldReview, Store: store, Banks: &banks{}}
	first := voucher(old, oldReview, real[0])
	for _, v := range [][]byte{first, voucher(old, oldReview, real[1])} {
		if res, err := before.Submit(ctx, "u", v); err != nil || !res.Opened || res.Recovered {
			t.Fatalf("before the rotation: %+v %v", res, err)
		}
	}
	// The rotation: a new table and review key; the old ones kept.
	after := &Service{Opener: curOpener, Review: curReview, Store: store, Banks: &banks{}, Previous: []*Opener{oldOpener}, PreviousReview: []hpke.PrivateKey{oldReview}}
	if res, err := after.Submit(ctx, "u", first); err != nil || !res.Replay || res.Positives != 2 {
		t.Fatalf("replay across the rotation: %+v %v", res, err)
	}
	// A device still on the old table, one already on the new: both open.
	stale := voucher(old, oldReview, real[2])
	strict := &Service{Opener: curOpener, Review: curReview, Store: store, Banks: &banks{}}
	if res, err := strict.Submit(ctx, "u", stale); err != nil || res.Opened {
		t.Fatalf("an old-table voucher without Previous: %+v %v", res, err)
	}
	res, err := after.Submit(ctx, "u", stale)
	if err != nil || !res.Recovered || len(res.Revealed) != p.T+1 {
		t.Fatalf("recovery across the rotation: %+v %v", res, err)
	}
	// The account key is now sealed to the current review key; a later
	// match made against the new table opens under the current keys.
	if res, err := strict.Submit(ctx, "u", voucher(cur, curReview, real[3])); err != nil || len(res.Revealed) != 1 {
		t.Fatalf("after recovery: %+v %v", res, err)
	}

	// An account recovered under the old review key, then the review key
	// rotated: kept as PreviousReview it still opens; dropped, the
	// voucher is counted (the batch does not open the key) but its
	// reveal fails, as an error, and it waits, due, until a service that
	// holds the key takes it up: never a fresh account.
	acct = newAccount(t, p)
	for i := range p.T + 1 {
		if _, err := before.Submit(ctx, "w", voucher(old, oldReview, real[i])); err != nil {
			t.Fatal(err)
		}
	}
	late := voucher(old, oldReview, real[p.T+1])
	dropped := &Service{Opener: oldOpener, Review: curReview, Store: store, Banks: &banks{}}
	if _, err := dropped.Submit(ctx, "w", late); err == nil {
		t.Fatal("an account key sealed to a dropped review key was accepted")
	}
	if st, _ := store.PHMAccount(ctx, "w", 0); st.Positives != p.T+2 || len(st.Pending) != 1 || !st.Due || st.Key == nil {
		t.Fatalf("the voucher whose reveal failed: %d positives, %d pending, due %v", st.Positives, len(st.Pending), st.Due)
	}
	kept := &Service{Opener: oldOpener, Review: curReview, Store: store, Banks: &banks{}, PreviousReview: []hpke.PrivateKey{oldReview}}
	if res, err := kept.Submit(ctx, "w", late); err != nil || !res.Replay {
		t.Fatalf("the same voucher again, with the old review key kept: %+v %v", res, err)
	}
	if n, err := kept.Resume(ctx); err != nil || n != 1 {
		t.Fatalf("with the old review key kept, the waiting voucher: %d handed on, %v", n, err)
	}
}
