package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/vigil-oss/vigil"
)

// syncProbe replaces the barrier's fdatasync. When a sync begins it reads,
// through a connection of its own, which writes are committed by then
// (snapshot); once the real sync has completed it records that snapshot as
// durable. A write is durable once a sync that began after its COMMIT has
// completed: its key is in one of the durable snapshots. With hold set,
// each sync announces itself on began and waits for release before it
// syncs, so that a test can land commits while a sync is in flight.
type syncProbe struct {
	t    *testing.T
	conn *sql.DB

	mu       sync.Mutex
	query    string // one column of text: the keys of the committed writes
	durable  []map[string]bool
	syncs    int
	hold     bool
	began    chan int
	release  chan struct{}
	stop     chan struct{} // closed by unhold: hold no more
	stopOnce sync.Once
	failWith error // once set, every sync fails with it
}

func newSyncProbe(t *testing.T, dir string) *syncProbe {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName)+"?_pragma=query_only(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := &syncProbe{t: t, conn: conn, began: make(chan int), release: make(chan struct{}), stop: make(chan struct{})}
	t.Cleanup(p.unhold)
	return p
}

// snapshot returns the keys that query finds committed (none if the table
// is not there yet).
func (p *syncProbe) snapshot(query string) map[string]bool {
	keys := map[string]bool{}
	if query == "" {
		return keys
	}
	rows, err := p.conn.Query(query)
	if err != nil {
		return keys
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			p.t.Errorf("snapshot: %v", err)
			return keys
		}
		keys[k] = true
	}
	return keys
}

func (p *syncProbe) syncFile(f *os.File) error {
	p.mu.Lock()
	query, hold, fail := p.query, p.hold, p.failWith
	p.syncs++
	n := p.syncs
	p.mu.Unlock()
	snap := p.snapshot(query)
	if hold {
		select {
		case p.began <- n:
			select {
			case <-p.release:
			case <-p.stop:
			}
		case <-p.stop:
		}
	}
	if fail != nil {
		return fail
	}
	if err := fdatasync(f); err != nil {
		return err
	}
	p.mu.Lock()
	p.durable = append(p.durable, snap)
	p.mu.Unlock()
	return nil
}

// unhold ends holding syncs: a test that fails while it holds one defers
// it after its store's Close, whose final sync would wait forever.
func (p *syncProbe) unhold() { p.stopOnce.Do(func() { close(p.stop) }) }

func (p *syncProbe) set(fn func(p *syncProbe)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p)
}

// isDurable reports whether a completed sync began after key was committed.
func (p *syncProbe) isDurable(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.ContainsFunc(p.durable, func(s map[string]bool) bool { return s[key] })
}

func (p *syncProbe) syncCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.syncs
}

// openProbed opens a store in a new directory with p as its sync.
func openProbed(t *testing.T) (*DB, *syncProbe, string) {
	t.Helper()
	dir := t.TempDir()
	p := newSyncProbe(t, dir)
	db, err := open(context.Background(), dir, nil, options{barrier: true, syncFile: p.syncFile})
	if err != nil {
		t.Fatal(err)
	}
	return db, p, dir
}

const probeRows = `SELECT CAST(n AS TEXT) FROM probe_rows`

