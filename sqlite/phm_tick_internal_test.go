package sqlite

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// TestPHMTickStoreWork measures the SQL of the hand-off grid's recovery
// slot (phm/server's tick): a crossing's RecoverPHMAccount (t + 1 = 3
// pending revealed, the key stored, chaff to t + s + 1 = 7 changes, the
// reveal's audit record) against a slot with nothing due (WritePHMChaff of
// the same rows and bytes). Each is one transaction; the statements,
// reads and rows are logged, not compared: the real slot reads the
// account and its pending rows and writes the account row and the audit
// record, which the chaff does not (docs/benchmarks.md, phm-tick).
func TestPHMTickStoreWork(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := &countingDB{shared: db.shared()}
	s := sqlstore.NewPHMService(c)
	const payload, key = 5232, 1168 // a sealed payload, a sealed account key
	for i := range 3 {
		id := [vigil.PHMVoucherIDLen]byte{byte(i), 1}
		if _, err := s.UpdatePHMAccount(ctx, "a", 0, id, func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
			a.Positives++
			a.Due = i == 2
			a.Changes = append(a.Changes, vigil.PHMVoucher{ID: id, State: vigil.PHMPending, Data: bytes.Repeat([]byte{byte(i)}, 5320), N: a.Positives})
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	c.work = storeWork{}
	at := time.Now()
	if err := s.RecoverPHMAccount(ctx, "a", 0, func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
		a.Due, a.Key, a.RecoveredAt = false, make([]byte, key), &at
		for _, p := range a.Pending {
			a.Changes = append(a.Changes, vigil.PHMVoucher{ID: p.ID, State: vigil.PHMRevealed, Data: make([]byte, payload)})
		}
		a.Chaff = []int{0, 0, 0, 0}
		return &vigil.AuditRecord{Actor: "phm", Action: vigil.AuditPHMReveal, Target: vigil.PHMTarget("a", 0)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	real := c.work
	c.work = storeWork{}
	if err := s.WritePHMChaff(ctx, []int{payload, payload, payload, 0, 0, 0, 0, key}); err != nil {
		t.Fatal(err)
	}
	dummy := c.work
	if real.Tx != 1 || dummy.Tx != 1 {
		t.Fatalf("transactions: %d for the recovery, %d for the chaff; want one each", real.Tx, dummy.Tx)
	}
	t.Logf("recovery slot, real:  %+v", real)
	t.Logf("recovery slot, chaff: %+v", dummy)
}
