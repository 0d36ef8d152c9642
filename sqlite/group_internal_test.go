package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/cputime"
)

// TestOpenCaseGroupCommit checks the group commit of cases opened at once:
// the cases that queue while another transaction holds the writer commit
// in one transaction together; each OpenCase returns only once its case
// is committed, with its audit record in the same transaction; and a case
// that fails (an unknown queue) fails alone, the others of its group
// being kept.
func TestOpenCaseGroupCommit(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir(), nil)
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
	go db.write(ctx, func(tx *sql.Tx) error {
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

// BenchmarkOpenCaseConcurrent measures cases opened by 8 callers at once,
// as rules open them under load, each with one match: every case
// committing alone, and group commit, both with synchronous=FULL (each
// COMMIT syncs the log while it holds the writer: the in-run baselines, as
// before the sync barrier), against group commit with the sync barrier
// (synchronous=NORMAL, a group's sync overlapping the next group's
// transaction). Every case is durable before OpenCase returns, so the
// figure depends on the disk.
func BenchmarkOpenCaseConcurrent(b *testing.B) {
	for _, mode := range []string{"alone", "grouped", "barrier"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			db, err := open(ctx, b.TempDir(), nil, options{barrier: mode == "barrier"})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.ungrouped = mode == "alone"
			var groups, grouped atomic.Int64
			db.onGroup = func(n int) { groups.Add(1); grouped.Add(int64(n)) }
			banks, entries, cases := NewBankService(db), NewEntryService(db), NewCaseService(db)
			bank := &vigil.Bank{Name: "b", Enabled: true}
			if err := banks.CreateBank(ctx, bank); err != nil {
				b.Fatal(err)
			}
			var es []*vigil.Entry
			for i := range 100 {
				es = append(es, &vigil.Entry{SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", i)})
			}
			if _, err := entries.AddEntries(ctx, bank.ID, "curator", es); err != nil {
				b.Fatal(err)
			}
			if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			b.SetParallelism(4) // 8 callers on 2 cores
			b.ResetTimer()
			cpu0 := cputime.Process()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					e := es[i%int64(len(es))]
					c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
						Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", i)},
						Matches: []vigil.Match{{BankID: bank.ID, EntryID: e.ID, SignalType: e.SignalType, Value: e.Value}}}
					if err := cases.OpenCase(ctx, c, "rule:any-match"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(cputime.Process()-cpu0)/float64(b.N), "cpu-ns/op")
			if g := groups.Load(); g > 0 {
				b.ReportMetric(float64(grouped.Load())/float64(g), "cases/group")
			}
		})
	}
}

// BenchmarkSyncBound measures what bounds a commit on this disk: writing
// 4 KiB at the end of a file and syncing it (fdatasync, as SQLite does for
// the WAL, and fsync), next to SQLite committing a one-row write
// transaction, one caller at a time, with synchronous=FULL (sqlite-commit)
// and with NORMAL and the sync barrier (sqlite-commit-barrier: the same
// sync, made by the barrier's goroutine after the COMMIT). The sync is the
// floor under every durable commit, grouped or not.
func BenchmarkSyncBound(b *testing.B) {
	page := make([]byte, 4096)
	// append: every write grows the file, so the sync also writes its
	// size; overwrite: the writes cycle through 1 MiB already written and
	// synced, as SQLite's WAL does once a checkpoint has reset it.
	for _, mode := range []string{"fdatasync-append", "fdatasync-overwrite", "fsync-append"} {
		b.Run(mode, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "sync"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			const span = 1 << 20
			if mode == "fdatasync-overwrite" {
				if _, err := f.Write(make([]byte, span)); err != nil {
					b.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			var off int64
			b.ResetTimer()
			for b.Loop() {
				if mode == "fdatasync-overwrite" {
					_, err = f.WriteAt(page, off)
					off = (off + int64(len(page))) % span
				} else {
					_, err = f.Write(page)
				}
				if err != nil {
					b.Fatal(err)
				}
				if mode == "fsync-append" {
					err = f.Sync()
				} else {
					err = syscall.Fdatasync(int(f.Fd()))
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, mode := range []string{"sqlite-commit", "sqlite-commit-barrier"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			db, err := open(ctx, b.TempDir(), nil, options{barrier: mode == "sqlite-commit-barrier"})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if _, err := db.wdb.ExecContext(ctx, `CREATE TABLE sync_bound (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if err := db.writeAudited(ctx, nil, func(tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, `INSERT INTO sync_bound (v) VALUES ('x')`)
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestGroupCommitPartialFailure checks that a write of a group that fails
// after changing rows leaves none of its changes, while the others of its
// group commit, whether the group ran with savepoints from the start or
// only once the failure was seen; and that a group in which nothing fails
// runs each write once.
func TestGroupCommitPartialFailure(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.wdb.ExecContext(ctx, `CREATE TABLE grouped_rows (n INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	var groups []int
	db.onGroup = func(n int) { groups = append(groups, n) } // called by the committer only
	errBroken := fmt.Errorf("broken write")
	group := func(base, n, bad int) []int {
		// A leader holds the committing role, alone, while the n writes
		// queue behind it one at a time, so that they form one group in
		// a known order.
		held, release := make(chan struct{}), make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := db.writeGrouped(ctx, func(tx *sql.Tx) error {
				close(held)
				<-release
				return nil
			}); err != nil {
				t.Error(err)
			}
		})
		<-held
		runs := make([]int, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				errs[i] = db.writeGrouped(ctx, func(tx *sql.Tx) error {
					runs[i]++
					if _, err := tx.ExecContext(ctx, `INSERT INTO grouped_rows (n) VALUES (?)`, base+i); err != nil {
						return err
					}
					if i == bad {
						return errBroken
					}
					return nil
				})
			})
			waitFor(t, "the write to queue", func() bool { return db.group.Waiting() == i+1 })
		}
		close(release)
		wg.Wait()
		for i, err := range errs {
			if want := i == bad; (err != nil) != want || err != nil && err != errBroken {
				t.Errorf("write %d of %d: %v", i, n, err)
			}
		}
		return runs
	}

	runs := group(0, 5, -1)
	for i, r := range runs {
		if r != 1 {
			t.Errorf("write %d ran %d times in a group where none failed, want 1", i, r)
		}
	}
	runs = group(100, 5, 2)
	// The failing write ran in its group's first attempt (ended by it), in
	// the guarded one and alone; those before it in both attempts, those
	// after it only in the guarded one.
	want := []int{2, 2, 3, 1, 1}
	if fmt.Sprint(runs) != fmt.Sprint(want) {
		t.Errorf("runs %v, want %v", runs, want)
	}
	var got []int
	rows, err := db.rdb.QueryContext(ctx, `SELECT n FROM grouped_rows ORDER BY n`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	// Both groups, the second without its write 2.
	if fmt.Sprint(got) != "[0 1 2 3 4 100 101 103 104]" {
		t.Errorf("rows %v", got)
	}
	if fmt.Sprint(groups) != "[5 5]" {
		t.Errorf("groups %v, want [5 5]", groups)
	}
}