func insertProbe(ctx context.Context, n int) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO probe_rows (n) VALUES (?)`, n)
		return err
	}
}

// TestWritesReturnOnlyWhenSynced checks every write path of the store: no
// caller is told its write committed until a sync of the log that began
// after its COMMIT has completed. The sync is injected; it reads what is
// committed as it begins and counts that as durable only once it has
// synced. Without the barrier (synchronous=NORMAL alone) the writes return
// with no sync behind them and every case fails.
func TestWritesReturnOnlyWhenSynced(t *testing.T) {
	ctx := context.Background()

	t.Run("migrations", func(t *testing.T) {
		dir := t.TempDir()
		p := newSyncProbe(t, dir)
		p.query = `SELECT CAST(version_id AS TEXT) FROM goose_db_version`
		db, err := open(ctx, dir, nil, options{barrier: true, syncFile: p.syncFile})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var last string
		if err := db.rdb.QueryRow(`SELECT CAST(MAX(version_id) AS TEXT) FROM goose_db_version`).Scan(&last); err != nil {
			t.Fatal(err)
		}
		if !p.isDurable(last) {
			t.Errorf("Open returned before migration %s was synced", last)
		}
	})

	db, p, _ := openProbed(t)
	defer db.Close()
	if _, err := db.wdb.ExecContext(ctx, `CREATE TABLE probe_rows (n INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	p.set(func(p *syncProbe) { p.query = probeRows })

	t.Run("write", func(t *testing.T) {
		if err := db.write(ctx, insertProbe(ctx, 1)); err != nil {
			t.Fatal(err)
		}
		if !p.isDurable("1") {
			t.Error("write returned before its commit was synced")
		}
	})

	t.Run("writeGrouped", func(t *testing.T) {
		// Many at once, so that they form groups, and each group's sync
		// overlaps the next group's transaction.
		var wg sync.WaitGroup
		for i := 100; i < 140; i++ {
			wg.Go(func() {
				if err := db.writeGrouped(ctx, insertProbe(ctx, i)); err != nil {
					t.Error(err)
					return
				}
				if !p.isDurable(fmt.Sprint(i)) {
					t.Errorf("grouped write %d returned before its commit was synced", i)
				}
			})
		}
		wg.Wait()
	})

	t.Run("writeGrouped alone", func(t *testing.T) {
		// A write that fails in its group, guarded or not, and succeeds
		// when run alone: its alone commit must be synced too.
		held, release := make(chan struct{}), make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := db.writeGrouped(ctx, func(tx *sql.Tx) error { close(held); <-release; return nil }); err != nil {
				t.Error(err)
			}
		})
		<-held
		runs := 0
		for i, fn := range []func(tx *sql.Tx) error{
			insertProbe(ctx, 200),
			func(tx *sql.Tx) error {
				if runs++; runs < 3 {
					return errors.New("not yet")
				}
				return insertProbe(ctx, 201)(tx)
			},
			insertProbe(ctx, 202),
		} {
			wg.Go(func() {
				if err := db.writeGrouped(ctx, fn); err != nil {
					t.Error(err)
					return
				}
				if k := fmt.Sprint(200 + i); !p.isDurable(k) {
					t.Errorf("grouped write %s returned before its commit was synced", k)
				}
			})
			waitFor(t, "the write to queue", func() bool { return db.group.Waiting() == i+1 })
		}
		close(release)
		wg.Wait()
		if runs != 3 {
			t.Errorf("the failing write ran %d times, want 3 (the last alone)", runs)
		}
	})

	t.Run("service", func(t *testing.T) {
		p.set(func(p *syncProbe) { p.query = `SELECT name FROM banks` })
		if err := NewBankService(db).CreateBank(ctx, &vigil.Bank{Name: "synced", Enabled: true}); err != nil {
			t.Fatal(err)
		}
		if !p.isDurable("synced") {
			t.Error("CreateBank returned before its commit was synced")
		}
	})

	t.Run("import", func(t *testing.T) {
		b := &vigil.Bank{Name: "imported", Enabled: true}
		if err := NewBankService(db).CreateBank(ctx, b); err != nil {
			t.Fatal(err)
		}
		last := fmt.Sprintf("%064x", 299)
		// Hashes are stored as bytes.
		p.set(func(p *syncProbe) {
			p.query = `SELECT lower(hex(value)) FROM entries WHERE bank_id = ` + fmt.Sprint(b.ID)
		})
		if _, err := NewEntryService(db).ImportEntries(ctx, b.ID, "importer", pdqEntries(0, 300)); err != nil {
			t.Fatal(err)
		}
		if !p.isDurable(last) {
			t.Error("ImportEntries returned before its commit was synced")
		}
	})

	t.Run("close", func(t *testing.T) {
		// A write outside the store's paths, committed and not synced:
		// Close syncs it before closing.
		p.set(func(p *syncProbe) { p.query = probeRows })
		if _, err := db.wdb.ExecContext(ctx, `INSERT INTO probe_rows (n) VALUES (300)`); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if !p.isDurable("300") {
			t.Error("Close returned before the last commit was synced")
		}
	})
}

