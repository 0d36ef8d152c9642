package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/matcher"
)

func needEntrySeq(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the shared entry change counter is Linux's")
	}
}

// The counter file's parser takes only a whole file of this version, and
// says what is wrong with any other.
func TestParseEntrySeq(t *testing.T) {
	good := entrySeqHeader()
	if err := parseEntrySeq(good); err != nil {
		t.Fatalf("a new file: %v", err)
	}
	bad := func(name string, mutate func([]byte) []byte, want string) {
		t.Helper()
		b := mutate(bytes.Clone(good))
		err := parseEntrySeq(b)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, want)
		}
	}
	bad("empty", func(b []byte) []byte { return nil }, "0 bytes")
	bad("short", func(b []byte) []byte { return b[:entrySeqOffset+8] }, "24 bytes")
	bad("long", func(b []byte) []byte { return append(b, 0) }, "4097 bytes")
	bad("magic", func(b []byte) []byte { b[0] = 'X'; return b }, "magic")
	bad("version", func(b []byte) []byte { b[8] = 2; return b }, "version 2")
	bad("reserved", func(b []byte) []byte { b[13] = 1; return b }, "reserved")
	// The counter's value is the file's to hold, any value.
	good[entrySeqOffset] = 7
	if err := parseEntrySeq(good); err != nil {
		t.Errorf("a counter of 7: %v", err)
	}
}

// FuzzParseEntrySeq: any bytes are refused or accepted without a panic, and
// only a whole file with the header is accepted.
func FuzzParseEntrySeq(f *testing.F) {
	f.Add(entrySeqHeader())
	f.Add(entrySeqHeader()[:16])
	f.Add([]byte(entrySeqMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		err := parseEntrySeq(b)
		h := entrySeqHeader()
		if ok := len(b) == entrySeqSize && bytes.Equal(b[:entrySeqOffset], h[:entrySeqOffset]); ok != (err == nil) {
			t.Fatalf("%d bytes, header %x: %v", len(b), b[:min(len(b), entrySeqOffset)], err)
		}
	})
}

// A counter file that is not one stops Open with an error naming it, and
// is left as it was: another process may have it mapped.
func TestOpenEntrySeqCorrupt(t *testing.T) {
	needEntrySeq(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name, want string
		content    []byte
	}{
		{"empty", "0 bytes", nil},
		{"short", "100 bytes", entrySeqHeader()[:100]},
		{"magic", "magic", append([]byte("NOTVIGIL"), entrySeqHeader()[8:]...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName+entrySeqSuffix)
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			db, err := Open(ctx, dir, nil)
			if err == nil {
				db.Close()
				t.Fatal("opened with a corrupt counter file")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s and say %q", err, path, tt.want)
			}
			if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, tt.content) {
				t.Errorf("the file was changed (%d bytes, %v)", len(b), err)
			}
		})
	}
}

