package postgres

import (
	"context"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/pgtest"
	"github.com/vigil-oss/vigil/storetest"
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
	const n = 10000
	storetest.PHMChaffStorm(t, NewPHMService(db), n)
	var chaff, accounts, vouchers int
	if err := db.pool.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM phm_chaff), (SELECT COUNT(*) FROM phm_accounts), (SELECT COUNT(*) FROM phm_vouchers)`).Scan(&chaff, &accounts, &vouchers); err != nil {
		t.Fatal(err)
	}
	if chaff > vigil.PHMChaffSlots || accounts != 0 || vouchers != 0 {
		t.Fatalf("after %d vouchers that did not open: %d chaff rows (bound %d), %d account rows, %d voucher rows", n, chaff, vigil.PHMChaffSlots, accounts, vouchers)
	}
}