// TestSyncOverlapsNextCommit checks the order of commits and syncs with
// the sync held in flight, for plain and grouped writes: a writer does
// not return while the sync after its commit is held; the next write
// commits meanwhile (the writer is not held by the sync); the held sync,
// which began before its commit, does not release it. Plain writes: a
// third commits too and the next sync releases both at once; grouped
// ones: groupedAfterOverlap.
func TestSyncOverlapsNextCommit(t *testing.T) {
	ctx := context.Background()
	for _, grouped := range []bool{false, true} {
		t.Run(fmt.Sprintf("grouped=%v", grouped), func(t *testing.T) {
			db, p, _ := openProbed(t)
			defer db.Close()
			if _, err := db.wdb.ExecContext(ctx, `CREATE TABLE probe_rows (n INTEGER PRIMARY KEY)`); err != nil {
				t.Fatal(err)
			}
			p.set(func(p *syncProbe) { p.query, p.hold = probeRows, true })
			defer p.unhold()
			write := db.write
			if grouped {
				write = db.writeGrouped
			}
			visible := func(n int) bool {
				var c int
				if err := db.rdb.QueryRow(`SELECT COUNT(*) FROM probe_rows WHERE n = ?`, n).Scan(&c); err != nil {
					t.Fatal(err)
				}
				return c == 1
			}
			done := make([]chan error, 4)
			start := func(n int) {
				done[n] = make(chan error, 1)
				go func() { done[n] <- write(ctx, insertProbe(ctx, n)) }()
			}
			returned := func(n int) bool {
				select {
				case err := <-done[n]:
					done[n] <- err
					return true
				default:
					return false
				}
			}

			base := p.syncCount() // Open's
			start(1)
			select {
			case s := <-p.began:
				if s != base+1 {
					t.Fatalf("sync %d began, want the first", s)
				}
			case err := <-done[1]:
				t.Fatalf("write 1 returned (%v) before any sync of its commit began", err)
			}
			// Sync 1 is in flight: write 2 commits meanwhile.
			start(2)
			waitVisible(t, "write 2 to commit while sync 1 is in flight", func() bool { return visible(2) })
			if grouped {
				groupedAfterOverlap(t, db, p, base, done, start, returned, visible)
				return
			}
			// A plain write commits too, and waits for the same sync.
			start(3)
			waitVisible(t, "write 3 to commit while sync 1 is in flight", func() bool { return visible(3) })
			if returned(1) {
				t.Fatal("write 1 returned while the sync after its commit was held")
			}

			p.release <- struct{}{}
			if err := <-done[1]; err != nil {
				t.Fatal(err)
			}
			select {
			case s := <-p.began:
				if s != base+2 {
					t.Fatalf("sync %d began, want the second", s)
				}
			case err := <-done[2]:
				t.Fatalf("write 2 returned (%v) on a sync that began before its commit", err)
			case err := <-done[3]:
				t.Fatalf("write 3 returned (%v) on a sync that began before its commit", err)
			}
			if returned(2) || returned(3) {
				t.Fatal("writes 2 and 3 returned while the sync after their commits was held")
			}
			p.release <- struct{}{}
			for _, n := range []int{2, 3} {
				if err := <-done[n]; err != nil {
					t.Fatal(err)
				}
				if !p.isDurable(fmt.Sprint(n)) {
					t.Errorf("write %d returned before its commit was synced", n)
				}
			}
			// One for write 1 and one for writes 2 and 3.
			if n := p.syncCount() - base; n != 2 {
				t.Errorf("%d syncs, want 2", n)
			}
		})
	}
}

