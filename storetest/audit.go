package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/vigil-oss/vigil"
)

// TestAuditService checks that records chain and verify.
func TestAuditService(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	if n, brk, err := s.Audit.VerifyAudit(ctx); err != nil || brk != nil || n != 0 {
		t.Fatalf("empty log: %d %+v %v", n, brk, err)
	}
	var prev string
	for i := range 5 {
		r := &vigil.AuditRecord{Actor: "key:alice", Action: vigil.AuditBankCreate, Target: fmt.Sprintf("bank:b%d", i), Detail: "{}"}
		if err := s.Audit.AppendAudit(ctx, r); err != nil {
			t.Fatal(err)
		}
		if r.Seq != int64(i+1) || r.Hash == "" || r.Hash != r.ComputeHash() || (i > 0 && r.PrevHash != prev) {
			t.Fatalf("record %d: %+v", i, r)
		}
		prev = r.Hash
	}
	recs, err := s.Audit.ListAudit(ctx, 2, 10)
	if err != nil || len(recs) != 3 || recs[0].Seq != 3 || recs[0].Target != "bank:b2" || recs[0].Hash != recs[0].ComputeHash() {
		t.Fatalf("list: %+v %v", recs, err)
	}
	if n, brk, err := s.Audit.VerifyAudit(ctx); err != nil || brk != nil || n != 5 {
		t.Fatalf("verify: %d %+v %v", n, brk, err)
	}
}
