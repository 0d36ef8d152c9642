package sqlite_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlite"
)

// BenchmarkAuditedWrite measures an audited change (a bank update) with
// its record written in the change's transaction (WithAudit) against the
// baseline: the change, then the record appended in a second transaction,
// as handlers did before.
func BenchmarkAuditedWrite(b *testing.B) {
	ctx := context.Background()
	db := MustOpenDB(b)
	banks, audit := sqlite.NewBankService(db), sqlite.NewAuditService(db)
	bank := &vigil.Bank{Name: "bench", Enabled: true}
	if err := banks.CreateBank(ctx, bank); err != nil {
		b.Fatal(err)
	}
	rec := func(i int) *vigil.AuditRecord {
		return &vigil.AuditRecord{Actor: "key:1:bench", Action: vigil.AuditBankUpdate, Target: "bank:bench", Detail: `{"n":` + strconv.Itoa(i) + `}`}
	}
	upd := func(i int) vigil.BankUpdate {
		d := strconv.Itoa(i)
		return vigil.BankUpdate{Description: &d}
	}
	b.Run("baseline", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if _, err := banks.UpdateBank(ctx, bank.ID, upd(i)); err != nil {
				b.Fatal(err)
			}
			if err := audit.AppendAudit(ctx, rec(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("WithAudit", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if _, err := banks.UpdateBank(vigil.WithAudit(ctx, rec(i)), bank.ID, upd(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
