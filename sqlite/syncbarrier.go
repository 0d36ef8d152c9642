package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
)

// With options.barrier (off by default: see there why), the writing
// connection runs synchronous=NORMAL: in WAL mode its COMMIT
// writes the transaction's frames to the write-ahead log but does not sync
// it, so that the one writer is free for the next transaction as soon as
// the frames are written. A write is durable, and its caller is told it
// committed, only once syncBarrier has synced the log after the COMMIT:
// the sync of one group overlaps the transaction of the next, and one sync
// covers every commit that finished before it began.
//
// Checkpoints need nothing from us. SQLite's documentation of PRAGMA
// synchronous says that in WAL mode with NORMAL, the WAL file is synced
// before each checkpoint, the database file after each completed
// checkpoint, and the WAL header when the log starts to be reused after a
// checkpoint. So a checkpoint never copies into the database a frame that
// is not on disk in the log, the log is not overwritten from its start
// until the database holds its content on disk, and a log deleted when the
// last connection closes was first checkpointed and synced. What NORMAL
// gives up is only the sync at each COMMIT, which the barrier supplies.

// syncBarrier syncs the write-ahead log for writers that have committed.
// One goroutine does the syncing; a writer whose COMMIT has returned calls
// wait, which returns once a sync that began after the call has completed.
// A writer that calls wait while a sync is running waits for the next one,
// since the running sync may have begun before its COMMIT wrote its frames.
type syncBarrier struct {
	walPath string
	// syncFile makes f's data durable (fdatasync); tests replace it.
	syncFile func(f *os.File) error

	mu   sync.Mutex
	next *syncRound // the round that the next sync to begin completes
	err  error      // the first failed sync: every later wait fails

	kick chan struct{} // a round has waiters (buffered, 1)
	quit chan struct{} // closed by close
	done chan struct{} // closed when the goroutine has ended

	closeOnce sync.Once

	// Only the goroutine (and close, once it has ended) touches these.
	wal     *os.File    // the log, open for syncing
	walInfo fs.FileInfo // wal's, to tell whether the path still names it
}

// syncRound is one sync and the writers waiting for it.
type syncRound struct {
	waiters int
	started chan struct{} // closed when the sync begins
	done    chan struct{} // closed once the sync has completed or failed
	err     error         // set before done is closed
}

func newSyncRound() *syncRound {
	return &syncRound{started: make(chan struct{}), done: make(chan struct{})}
}

// newSyncBarrier starts the barrier of the database at dbPath, whose
// write-ahead log is dbPath + "-wal".
func newSyncBarrier(dbPath string, syncFile func(f *os.File) error) *syncBarrier {
	if syncFile == nil {
		syncFile = fdatasync
	}
	b := &syncBarrier{
		walPath:  dbPath + "-wal",
		syncFile: syncFile,
		next:     newSyncRound(),
		kick:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go b.run()
	return b
}

// wait returns once every write that committed before the call is
// durable: a sync of the log that began after the call has completed. It
// does not obey a context: the write has committed by then, and a caller
// that gave up would be told nothing true about it.
func (b *syncBarrier) wait() error {
	b.mu.Lock()
	if b.err != nil {
		err := b.err
		b.mu.Unlock()
		return err
	}
	r := b.next
	r.waiters++
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default: // a kick is already pending
	}
	select {
	case <-r.done:
		return r.err
	case <-b.done:
		// Closed while waiting (close does not wait for writers): not
		// known to be durable.
		select {
		case <-r.done:
			return r.err
		default:
			return errors.New("sync write-ahead log: store closed before the sync")
		}
	}
}

// waitNextStarted returns once no writer waits for a sync that has not
// begun: at once if none does, else when that sync begins (or fails, or
// the barrier closes). The group commit calls it before it takes a group:
// a group committed while earlier writes still wait for the next sync
// would wait for that same sync, so it may as well gather the writes that
// queue meanwhile and commit them in one transaction instead of two,
// which saves the second commit's write of the log (each commit writes
// every page it changed, shared ones included).
func (b *syncBarrier) waitNextStarted() {
	b.mu.Lock()
	r, pending := b.next, b.next.waiters > 0 && b.err == nil
	b.mu.Unlock()
	if !pending {
		return
	}
	select {
	case <-r.started:
	case <-b.done:
	}
}

// failed returns the error of the failed sync that stops all writes, if
// any. After a failed fsync Linux may have dropped the dirty pages it could
// not write and marked them clean, so a later sync that succeeds does not
// mean they are on disk: nothing written since can be promised durable.
func (b *syncBarrier) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// setSyncFile replaces the sync function (tests).
func (b *syncBarrier) setSyncFile(fn func(f *os.File) error) {
	b.mu.Lock()
	b.syncFile = fn
	b.mu.Unlock()
}

// run syncs the log whenever a round has waiters, one sync at a time.
func (b *syncBarrier) run() {
	defer close(b.done)
	for {
		select {
		case <-b.kick:
		case <-b.quit:
			return
		}
		b.mu.Lock()
		r := b.next
		if r.waiters == 0 {
			// A kick left over from writers that the previous round took.
			b.mu.Unlock()
			continue
		}
		// The sync begins now: writers that call wait from here on wait
		// for the next round.
		b.next = newSyncRound()
		syncFile, failed := b.syncFile, b.err
		b.mu.Unlock()
		close(r.started)

		err := failed
		if err == nil {
			err = b.syncWAL(syncFile)
		}
		b.mu.Lock()
		if err != nil && b.err == nil {
			b.err = fmt.Errorf("sync write-ahead log %s, writes refused from now on: %w", b.walPath, err)
		}
		r.err = b.err
		b.mu.Unlock()
		close(r.done)
	}
}

// syncWAL syncs the write-ahead log, opening it first if it is not open
// or if the file at its path is no longer the one open (SQLite deleted it
// when the last connection closed, after checkpointing it, and made a new
// one). A new log's directory entry is synced too, once.
func (b *syncBarrier) syncWAL(syncFile func(f *os.File) error) error {
	fi, err := os.Stat(b.walPath)
	if errors.Is(err, fs.ErrNotExist) {
		// No log: SQLite deletes it only after checkpointing it into the
		// database and syncing that, so every commit is already durable.
		return nil
	}
	if err != nil {
		return err
	}
	if b.wal == nil || !os.SameFile(fi, b.walInfo) {
		if b.wal != nil {
			// Another inode: closing our descriptor cannot drop SQLite's
			// POSIX locks, which are held per inode (and SQLite locks
			// the -shm file and the database, not the log).
			b.wal.Close()
			b.wal = nil
		}
		f, err := os.Open(b.walPath)
		if err != nil {
			return err
		}
		ofi, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		if err := syncFile(f); err != nil {
			f.Close()
			return err
		}
		if err := syncDir(filepath.Dir(b.walPath)); err != nil {
			f.Close()
			return err
		}
		// If the log was replaced again between the Stat and the Open,
		// the file now open is the newer one, synced with its entry,
		// and the next sync compares against it.
		b.wal, b.walInfo = f, ofi
		return nil
	}
	return syncFile(b.wal)
}

// close ends the goroutine, once it has finished any sync under way, and
// closes the log. Writers should have stopped (DB.Close makes a final sync
// first).
func (b *syncBarrier) close() error {
	var err error
	b.closeOnce.Do(func() {
		close(b.quit)
		<-b.done
		if b.wal != nil {
			err = b.wal.Close()
			b.wal = nil
		}
	})
	return err
}

// syncDir makes the entries of directory dir durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // a directory cannot be synced there, nor need be
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