// openEntrySeqDB opens a database in dir for a test.
func openEntrySeqDB(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func counter(t *testing.T, db *DB) uint64 {
	t.Helper()
	n, ok := db.entrySeq.load()
	if !ok {
		t.Fatal("no entry change counter")
	}
	return n
}

// The seqlock's writer side: odd from the raise to the settle, once per
// transaction, never undone by a late settle, and made new by a writer
// that finds it left odd.
func TestEntrySeqRaiseSettle(t *testing.T) {
	needEntrySeq(t)
	db := openEntrySeqDB(t, t.TempDir())
	s := db.entrySeq
	tx1, tx2 := new(sql.Tx), new(sql.Tx) // only keys here
	n0 := counter(t, db)
	if n0&1 != 0 {
		t.Fatalf("a new database's counter is %d, odd", n0)
	}
	s.raise(tx1)
	if n := counter(t, db); n != n0 {
		t.Fatalf("a raise of an unmarked transaction moved the counter to %d", n)
	}
	s.mark(tx1)
	s.mark(tx1)
	if n := counter(t, db); n != n0 {
		t.Fatalf("a mark moved the counter to %d", n)
	}
	s.raise(tx1)
	s.raise(tx1)
	if n := counter(t, db); n != n0+1 {
		t.Fatalf("after two raises of one transaction %d, want %d", n, n0+1)
	}
	// tx1 has committed and its connection gone to tx2 before tx1's
	// settle: tx2's raise must win.
	s.mark(tx2)
	s.raise(tx2)
	if n := counter(t, db); n != n0+3 {
		t.Fatalf("a raise over an odd counter: %d, want %d", n, n0+3)
	}
	s.settle(tx1)
	if n := counter(t, db); n != n0+3 {
		t.Fatalf("a late settle made the counter %d while tx2 is open", n)
	}
	s.settle(tx2)
	s.settle(tx2)
	if n := counter(t, db); n != n0+4 {
		t.Fatalf("after the settles %d, want %d", n, n0+4)
	}
	// A writer killed after its raise: the next one moves on from there.
	s.n.Store(n0 + 5)
	s.mark(tx1)
	s.raise(tx1)
	s.settle(tx1)
	if n := counter(t, db); n != n0+8 {
		t.Fatalf("after a raise over a dead writer's odd %d: %d, want %d", n0+5, n, n0+8)
	}
	// Marked and rolled back before its raise: nothing moves.
	s.mark(tx2)
	s.settle(tx2)
	if n := counter(t, db); n != n0+8 || len(s.mine) != 0 {
		t.Fatalf("a rolled-back transaction left the counter at %d, %d transactions held", n, len(s.mine))
	}
}

// Every entry change moves the counter, through the file that every
// opening of the database maps (here two in one process), and leaves it
// even; a refused change and a write of no entry do not move it.
func TestEntrySeqWrites(t *testing.T) {
	needEntrySeq(t)
	ctx := context.Background()
	dir := t.TempDir()
	db, other := openEntrySeqDB(t, dir), openEntrySeqDB(t, dir)
	banks, entries, cases := NewBankService(db), NewEntryService(db), NewCaseService(db)
	b := &vigil.Bank{Name: "b", Enabled: true}
	if err := banks.CreateBank(ctx, b); err != nil {
		t.Fatal(err)
	}
	last := counter(t, other)
	moved := func(what string, want bool) {
		t.Helper()
		n := counter(t, other)
		if n != counter(t, db) {
			t.Fatalf("%s: the two openings see %d and %d", what, n, counter(t, db))
		}
		if n&1 != 0 || want && n <= last || !want && n != last {
			t.Errorf("%s: counter %d, was %d (want moved: %v)", what, n, last, want)
		}
		last = n
	}
	e := &vigil.Entry{SignalType: vigil.SignalMD5, Value: strings.Repeat("ab", 16)}
	if _, err := entries.AddEntries(ctx, b.ID, "alice", []*vigil.Entry{e}); err != nil {
		t.Fatal(err)
	}
	moved("add", true)
	if _, err := entries.ImportEntries(ctx, b.ID, "alice", pdqEntries(0, 600)); err != nil {
		t.Fatal(err)
	}
	moved("import", true)
	if err := cases.QuarantineEntry(ctx, e.ID, "checking"); err != nil {
		t.Fatal(err)
	}
	moved("quarantine", true)
	if err := cases.ReleaseEntry(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	moved("release", true)
	if _, err := NewEntryService(other).RetractEntry(ctx, e.ID, "bob", "wrong"); err != nil {
		t.Fatal(err)
	}
	moved("retract by the other opening", true)
	if _, err := entries.RetractEntry(ctx, e.ID, "bob", "again"); vigil.ErrorCode(err) != vigil.ECONFLICT {
		t.Fatalf("retract again: %v", err)
	}
	moved("a refused retraction", false)
	d := "described"
	if _, err := banks.UpdateBank(ctx, b.ID, vigil.BankUpdate{Description: &d}); err != nil {
		t.Fatal(err)
	}
	moved("a bank update", false)
	// Until its commit an entry change leaves the counter as it is, and a
	// change rolled back never moves it.
	for _, fail := range []bool{false, true} {
		err := db.write(ctx, func(tx *sql.Tx) error {
			if _, err := db.nextSeq(ctx, tx, 1); err != nil {
				return err
			}
			moved("inside a transaction that took a sequence number", false)
			if fail {
				return fmt.Errorf("rolled back")
			}
			return nil
		})
		if fail != (err != nil) {
			t.Fatal(err)
		}
		moved(fmt.Sprintf("after the transaction (failed: %v)", fail), !fail)
	}
}

// entrySeqHelperEnv, when set, makes TestEntrySeqHelper the child process
// of TestEntrySeqCrossProcess: "dir mode entryID".
const entrySeqHelperEnv = "VIGIL_SQLITE_ENTRYSEQ_HELPER"

// TestEntrySeqHelper changes an entry of the database as the parent asks,
// printing what it reached; in the kill modes it then waits to be killed.
func TestEntrySeqHelper(t *testing.T) {
	arg := os.Getenv(entrySeqHelperEnv)
	if arg == "" {
		t.Skip("the child of TestEntrySeqCrossProcess")
	}
	var dir, mode string
	var id int64
	if _, err := fmt.Sscan(arg, &dir, &mode, &id); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	block := func(say string) func() {
		return func() {
			fmt.Println(say)
			select {} // until killed
		}
	}
	switch mode {
	case "retract", "quarantine":
	case "kill-after-commit":
		db.entrySeq.beforeSettle = block("committed")
	case "kill-before-commit":
		db.entrySeq.afterRaise = block("raised")
	default:
		t.Fatalf("mode %q", mode)
	}
	if mode == "quarantine" {
		err = NewCaseService(db).QuarantineEntry(ctx, id, "checking")
	} else {
		_, err = NewEntryService(db).RetractEntry(ctx, id, "child", "retracted by another process")
	}
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("returned")
	db.Close()
}

// countingFinds counts the matcher's store reads of entries; the shared
// counter stays promoted from the EntryService.
type countingFinds struct {
	*EntryService
	finds atomic.Int64
}

func (c *countingFinds) FindEntryByID(ctx context.Context, id int64) (*vigil.Entry, error) {
	c.finds.Add(1)
	return c.EntryService.FindEntryByID(ctx, id)
}

func (c *countingFinds) FindEntryAndSeq(ctx context.Context, id int64) (*vigil.Entry, int64, error) {
	c.finds.Add(1)
	return c.EntryService.FindEntryAndSeq(ctx, id)
}

func (c *countingFinds) EntryChangeSeq(ctx context.Context) (int64, error) {
	c.finds.Add(1)
	return c.EntryService.EntryChangeSeq(ctx)
}

// Another process's retraction or quarantine, or one killed between the
// counter's raise and its settle, is seen by this process's matcher at
// once: no lookup after the other's write has returned (or after its
// commit, for the killed one) reports the entry as the cache held it.
func TestEntrySeqCrossProcess(t *testing.T) {
	needEntrySeq(t)
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	ctx := context.Background()
	dir := t.TempDir()
	db := openEntrySeqDB(t, dir)
	banks := NewBankService(db)
	entries := &countingFinds{EntryService: NewEntryService(db)}
	b := &vigil.Bank{Name: "b", Enabled: true}
	if err := banks.CreateBank(ctx, b); err != nil {
		t.Fatal(err)
	}
	var es []*vigil.Entry
	for i := range 5 {
		es = append(es, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: fmt.Sprintf("%064x", 0xabcdef12345+i*0x1111111), Source: "test"})
	}
	if _, err := entries.AddEntries(ctx, b.ID, "setup", es); err != nil {
		t.Fatal(err)
	}
	m := matcher.New(banks, entries, slog.New(slog.DiscardHandler))
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	// active reports whether a lookup of e's value matches e.
	active := func(e *vigil.Entry) bool {
		t.Helper()
		res, err := m.Lookup(ctx, []vigil.Signal{{Type: vigil.SignalPDQ, Value: e.Value}}, vigil.MatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, mt := range res[0].Matches {
			if mt.EntryID == e.ID {
				return true
			}
		}
		return false
	}
	// cached checks that every entry is served from memory, so that what
	// follows tests the cache's check and not a store read.
	cached := func() {
		t.Helper()
		for _, e := range es {
			active(e)
		}
		before := entries.finds.Load()
		for _, e := range es {
			active(e)
		}
		if n := entries.finds.Load() - before; n != 0 {
			t.Fatalf("%d store reads for entries already matched", n)
		}
	}

	run := func(mode string, e *vigil.Entry, until string) *exec.Cmd {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestEntrySeqHelper$")
		cmd.Env = append(os.Environ(), entrySeqHelperEnv+"="+dir+" "+mode+" "+strconv.FormatInt(e.ID, 10))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		got := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == until {
					got <- nil
					return
				}
			}
			got <- fmt.Errorf("the child ended before %q: %v", until, sc.Err())
		}()
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("the child did not say %q in 2 minutes", until)
		}
		return cmd
	}
	kill := func(cmd *exec.Cmd) {
		t.Helper()
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
	}

	cached()
	run("retract", es[0], "returned")
	if active(es[0]) {
		t.Fatal("an entry another process retracted is reported active after its write returned")
	}

	cached()
	run("quarantine", es[1], "returned")
	if active(es[1]) {
		t.Fatal("an entry another process quarantined is reported active after its write returned")
	}

	// Killed after its COMMIT, before the counter is even again.
	cached()
	kill(run("kill-after-commit", es[2], "committed"))
	if n := counter(t, db); n&1 != 1 {
		t.Fatalf("the killed writer left the counter at %d, even", n)
	}
	if active(es[2]) {
		t.Fatal("an entry retracted by a process killed after its commit is reported active")
	}
	if !active(es[3]) || !active(es[4]) {
		t.Fatal("entries no one changed are not reported")
	}
	before := entries.finds.Load()
	active(es[3])
	if entries.finds.Load() == before {
		t.Fatal("the cache served an entry while the counter was left odd")
	}

	// Killed before its COMMIT: the retraction never happened.
	kill(run("kill-before-commit", es[3], "raised"))
	if !active(es[3]) {
		t.Fatal("an entry whose retraction was killed before its commit is not reported")
	}
	// The next writer here moves the counter on, and the cache serves
	// again.
	if _, err := entries.RetractEntry(ctx, es[4].ID, "parent", "done"); err != nil {
		t.Fatal(err)
	}
	if n := counter(t, db); n&1 != 0 {
		t.Fatalf("after a write the counter is %d, odd", n)
	}
	if active(es[4]) {
		t.Fatal("an entry retracted here is reported active")
	}
	es = es[3:4]
	cached()
	if !active(es[0]) {
		t.Fatal("the entry no one retracted is not reported")
	}
}

// Open moves on a counter that a killed writer left odd, so that lookups
// need not wait for the next entry change to use the cache again.
func TestEntrySeqRepairAtOpen(t *testing.T) {
	needEntrySeq(t)
	dir := t.TempDir()
	db, err := Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.entrySeq.n.Store(41) // as a writer killed after its raise leaves it
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openEntrySeqDB(t, dir)
	if n := counter(t, db); n != 44 {
		t.Fatalf("after Open the counter is %d, want 44 (raised past 41, settled)", n)
	}
	again := openEntrySeqDB(t, dir)
	if n := counter(t, again); n != 44 {
		t.Fatalf("an Open over an even counter moved it to %d", n)
	}
}