// groupedAfterOverlap goes on with TestSyncOverlapsNextCommit for grouped
// writes, with sync 1 held and write 2 committed after it began: write 3's
// group does not commit while write 2 waits for a sync not yet begun
// (Group.Ready), since it would wait for that same sync; it commits once
// sync 2 has begun, while sync 2 is in flight, and sync 3 releases it.
func groupedAfterOverlap(t *testing.T, db *DB, p *syncProbe, base int, done []chan error, start func(int), returned, visible func(int) bool) {
	start(3)
	waitFor(t, "write 3 to queue", func() bool { return db.group.Waiting() == 1 })
	if visible(3) {
		t.Error("write 3 committed while write 2 waited for a sync not yet begun")
	}
	if returned(1) {
		t.Fatal("write 1 returned while the sync after its commit was held")
	}
	p.release <- struct{}{}
	if err := <-done[1]; err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-p.began:
		if s != base+2 {
			t.Fatalf("sync %d began, want the second", s)
		}
	case err := <-done[2]:
		t.Fatalf("write 2 returned (%v) on a sync that began before its commit", err)
	}
	waitVisible(t, "write 3 to commit while sync 2 is in flight", func() bool { return visible(3) })
	if returned(2) || returned(3) {
		t.Fatal("writes 2 or 3 returned while the sync after their commits was held")
	}
	p.release <- struct{}{}
	if err := <-done[2]; err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-p.began:
		if s != base+3 {
			t.Fatalf("sync %d began, want the third", s)
		}
	case err := <-done[3]:
		t.Fatalf("write 3 returned (%v) on a sync that began before its commit", err)
	}
	p.release <- struct{}{}
	if err := <-done[3]; err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 3} {
		if !p.isDurable(fmt.Sprint(n)) {
			t.Errorf("write %d returned before its commit was synced", n)
		}
	}
	if n := p.syncCount() - base; n != 3 {
		t.Errorf("%d syncs, want 3", n)
	}
}

