package postgres

import (
	"context"
	"fmt"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/pgtest"
)

// TestPHMChaffBound: 10,000 vouchers that did not open, claiming 10,000
// epochs, leave no account or voucher row, and the chaff ring at its
// PHMChaffSlots rows: the store does not grow with what clients send.
func TestPHMChaffBound(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 items")
	}
	ctx := context.Background()
	db, err := Open(ctx, pgtest.SchemaURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := NewPHMService(db)
	keepTrying := func(a *vigil.PHMAccount, keep bool) (*vigil.AuditRecord, error) {
		// What a careless update would keep, were the store to let it.
		a.Positives++
		a.Changes = append(a.Changes, vigil.PHMVoucher{ID: [vigil.PHMVoucherIDLen]byte{1}, State: vigil.PHMPending, Data: make([]byte, 5320), N: a.Positives})
		return nil, nil
	}
	const n = 10000
	for b := 0; b < n; b += 16 {
		items := make([]vigil.PHMInboxUpdate, 16)
		for i := range items {
			k := b + i
			items[i] = vigil.PHMInboxUpdate{ID: int64(k + 1), Account: fmt.Sprintf("acct-%d", k%13), Epoch: uint32(k) * 104729,
				Voucher: [vigil.PHMVoucherIDLen]byte{byte(k), byte(k >> 8)}, Pad: 5320, Fn: keepTrying}
		}
		if _, err := s.ApplyPHMInbox(ctx, items); err != nil {
			t.Fatal(err)
		}
	}
	var chaff, accounts, vouchers int
	if err := db.pool.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM phm_chaff), (SELECT COUNT(*) FROM phm_accounts), (SELECT COUNT(*) FROM phm_vouchers)`).Scan(&chaff, &accounts, &vouchers); err != nil {
		t.Fatal(err)
	}
	if chaff > vigil.PHMChaffSlots || accounts != 0 || vouchers != 0 {
		t.Fatalf("after %d vouchers that did not open: %d chaff rows (bound %d), %d account rows, %d voucher rows", n, chaff, vigil.PHMChaffSlots, accounts, vouchers)
	}
}
