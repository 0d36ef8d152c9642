package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// killHelperEnv, when set to a data directory, turns this test binary into
// the process that TestImportKilled kills.
const killHelperEnv = "VIGIL_SQLITE_KILL_HELPER"

// TestImportKilled checks that a bulk import is atomic across a crash: it
// kills (SIGKILL) a process in the middle of an import, after the import has
// begun writing to the database's files, and checks that the bank is
// exactly as it was before.
func TestImportKilled(t *testing.T) {
	if dir := os.Getenv(killHelperEnv); dir != "" {
		importForever(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	ctx := context.Background()
	dir := t.TempDir()

	db, err := Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	banks, entries := NewBankService(db), NewEntryService(db)
	b := &vigil.Bank{Name: "victim", Enabled: true}
	if err := banks.CreateBank(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := entries.ImportEntries(ctx, b.ID, "setup", pdqEntries(0, 5000)); err != nil {
		t.Fatal(err)
	}
	before, err := banks.FindBankByID(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	beforeRows, beforeSeq := countRows(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestImportKilled$")
	cmd.Env = append(os.Environ(), killHelperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() // on an early failure

	// Wait for the helper to start importing, then for its uncommitted
	// pages to reach the write-ahead log.
	started := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "importing" {
				started <- nil
				return
			}
		}
		started <- fmt.Errorf("helper ended before importing: %v", sc.Err())
	}()
	select {
	case err := <-started:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("helper did not start importing within a minute")
	}
	wal := filepath.Join(dir, FileName+"-wal")
	const written = 8 << 20
	deadline := time.Now().Add(2 * time.Minute)
	var size int64
	for {
		if fi, err := os.Stat(wal); err == nil {
			size = fi.Size()
		}
		if size >= written {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("write-ahead log reached only %d bytes in 2 minutes", size)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	t.Logf("killed the importing process with %d bytes in the write-ahead log: %v", size, err)
	if cmd.ProcessState.Success() {
		t.Fatal("helper finished its endless import")
	}

	db, err = Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := NewBankService(db).FindBankByID(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Version != before.Version || after.ActiveEntries != before.ActiveEntries || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("bank after the kill %+v, before %+v", after, before)
	}
	if rows, seq := countRows(t, db); rows != beforeRows || seq != beforeSeq {
		t.Errorf("after the kill %d entries and change seq %d, before %d and %d", rows, seq, beforeRows, beforeSeq)
	}
	// The database takes writes again.
	res, err := NewEntryService(db).ImportEntries(ctx, b.ID, "after", pdqEntries(5000, 10))
	if err != nil || res.Added != 10 {
		t.Errorf("import after the kill: %+v, %v", res, err)
	}
}

// importForever imports into the first bank of the database in dir until
// the process is killed.
func importForever(t *testing.T, dir string) {
	ctx := context.Background()
	db, err := Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A small page cache spills the import's pages into the write-ahead
	// log early, so the kill lands while uncommitted frames are on disk.
	if _, err := db.wdb.ExecContext(ctx, "PRAGMA cache_size = -1024"); err != nil {
		t.Fatal(err)
	}
	fmt.Println("importing")
	_, err = NewEntryService(db).ImportEntries(ctx, 1, "doomed", pdqEntries(1<<20, 1<<40))
	t.Fatalf("import ended: %v", err)
}

// countRows returns the number of entries and the last change sequence
// number.
func countRows(t *testing.T, db *DB) (rows, seq int64) {
	t.Helper()
	err := db.rdb.QueryRow(`SELECT (SELECT COUNT(*) FROM entries), (SELECT value FROM change_seq)`).Scan(&rows, &seq)
	if err != nil {
		t.Fatal(err)
	}
	return rows, seq
}

// pdqEntries yields n entries with distinct PDQ values, from the value
// numbered first on.
func pdqEntries(first, n int) iter.Seq2[*vigil.Entry, error] {
	return func(yield func(*vigil.Entry, error) bool) {
		for i := first; i < first+n; i++ {
			e := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: fmt.Sprintf("%064x", i), Source: "test"}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// killWritesEnv, when set to a data directory, turns this test binary into
// the process that TestWritesKilled kills.
const killWritesEnv = "VIGIL_SQLITE_KILL_WRITES"

// TestWritesKilled checks that a write whose caller was told it committed
// is there after the process is killed (SIGKILL) at a random moment: a
// child process opens cases (the grouped path, whose syncs overlap the
// next group's transaction) and creates banks (a write alone) from several
// goroutines, printing each id only once its write has returned; the
// parent kills it after a random number of ids and reopens the store.
// The child runs with the sync barrier (options.barrier), off by default.
//
// A kill loses nothing that reached the kernel's page cache, synced or
// not, so this checks that the sync barrier keeps the store consistent and
// answers only after the COMMIT, not that the writes survive a power cut:
// TestWritesReturnOnlyWhenSynced and TestSyncOverlapsNextCommit show that
// a write returns only after a sync of the log begun after its COMMIT.
func TestWritesKilled(t *testing.T) {
	if dir := os.Getenv(killWritesEnv); dir != "" {
		writeForever(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &vigil.Bank{Name: "b", Enabled: true}
	if err := NewBankService(db).CreateBank(ctx, b); err != nil {
		t.Fatal(err)
	}
	e := &vigil.Entry{SignalType: vigil.SignalMD5, Value: "00112233445566778899aabbccddeeff"}
	if _, err := NewEntryService(db).AddEntries(ctx, b.ID, "curator", []*vigil.Entry{e}); err != nil {
		t.Fatal(err)
	}
	if err := NewCaseService(db).CreateQueue(ctx, &vigil.Queue{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestWritesKilled$")
	cmd.Env = append(os.Environ(), killWritesEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() // on an early failure

	// Kill after a random number of acknowledged writes, then read the
	// ids printed before the kill that are still in the pipe.
	killAfter := 50 + rand.IntN(500)
	var cases, banks []int64
	sc := bufio.NewScanner(stdout)
	killed := false
	for sc.Scan() {
		var id int64
		if _, err := fmt.Sscanf(sc.Text(), "case %d", &id); err == nil {
			cases = append(cases, id)
		} else if _, err := fmt.Sscanf(sc.Text(), "bank %d", &id); err == nil {
			banks = append(banks, id)
		} else {
			continue
		}
		if !killed && len(cases)+len(banks) >= killAfter {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("helper ended after %d writes, before the kill: %v", len(cases)+len(banks), err)
	}
	t.Logf("killed the writing process after %d cases and %d banks were acknowledged: %v", len(cases), len(banks), err)

	db, err = Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range cases {
		if _, err := NewCaseService(db).FindCase(ctx, id); err != nil {
			t.Errorf("acknowledged case %d after the kill: %v", id, err)
		}
	}
	for _, id := range banks {
		if _, err := NewBankService(db).FindBankByID(ctx, id); err != nil {
			t.Errorf("acknowledged bank %d after the kill: %v", id, err)
		}
	}
	if _, brk, err := NewAuditService(db).VerifyAudit(ctx); err != nil || brk != nil {
		t.Errorf("audit chain after the kill: %v, %+v", err, brk)
	}
}

// writeForever opens cases and creates banks in the database in dir, from
// 8 goroutines, printing the id of each once its write has returned,
// until the process is killed.
func writeForever(t *testing.T, dir string) {
	ctx := context.Background()
	db, err := open(ctx, dir, nil, options{barrier: true})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	say := func(format string, id int64) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf(format, id)
	}
	cases, banks := NewCaseService(db), NewBankService(db)
	var n atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for {
				i := n.Add(1)
				if g == 0 && i%4 == 0 {
					b := &vigil.Bank{Name: fmt.Sprintf("bank-%d", i), Enabled: true}
					if err := banks.CreateBank(ctx, b); err != nil {
						t.Error(err)
						return
					}
					say("bank %d\n", b.ID)
					continue
				}
				c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
					Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", i)},
					Matches: []vigil.Match{{BankID: 1, EntryID: 1, SignalType: vigil.SignalMD5, Value: "00112233445566778899aabbccddeeff"}}}
				if err := cases.OpenCase(vigil.WithAudit(ctx, &vigil.AuditRecord{Actor: "rule:r", Action: "case.open", Target: fmt.Sprintf("content:%d", i)}), c, "rule:r"); err != nil {
					t.Error(err)
					return
				}
				say("case %d\n", c.ID)
			}
		})
	}
	wg.Wait()
	t.Fatal("writers ended")
}
