package storetest

import (
	"context"
	"encoding/json"
	"errors"
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

// TestAuditWithChange checks that a record attached to a write
// (vigil.WithAudit) is stored in the write's transaction: with the change
// when the write succeeds, and not at all, the change neither, when the
// record cannot be stored.
func TestAuditWithChange(t *testing.T, open Opener) {
	ctx := context.Background()
	const (
		md5a = "00000000000000000000000000000001"
		md5b = "00000000000000000000000000000002"
		md5c = "00000000000000000000000000000003"
	)
	errBoom := errors.New("boom")
	failing := func() *vigil.AuditRecord {
		return &vigil.AuditRecord{Actor: "key:1:alice", Action: "test.fail", Target: "x",
			Complete: func(*vigil.AuditRecord) error { return errBoom }}
	}
	logLen := func(t *testing.T, s Services) int {
		t.Helper()
		recs, err := s.Audit.ListAudit(ctx, 0, 1000)
		must(t, err)
		return len(recs)
	}

	t.Run("StoredWithChange", func(t *testing.T) {
		s := open(t)
		b := &vigil.Bank{Name: "audited", Enabled: true}
		rec := &vigil.AuditRecord{Actor: "key:1:alice", Action: vigil.AuditBankCreate, Target: "bank:audited"}
		// Complete runs after the change: it sees the new bank's id.
		rec.Complete = func(r *vigil.AuditRecord) error { return r.SetDetail(map[string]int64{"id": b.ID}) }
		actx := vigil.WithAudit(ctx, rec)
		must(t, s.Banks.CreateBank(actx, b))
		if rec.Seq == 0 || vigil.PendingAudit(actx) != nil {
			t.Fatalf("record not written: %+v", rec)
		}
		// A second write with the same context does not write it again.
		_, err := s.Banks.UpdateBank(actx, b.ID, vigil.BankUpdate{Description: ptr("d")})
		must(t, err)
		recs, err := s.Audit.ListAudit(ctx, 0, 10)
		must(t, err)
		if len(recs) != 1 || recs[0].Target != "bank:audited" || recs[0].Detail != fmt.Sprintf(`{"id":%d}`, b.ID) || recs[0].Hash != rec.Hash {
			t.Fatalf("log: %+v", recs)
		}
		if n, brk, err := s.Audit.VerifyAudit(ctx); err != nil || brk != nil || n != 1 {
			t.Fatalf("verify: %d %+v %v", n, brk, err)
		}
	})

	t.Run("ResultInDetail", func(t *testing.T) {
		s := open(t)
		b := &vigil.Bank{Name: "b", Enabled: true}
		must(t, s.Banks.CreateBank(ctx, b))
		e := func(v string) *vigil.Entry {
			return &vigil.Entry{SignalType: vigil.SignalMD5, Value: v, Source: "test"}
		}
		rec := &vigil.AuditRecord{Actor: "key:1:alice", Action: vigil.AuditEntriesAdd, Target: "bank:b"}
		_, err := s.Entries.AddEntries(vigil.WithAudit(ctx, rec), b.ID, "key:1:alice",
			[]*vigil.Entry{e(md5a), e(md5a), e(md5b)})
		must(t, err)
		var res vigil.ImportResult
		if err := json.Unmarshal([]byte(rec.Detail), &res); err != nil || res.Added != 2 || res.Duplicates != 1 {
			t.Fatalf("add detail %q: %v", rec.Detail, err)
		}
		rec = &vigil.AuditRecord{Actor: "key:1:alice", Action: vigil.AuditEntriesImport, Target: "bank:b"}
		_, err = s.Entries.ImportEntries(vigil.WithAudit(ctx, rec), b.ID, "key:1:alice",
			genEntries(2, func(i int) *vigil.Entry { return e([]string{md5a, md5c}[i]) }))
		must(t, err)
		if err := json.Unmarshal([]byte(rec.Detail), &res); err != nil || res.Added != 1 || res.Duplicates != 1 {
			t.Fatalf("import detail %q: %v", rec.Detail, err)
		}
	})

	t.Run("FailedRecordUndoesChange", func(t *testing.T) {
		s := open(t)
		b := &vigil.Bank{Name: "kept", Enabled: true}
		must(t, s.Banks.CreateBank(ctx, b))
		entries := []*vigil.Entry{{SignalType: vigil.SignalMD5, Value: md5a, Source: "test"}}
		_, err := s.Entries.AddEntries(ctx, b.ID, "key:1:alice", entries)
		must(t, err)
		must(t, s.Cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}))
		before := logLen(t, s)

		writes := []struct {
			name  string
			write func(ctx context.Context) error
			check func(t *testing.T)
		}{
			{"CreateBank", func(ctx context.Context) error {
				return s.Banks.CreateBank(ctx, &vigil.Bank{Name: "lost", Enabled: true})
			}, func(t *testing.T) {
				_, err := s.Banks.FindBankByName(ctx, "lost")
				wantCode(t, err, vigil.ENOTFOUND)
			}},
			{"UpdateBank", func(ctx context.Context) error {
				_, err := s.Banks.UpdateBank(ctx, b.ID, vigil.BankUpdate{Description: ptr("lost")})
				return err
			}, func(t *testing.T) {
				got, err := s.Banks.FindBankByID(ctx, b.ID)
				must(t, err)
				if got.Description == "lost" {
					t.Error("bank updated")
				}
			}},
			{"AddEntries", func(ctx context.Context) error {
				_, err := s.Entries.AddEntries(ctx, b.ID, "key:1:alice", []*vigil.Entry{{SignalType: vigil.SignalMD5, Value: md5b, Source: "test"}})
				return err
			}, func(t *testing.T) {
				got, err := s.Entries.FindEntries(ctx, vigil.EntryFilter{BankID: &b.ID})
				must(t, err)
				if len(got) != 1 {
					t.Errorf("%d entries", len(got))
				}
			}},
			{"RetractEntry", func(ctx context.Context) error {
				_, err := s.Entries.RetractEntry(ctx, entries[0].ID, "key:1:alice", "test")
				return err
			}, func(t *testing.T) {
				got, err := s.Entries.FindEntryByID(ctx, entries[0].ID)
				must(t, err)
				if got.Retracted() {
					t.Error("entry retracted")
				}
			}},
			{"CreateKey", func(ctx context.Context) error {
				_, err := s.Keys.CreateKey(ctx, &vigil.Key{Name: "lost", Role: vigil.RoleAdmin, CreatedBy: "test"})
				return err
			}, func(t *testing.T) {
				if n, err := s.Keys.CountKeys(ctx); err != nil || n != 0 {
					t.Errorf("%d keys, %v", n, err)
				}
			}},
			{"CreateRule", func(ctx context.Context) error {
				return s.Rules.CreateRule(ctx, &vigil.Rule{Name: "lost", Enabled: true,
					When: vigil.RuleConditions{Kind: vigil.CaseKindMatch}, Action: vigil.RuleAction{Type: vigil.ActionNone}, UpdatedBy: "key:1:alice"})
			}, func(t *testing.T) {
				_, err := s.Rules.FindRule(ctx, "lost")
				wantCode(t, err, vigil.ENOTFOUND)
			}},
			{"QuarantineEntry", func(ctx context.Context) error {
				return s.Cases.QuarantineEntry(ctx, entries[0].ID, "test")
			}, func(t *testing.T) {
				got, err := s.Entries.FindEntryByID(ctx, entries[0].ID)
				must(t, err)
				if got.QuarantinedAt != nil {
					t.Error("entry quarantined")
				}
			}},
		}
		for _, w := range writes {
			t.Run(w.name, func(t *testing.T) {
				rec := failing()
				if err := w.write(vigil.WithAudit(ctx, rec)); !errors.Is(err, errBoom) {
					t.Fatalf("write with a failing record: %v", err)
				}
				if rec.Seq != 0 || rec.Hash != "" {
					t.Errorf("failed record still sealed: %+v", rec)
				}
				w.check(t)
				// A record the store refuses (no action) fails the change too.
				if err := w.write(vigil.WithAudit(ctx, &vigil.AuditRecord{Actor: "key:1:alice", Target: "x"})); err == nil {
					t.Fatal("write with an invalid record succeeded")
				}
				w.check(t)
				if n := logLen(t, s); n != before {
					t.Errorf("log has %d records, had %d", n, before)
				}
			})
		}
	})
}
