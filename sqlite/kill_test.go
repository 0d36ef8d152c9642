package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
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