// waitVisible is waitFor for a condition that queries the database, with
// fewer tries: a bound on tries, not on time, that a commit that can
// proceed meets long before.
func waitVisible(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 100_000 {
		if cond() {
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("waited in vain for %s", what)
}

// TestSyncFailureStopsWrites checks that when a sync of the log fails, the
// writers waiting on it get an error, since their writes may not be on
// disk, and the store refuses every write after, on every path: after a
// failed fsync Linux may have dropped the pages it failed to write, so no
// later sync can vouch for them.
func TestSyncFailureStopsWrites(t *testing.T) {
	ctx := context.Background()
	db, p, _ := openProbed(t)
	if _, err := db.wdb.ExecContext(ctx, `CREATE TABLE probe_rows (n INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if err := db.write(ctx, insertProbe(ctx, 1)); err != nil {
		t.Fatal(err)
	}
	errEIO := errors.New("injected EIO")
	p.set(func(p *syncProbe) { p.failWith = errEIO })
	if err := db.write(ctx, insertProbe(ctx, 2)); !errors.Is(err, errEIO) {
		t.Errorf("write whose sync failed: %v, want the sync's error", err)
	}
	// The sync would now succeed: writes stay refused all the same.
	p.set(func(p *syncProbe) { p.failWith = nil })
	syncs := p.syncCount()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			if err := db.writeGrouped(ctx, insertProbe(ctx, 10+i)); !errors.Is(err, errEIO) {
				t.Errorf("grouped write after a failed sync: %v, want refused with the sync's error", err)
			}
		})
	}
	wg.Wait()
	if err := db.write(ctx, insertProbe(ctx, 3)); !errors.Is(err, errEIO) {
		t.Errorf("write after a failed sync: %v, want refused with the sync's error", err)
	}
	if err := NewBankService(db).CreateBank(ctx, &vigil.Bank{Name: "late", Enabled: true}); !errors.Is(err, errEIO) {
		t.Errorf("CreateBank after a failed sync: %v, want refused with the sync's error", err)
	}
	var rows []int
	r, err := db.rdb.QueryContext(ctx, `SELECT n FROM probe_rows ORDER BY n`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var n int
		if err := r.Scan(&n); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, n)
	}
	r.Close()
	// Row 2 committed before its sync failed; nothing after it was made.
	if fmt.Sprint(rows) != "[1 2]" {
		t.Errorf("rows %v, want [1 2]", rows)
	}
	if n := p.syncCount(); n != syncs {
		t.Errorf("%d syncs after writes were refused, want none", n-syncs)
	}
	if err := db.Close(); !errors.Is(err, errEIO) {
		t.Errorf("Close after a failed sync: %v, want the sync's error", err)
	}
}

// TestSyncBarrierFollowsTheLog checks that the barrier syncs the file that
// the log's path names: it opens the log on first use and again when the
// path names another file (SQLite deleted the log and made a new one), and
// syncs nothing when there is no log (deleted once checkpointed).
func TestSyncBarrierFollowsTheLog(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "x.db")
	var mu sync.Mutex
	var synced []os.FileInfo
	b := newSyncBarrier(dbPath, func(f *os.File) error {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		mu.Lock()
		synced = append(synced, fi)
		mu.Unlock()
		return fdatasync(f)
	})
	defer b.close()
	if err := b.wait(); err != nil {
		t.Fatalf("no log yet: %v", err)
	}
	if len(synced) != 0 {
		t.Fatalf("synced %d files with no log", len(synced))
	}
	wal := dbPath + "-wal"
	if err := os.WriteFile(wal, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := b.wait(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(wal); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(wal, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.wait(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	now, err := os.Stat(wal)
	if err != nil {
		t.Fatal(err)
	}
	if len(synced) != 3 || !os.SameFile(synced[0], synced[1]) || os.SameFile(synced[1], synced[2]) || !os.SameFile(synced[2], now) {
		t.Errorf("synced %d files, want the first log twice and then the new one", len(synced))
	}
}

// TestUnchangedWriteWaitsForWhatItRead checks the writes that change no
// rows (an idempotent OpenCase that finds its case): one returns without a
// sync when every earlier change is durable, but while a change it may
// have read still waits for its sync, it waits for that sync too, plain or
// grouped, since its caller must not be told of the change before it is
// durable.
func TestUnchangedWriteWaitsForWhatItRead(t *testing.T) {
	ctx := context.Background()
	for _, grouped := range []bool{false, true} {
		t.Run(fmt.Sprintf("grouped=%v", grouped), func(t *testing.T) {
			db, p, _ := openProbed(t)
			defer db.Close()
			if _, err := db.wdb.ExecContext(ctx, `CREATE TABLE probe_rows (n INTEGER PRIMARY KEY)`); err != nil {
				t.Fatal(err)
			}
			write := db.write
			if grouped {
				write = db.writeGrouped
			}
			read := func(n int, found *bool) func(tx *sql.Tx) error {
				return func(tx *sql.Tx) error {
					var c int
					err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM probe_rows WHERE n = ?`, n).Scan(&c)
					*found = c == 1
					return err
				}
			}
			if err := write(ctx, insertProbe(ctx, 1)); err != nil {
				t.Fatal(err)
			}
			base := p.syncCount()
			var found bool
			if err := write(ctx, read(1, &found)); err != nil || !found {
				t.Fatalf("unchanged write: found %v, %v", found, err)
			}
			if n := p.syncCount() - base; n != 0 {
				t.Errorf("an unchanged write with nothing pending made %d syncs, want none", n)
			}

			p.set(func(p *syncProbe) { p.query, p.hold = probeRows, true })
			defer p.unhold()
			done2 := make(chan error, 1)
			go func() { done2 <- write(ctx, insertProbe(ctx, 2)) }()
			select {
			case <-p.began:
			case err := <-done2:
				t.Fatalf("write 2 returned (%v) before its sync began", err)
			}
			// Sync of write 2 in flight: an unchanged write that reads
			// row 2 must wait for a sync too.
			var found2 bool
			done3 := make(chan error, 1)
			go func() { done3 <- write(ctx, read(2, &found2)) }()
			// Give it every chance to return wrongly (a bound on tries).
			for range 20_000 {
				select {
				case err := <-done3:
					t.Fatalf("unchanged write returned (%v, found %v) while the change it read was not synced", err, found2)
				default:
					runtime.Gosched()
				}
			}
			p.release <- struct{}{}
			if err := <-done2; err != nil {
				t.Fatal(err)
			}
			// Either it joined write 2's sync's successor or it finds
			// nothing pending once write 2 has settled; it must not
			// return before write 2's sync completed.
			go func() {
				for {
					select {
					case <-p.began:
						p.release <- struct{}{}
					case <-p.stop:
						return
					}
				}
			}()
			if err := <-done3; err != nil || !found2 {
				t.Fatalf("unchanged write: found %v, %v", found2, err)
			}
			if !p.isDurable("2") {
				t.Error("unchanged write returned before the change it read was synced")
			}
		})
	}
}
