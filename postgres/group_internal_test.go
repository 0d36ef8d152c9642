package postgres

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/pgtest"
)

// TestOpenCaseGroupCommit checks the group commit of cases opened at once:
// the cases that queue while another transaction holds the writer commit
// in one transaction together; each OpenCase returns only once its case
// is committed, with its audit record in the same transaction; and a case
// that fails (an unknown queue) fails alone, the others of its group
// being kept.
func TestOpenCaseGroupCommit(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, pgtest.SchemaURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var mu sync.Mutex
	var groups []int
	db.onGroup = func(n int) {
		mu.Lock()
		groups = append(groups, n)
		mu.Unlock()
	}
	banks, entries, cases, audit := NewBankService(db), NewEntryService(db), NewCaseService(db), NewAuditService(db)
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

	// Hold the writer, so that the cases below queue behind it.
	held, release := make(chan struct{}), make(chan struct{})
	go db.write(ctx, func(tx *pgTx) error {
		close(held)
		<-release
		return nil
	})
	<-held
	var once sync.Once
	unhold := func() { once.Do(func() { close(release) }) }
	defer unhold()
	const n, bad = 8, 5
	opened := make([]*vigil.Case, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		queue := "q"
		if i == bad {
			queue = "no-such-queue"
		}
		opened[i] = &vigil.Case{Queue: queue, Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
			Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", i)},
			Key:     fmt.Sprintf("case_%d", i),
			Matches: []vigil.Match{{BankID: b.ID, EntryID: e.ID, SignalType: e.SignalType, Value: e.Value}}}
		rec := &vigil.AuditRecord{Actor: "rule:r", Action: "case.open", Target: fmt.Sprintf("content:%d", i)}
		wg.Go(func() {
			errs[i] = cases.OpenCase(vigil.WithAudit(ctx, rec), opened[i], "rule:r")
			if errs[i] == nil {
				// Durable before the answer: another connection sees it.
				if _, err := cases.FindCase(ctx, opened[i].ID); err != nil {
					t.Errorf("case %d not visible once opened: %v", i, err)
				}
			}
		})
		if i == 0 {
			// The first leads, and waits for the writer alone.
			waitFor(t, "the first case to lead", func() bool { return db.group.Waiting() == 0 })
		}
	}
	waitFor(t, "the cases to queue for a group commit", func() bool { return db.group.Waiting() == n-1 })
	unhold()
	wg.Wait()

	if len(groups) != 1 || groups[0] != n-1 {
		t.Errorf("shared transactions of %v cases, want one of %d", groups, n-1)
	}
	for i, err := range errs {
		if i == bad {
			if vigil.ErrorCode(err) != vigil.ENOTFOUND {
				t.Errorf("case in an unknown queue: %v, want ENOTFOUND", err)
			}
			continue
		}
		if err != nil || opened[i].ID == 0 {
			t.Errorf("case %d: id %d, %v", i, opened[i].ID, err)
		}
	}
	recs, err := audit.ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, r := range recs {
		targets[r.Target] = true
	}
	for i := range n {
		if want := i != bad; targets[fmt.Sprintf("content:%d", i)] != want {
			t.Errorf("audit record of case %d stored: %v, want %v", i, !want, want)
		}
	}
	if _, brk, err := audit.VerifyAudit(ctx); err != nil || brk != nil {
		t.Errorf("audit chain: %v, %+v", err, brk)
	}
	// Idempotent keys hold across groups: opening again finds each case.
	for i := range n {
		if i == bad {
			continue
		}
		again := *opened[i]
		again.ID = 0
		if err := cases.OpenCase(ctx, &again, "rule:r"); err != nil || again.ID != opened[i].ID {
			t.Errorf("case %d opened again: id %d, %v; want %d", i, again.ID, err, opened[i].ID)
		}
	}
}

// waitFor yields until cond holds, failing after a bound on tries (not on
// time) when it never does.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 10_000_000 {
		if cond() {
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("waited in vain for %s", what)
}
