package storetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestPHMService tests the private hash matching service's account state:
// vouchers counted once (a replay is refused without calling the update),
// pending data kept byte for byte, recovery with its audit record in the
// same transaction, revealed payloads kept until handled, and nothing
// stored when the update fails or breaks the states' rules.
func TestPHMService(t *testing.T, open Opener) {
	ctx := context.Background()
	id := func(b byte) [vigil.PHMVoucherIDLen]byte { return [vigil.PHMVoucherIDLen]byte{b, 0xa5, b} }
	data := func(b byte) []byte { return bytes.Repeat([]byte{b}, 5000) }
	// addPending is the update of a voucher below the threshold.
	addPending := func(v [vigil.PHMVoucherIDLen]byte, d []byte) func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
		return func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
			a.Positives++
			a.Changes = append(a.Changes, vigil.PHMVoucher{ID: v, State: vigil.PHMPending, Data: d, N: a.Positives})
			return nil, nil
		}
	}

	t.Run("CountOnce", func(t *testing.T) {
		s := open(t)
		_, err := s.PHM.PHMAccount(ctx, "u1", 0)
		wantCode(t, err, vigil.ENOTFOUND)
		for i := range 3 {
			ok, err := s.PHM.UpdatePHMAccount(ctx, "u1", 0, id(byte(i)), func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
				if a.Positives != i || len(a.Pending) != i || a.Key != nil || a.Account != "u1" {
					t.Fatalf("voucher %d sees %d positives, %d pending", i, a.Positives, len(a.Pending))
				}
				for j, p := range a.Pending {
					if p.ID != id(byte(j)) || p.N != j+1 || p.State != vigil.PHMPending || !bytes.Equal(p.Data, data(byte(j))) {
						t.Fatalf("pending %d came back as %x n %d %s, %d bytes", j, p.ID, p.N, p.State, len(p.Data))
					}
				}
				return addPending(id(byte(i)), data(byte(i)))(a)
			})
			must(t, err)
			if !ok {
				t.Fatalf("voucher %d not counted", i)
			}
		}
		called := false
		ok, err := s.PHM.UpdatePHMAccount(ctx, "u1", 0, id(1), func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
			called = true
			return addPending(id(1), data(1))(a)
		})
		must(t, err)
		if ok || called {
			t.Fatalf("a replayed voucher was counted %v, its update called %v", ok, called)
		}
		a, err := s.PHM.PHMAccount(ctx, "u1", 0)
		must(t, err)
		if a.Positives != 3 || len(a.Pending) != 3 {
			t.Fatalf("after a replay: %d positives, %d pending", a.Positives, len(a.Pending))
		}
		// The same id in another epoch or account is another voucher.
		for _, k := range []struct {
			acct  string
			epoch uint32
		}{{"u1", 1}, {"u2", 0}} {
			ok, err := s.PHM.UpdatePHMAccount(ctx, k.acct, k.epoch, id(1), addPending(id(1), data(9)))
			must(t, err)
			if !ok {
				t.Fatalf("%s epoch %d: voucher of another account's id not counted", k.acct, k.epoch)
			}
			a, err := s.PHM.PHMAccount(ctx, k.acct, k.epoch)
			must(t, err)
			if a.Positives != 1 || len(a.Pending) != 1 {
				t.Fatalf("%s epoch %d: %d positives", k.acct, k.epoch, a.Positives)
			}
		}
	})

	t.Run("NothingStoredOnFailure", func(t *testing.T) {
		s := open(t)
		ok, err := s.PHM.UpdatePHMAccount(ctx, "u", 0, id(1), addPending(id(1), data(1)))
		must(t, err)
		if !ok {
			t.Fatal("not counted")
		}
		boom := errors.New("boom")
		_, err = s.PHM.UpdatePHMAccount(ctx, "u", 0, id(2), func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
			addPending(id(2), data(2))(a)
			return nil, boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("update error not returned: %v", err)
		}
		bad := []func(a *vigil.PHMAccount){
			func(a *vigil.PHMAccount) { a.Changes[0].Data = nil },                                    // pending without its header
			func(a *vigil.PHMAccount) { a.Changes[0].Data = make([]byte, vigil.MaxPHMDataLen+1) },    // over the limit
			func(a *vigil.PHMAccount) { a.Changes[0].State = vigil.PHMHandled },                      // handled keeps no data
			func(a *vigil.PHMAccount) { a.Changes[0].State = "opened" },                              // no such state
			func(a *vigil.PHMAccount) { a.Changes[0].N = 7 },                                         // numbered past the count
			func(a *vigil.PHMAccount) { a.Changes[0].ID = id(3) },                                    // neither submitted nor pending
			func(a *vigil.PHMAccount) { a.Changes = append(a.Changes, a.Changes[0]) },                // twice
			func(a *vigil.PHMAccount) { a.Key = make([]byte, vigil.MaxPHMKeyLen+1) },                 // key over the limit
			func(a *vigil.PHMAccount) { a.Positives = -1 },                                           // negative count
			func(a *vigil.PHMAccount) { a.Changes = append(a.Changes, vigil.PHMVoucher{ID: id(1)}) }, // a pending one to no state
			func(a *vigil.PHMAccount) {
				a.Changes[0].State, a.Changes[0].Data, a.Changes[0].N = vigil.PHMDropped, nil, 0
			}, // numbered 0
		}
		for i, f := range bad {
			v := id(byte(10 + i))
			_, err := s.PHM.UpdatePHMAccount(ctx, "u", 0, v, func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
				addPending(v, data(2))(a)
				f(a)
				return nil, nil
			})
			wantCode(t, err, vigil.EINVALID)
		}
		a, err := s.PHM.PHMAccount(ctx, "u", 0)
		must(t, err)
		if a.Positives != 1 || len(a.Pending) != 1 || a.Key != nil {
			t.Fatalf("failed updates stored something: %d positives, %d pending", a.Positives, len(a.Pending))
		}
		// The voucher whose update failed was not recorded: it counts now.
		ok, err = s.PHM.UpdatePHMAccount(ctx, "u", 0, id(2), addPending(id(2), data(2)))
		must(t, err)
		if !ok {
			t.Fatal("a voucher whose first update failed is refused as a replay")
		}
		// An update that records nothing leaves the voucher unrecorded.
		ok, err = s.PHM.UpdatePHMAccount(ctx, "u", 0, id(4), func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) { return nil, nil })
		must(t, err)
		if ok {
			t.Fatal("a voucher left out of the changes counted")
		}
		for _, acct := range []string{"", strings.Repeat("a", vigil.MaxPHMAccountLen+1), "a\nb"} {
			_, err := s.PHM.UpdatePHMAccount(ctx, acct, 0, id(1), addPending(id(1), data(1)))
			wantCode(t, err, vigil.EINVALID)
		}
	})

	t.Run("RecoverRevealHandle", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		for i := range 4 {
			_, err := s.PHM.UpdatePHMAccount(ctx, "u", 3, id(byte(i)), addPending(id(byte(i)), data(byte(i))))
			must(t, err)
			clock.Advance(time.Second)
		}
		before, err := s.Audit.ListAudit(ctx, 0, 1000)
		must(t, err)
		recovered := clock.Now()
		// A failing audit record undoes the recovery with it.
		_, err = s.PHM.UpdatePHMAccount(ctx, "u", 3, id(4), func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
			a.Key = []byte("sealed key")
			return &vigil.AuditRecord{Action: vigil.AuditPHMReveal, Target: vigil.PHMTarget("u", 3)}, nil // no actor
		})
		if err == nil {
			t.Fatal("a recovery whose audit record cannot be stored was stored")
		}
		ok, err := s.PHM.UpdatePHMAccount(ctx, "u", 3, id(4), func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
			a.Positives++
			a.Key, a.RecoveredAt = []byte("sealed key"), &recovered
			for _, p := range a.Pending {
				st, d := vigil.PHMRevealed, append([]byte("payload "), p.Data[0])
				if p.N == 2 {
					st, d = vigil.PHMDropped, nil // synthetic
				}
				a.Changes = append(a.Changes, vigil.PHMVoucher{ID: p.ID, State: st, Data: d})
			}
			a.Changes = append(a.Changes, vigil.PHMVoucher{ID: id(4), State: vigil.PHMRevealed, Data: []byte("payload 4"), N: a.Positives})
			return &vigil.AuditRecord{Actor: "phm", Action: vigil.AuditPHMReveal, Target: vigil.PHMTarget("u", 3), Detail: `{"vouchers":4}`}, nil
		})
		must(t, err)
		if !ok {
			t.Fatal("not counted")
		}
		a, err := s.PHM.PHMAccount(ctx, "u", 3)
		must(t, err)
		if a.Positives != 5 || string(a.Key) != "sealed key" || a.RecoveredAt == nil || !a.RecoveredAt.Equal(recovered) || len(a.Pending) != 0 {
			t.Fatalf("recovered account: %d positives, key %q, at %v, %d pending", a.Positives, a.Key, a.RecoveredAt, len(a.Pending))
		}
		after, err := s.Audit.ListAudit(ctx, 0, 1000)
		must(t, err)
		if len(after) != len(before)+1 || after[len(after)-1].Action != vigil.AuditPHMReveal || after[len(after)-1].Target != "phm:u/3" {
			t.Fatalf("audit after the reveal: %d records, was %d", len(after), len(before))
		}
		rev, err := s.PHM.PHMRevealed(ctx, 100)
		must(t, err)
		var got []string
		for _, r := range rev {
			if r.Account != "u" || r.Epoch != 3 || r.State != vigil.PHMRevealed {
				t.Fatalf("revealed %+v", r)
			}
			got = append(got, string(r.Data))
		}
		if strings.Join(got, ",") != "payload \x00,payload \x02,payload \x03,payload 4" {
			t.Fatalf("revealed payloads %q", got)
		}
		// Handled: the payloads are forgotten, the ids still refuse replays.
		must(t, s.PHM.MarkPHMHandled(ctx, "u", 3, [][vigil.PHMVoucherIDLen]byte{id(0), id(4), id(1)}, []int{40, 40}))
		rev, err = s.PHM.PHMRevealed(ctx, 100)
		must(t, err)
		if len(rev) != 2 || rev[0].ID != id(2) || rev[1].ID != id(3) {
			t.Fatalf("after handling two: %+v", rev)
		}
		for _, v := range []byte{0, 1, 4} {
			ok, err := s.PHM.UpdatePHMAccount(ctx, "u", 3, id(v), func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
				t.Fatalf("replay of %d called the update", v)
				return nil, nil
			})
			must(t, err)
			if ok {
				t.Fatalf("replay of %d counted", v)
			}
		}
		// Past recovery a voucher may wait pending for the hand-off grid.
		ok, err = s.PHM.UpdatePHMAccount(ctx, "u", 3, id(5), func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
			a.Due = true
			return addPending(id(5), data(5))(a)
		})
		must(t, err)
		if a, err := s.PHM.PHMAccount(ctx, "u", 3); err != nil || !ok || len(a.Pending) != 1 || !a.Due || string(a.Key) != "sealed key" {
			t.Fatalf("a voucher pending in a recovered account: %v, %+v", err, a)
		}
	})

	t.Run("DueRecoverChaff", func(t *testing.T) {
		s := open(t)
		due, err := s.PHM.PHMDue(ctx, 10)
		must(t, err)
		if len(due) != 0 {
			t.Fatalf("due in an empty store: %+v", due)
		}
		err = s.PHM.RecoverPHMAccount(ctx, "none", 0, func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
			t.Fatal("fn called for an account that has no state")
			return nil, nil
		})
		wantCode(t, err, vigil.ENOTFOUND)
		for i := range 3 {
			_, err := s.PHM.UpdatePHMAccount(ctx, "d", 1, id(byte(i)), func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
				a.Due = i == 2
				return addPending(id(byte(i)), data(byte(i)))(a)
			})
			must(t, err)
		}
		_, err = s.PHM.UpdatePHMAccount(ctx, "e", 0, id(9), addPending(id(9), data(9)))
		must(t, err)
		due, err = s.PHM.PHMDue(ctx, 10)
		must(t, err)
		if len(due) != 1 || due[0] != (vigil.PHMDueAccount{Account: "d", Epoch: 1}) {
			t.Fatalf("due: %+v, want d/1 alone", due)
		}
		// A failing fn, changes of a voucher not pending, or bad chaff
		// store nothing.
		boom := errors.New("boom")
		err = s.PHM.RecoverPHMAccount(ctx, "d", 1, func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) { return nil, boom })
		if !errors.Is(err, boom) {
			t.Fatalf("fn's error: %v", err)
		}
		for _, f := range []func(a *vigil.PHMAccount){
			func(a *vigil.PHMAccount) {
				a.Changes = append(a.Changes, vigil.PHMVoucher{ID: id(7), State: vigil.PHMRevealed, Data: []byte("x"), N: 1})
			},
			func(a *vigil.PHMAccount) {
				a.Changes = append(a.Changes, vigil.PHMVoucher{State: vigil.PHMDropped, N: 1})
			},
			func(a *vigil.PHMAccount) { a.Chaff = []int{vigil.MaxPHMDataLen + 65} },
		} {
			err = s.PHM.RecoverPHMAccount(ctx, "d", 1, func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
				a.Due = false
				f(a)
				return nil, nil
			})
			wantCode(t, err, vigil.EINVALID)
		}
		before, err := s.Audit.ListAudit(ctx, 0, 1000)
		must(t, err)
		at := time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)
		err = s.PHM.RecoverPHMAccount(ctx, "d", 1, func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
			if len(a.Pending) != 3 || !a.Due || a.Positives != 3 {
				t.Fatalf("state given: %d pending, due %v, %d positives", len(a.Pending), a.Due, a.Positives)
			}
			a.Due, a.Key, a.RecoveredAt = false, []byte("sealed key"), &at
			for _, p := range a.Pending {
				st, d := vigil.PHMRevealed, []byte{'p', p.Data[0]}
				if p.N == 2 {
					st, d = vigil.PHMDropped, nil
				}
				a.Changes = append(a.Changes, vigil.PHMVoucher{ID: p.ID, State: st, Data: d})
			}
			a.Chaff = []int{100, 0}
			return &vigil.AuditRecord{Actor: "phm", Action: vigil.AuditPHMReveal, Target: vigil.PHMTarget("d", 1)}, nil
		})
		must(t, err)
		a, err := s.PHM.PHMAccount(ctx, "d", 1)
		must(t, err)
		if a.Due || string(a.Key) != "sealed key" || !a.RecoveredAt.Equal(at) || len(a.Pending) != 0 || a.Positives != 3 {
			t.Fatalf("after the recovery: %+v", a)
		}
		rev, err := s.PHM.PHMRevealed(ctx, 10)
		must(t, err)
		if len(rev) != 2 || string(rev[0].Data) != "p\x00" || string(rev[1].Data) != "p\x02" {
			t.Fatalf("revealed: %+v", rev)
		}
		after, err := s.Audit.ListAudit(ctx, 0, 1000)
		must(t, err)
		if len(after) != len(before)+1 || after[len(after)-1].Action != vigil.AuditPHMReveal {
			t.Fatalf("audit after the recovery: %d records, was %d", len(after), len(before))
		}
		due, err = s.PHM.PHMDue(ctx, 10)
		must(t, err)
		if len(due) != 0 {
			t.Fatalf("due after the recovery: %+v", due)
		}
		// Chaff: bounded rows, in one transaction, refused out of bounds.
		must(t, s.PHM.WritePHMChaff(ctx, []int{10, 5000, 0}))
		wantCode(t, s.PHM.WritePHMChaff(ctx, nil), vigil.EINVALID)
		wantCode(t, s.PHM.WritePHMChaff(ctx, make([]int, vigil.MaxPHMChaffRows+1)), vigil.EINVALID)
		wantCode(t, s.PHM.WritePHMChaff(ctx, []int{-1}), vigil.EINVALID)
		wantCode(t, s.PHM.MarkPHMHandled(ctx, "d", 1, nil, []int{vigil.MaxPHMDataLen + 65}), vigil.EINVALID)
	})
}
