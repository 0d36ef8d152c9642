package sqlite_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlite"
)

// TestOnQuarantine checks that automatic quarantines are reported once
// each, after they are committed, with their entry, case and reason.
func TestOnQuarantine(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	banks, entries, cases := sqlite.NewBankService(db), sqlite.NewEntryService(db), sqlite.NewCaseService(db)
	b := &vigil.Bank{Name: "b", Enabled: true}
	if err := banks.CreateBank(ctx, b); err != nil {
		t.Fatal(err)
	}
	fp := &vigil.Entry{SignalType: vigil.SignalMD5, Value: "00112233445566778899aabbccddeeff"}
	spike := &vigil.Entry{SignalType: vigil.SignalMD5, Value: "ffeeddccbbaa99887766554433221100"}
	if _, err := entries.AddEntries(ctx, b.ID, "curator", []*vigil.Entry{fp, spike}); err != nil {
		t.Fatal(err)
	}
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	cases.Policy = vigil.QuarantinePolicy{MinFalsePositives: 1, SpikeFactor: 2, SpikeMin: 2, Window: time.Hour}
	var got []sqlite.AutoQuarantine
	cases.OnQuarantine = func(ctx context.Context, q sqlite.AutoQuarantine) {
		// Called after the commit: the quarantine is visible.
		if e, err := entries.FindEntryByID(ctx, q.EntryID); err != nil || !e.Quarantined() {
			t.Errorf("reported before commit: %+v, %v", e, err)
		}
		got = append(got, q)
	}
	uploads := 0
	open := func(e *vigil.Entry) *vigil.Case {
		t.Helper()
		// Each case is about different content: repeats of one would not
		// make a spike.
		uploads++
		c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
			Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", uploads)},
			Matches: []vigil.Match{{BankID: b.ID, EntryID: e.ID, SignalType: e.SignalType, Value: e.Value}}}
		if err := cases.OpenCase(ctx, c, "rules"); err != nil {
			t.Fatal(err)
		}
		return c
	}

	c := open(fp)
	if _, err := cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictFalsePositive, DecidedBy: "r"}); err != nil {
		t.Fatal(err)
	}
	open(spike)
	second := open(spike)
	open(spike) // already quarantined: not reported again
	if len(got) != 2 || got[0].EntryID != fp.ID || got[0].CaseID != c.ID || got[0].Reason == "" ||
		got[1].EntryID != spike.ID || got[1].CaseID != second.ID {
		t.Fatalf("reported %+v", got)
	}
}

// TestAutoQuarantineAudited checks that an automatic quarantine is in the
// audit log as soon as it is committed, written in the transaction that
// made it (no hook needed), and that the chain still verifies.
func TestAutoQuarantineAudited(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	banks, entries, cases := sqlite.NewBankService(db), sqlite.NewEntryService(db), sqlite.NewCaseService(db)
	audit := sqlite.NewAuditService(db)
	b := &vigil.Bank{Name: "b", Enabled: true}
	if err := banks.CreateBank(ctx, b); err != nil {
		t.Fatal(err)
	}
	e := &vigil.Entry{SignalType: vigil.SignalMD5, Value: "00112233445566778899aabbccddeeff"}
	if _, err := entries.AddEntries(ctx, b.ID, "curator", []*vigil.Entry{e}); err != nil {
		t.Fatal(err)
	}
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	cases.Policy = vigil.QuarantinePolicy{MinFalsePositives: 1}
	c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
		Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", 1)},
		Matches: []vigil.Match{{BankID: b.ID, EntryID: e.ID, SignalType: e.SignalType, Value: e.Value}}}
	if err := cases.OpenCase(ctx, c, "rules"); err != nil {
		t.Fatal(err)
	}
	rec := &vigil.AuditRecord{Actor: "key:1:r", Action: vigil.AuditCaseDecide, Target: fmt.Sprintf("case:%d", c.ID)}
	if _, err := cases.DecideCase(vigil.WithAudit(ctx, rec), c.ID, vigil.Decision{Verdict: vigil.VerdictFalsePositive, DecidedBy: "key:1:r"}); err != nil {
		t.Fatal(err)
	}
	recs, err := audit.ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, r := range recs {
		actions = append(actions, r.Actor+" "+r.Action+" "+r.Target)
	}
	want := fmt.Sprintf("vigil %s entry:%d", vigil.AuditEntryQuarantine, e.ID)
	if !slices.Contains(actions, want) || !slices.Contains(actions, "key:1:r "+vigil.AuditCaseDecide+" "+rec.Target) {
		t.Fatalf("audit log %q, want %q and the decision", actions, want)
	}
	if n, brk, err := audit.VerifyAudit(ctx); err != nil || brk != nil {
		t.Fatalf("verify %d records: %+v %v", n, brk, err)
	}
}
