package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The entry change counter: a seqlock over entry changes, in a small file
// beside the database (FileName + entrySeqSuffix) that every process
// opening the database maps shared, so that a lookup in `vigil serve`
// learns with one atomic load whether any entry changed since it cached
// one, even when the change was made by a `vigil bank …` command.
//
// Writers (under SQLite's write lock, which every entry-changing
// transaction holds from BEGIN IMMEDIATE):
//
//   - mark: nextSeq marks the transaction as one that changes entries.
//   - raise: just before a marked transaction's COMMIT, the counter goes
//     from n to the next odd number: n+1 if n is even, n+2 if it is odd (a
//     writer killed before its settle left it odd). A compare-and-swap, so
//     that an earlier writer's late settle cannot undo it. Raised this
//     late, and not at the mark, so that a long import leaves the cache
//     usable until its commit: until then readers see the store without
//     it, as the even value says.
//   - settle: after COMMIT or rollback, the counter goes from the odd
//     value this transaction set, and only from it, to the even one above
//     it. If a later writer has already raised it past that, settle does
//     nothing: that writer settles it.
//
// Invariant: the counter only grows, and it is odd from before each entry
// change's COMMIT until after it returns; so every entry change commits
// while the counter is odd, and none while it holds any one even value.
// It follows that a store read that began after a load of an even value n
// and ended before another load of n saw the store exactly as it is for as
// long as the counter is n; and a write that has returned has moved the
// counter past every value that was current before its COMMIT. Readers
// (vigil.EntryChangeCounter, matcher/provenance.go) therefore cache only
// under an even value unchanged across the read, and use the cache only
// while the counter still holds that value. A writer killed between
// raise and settle leaves the counter odd: readers bypass the cache
// (correct, slower) until the next entry change, whose raise moves it to
// a new odd value and whose settle makes it even again.
//
// The counter's numbers are its own, not change_seq's: a transaction
// raises it by 2 however many sequence numbers it takes.

const (
	entrySeqSuffix  = "-entryseq"
	entrySeqMagic   = "VIGILSEQ"
	entrySeqVersion = 1
	// entrySeqSize is the counter file's fixed size: one page.
	entrySeqSize = 4096
	// entrySeqOffset is the counter's offset in the file, 8-byte aligned
	// (the mapping is page-aligned).
	entrySeqOffset = 16
)

// entrySeqHeader returns the contents of a new counter file: the magic,
// the version, and a counter of zero.
func entrySeqHeader() []byte {
	b := make([]byte, entrySeqSize)
	copy(b, entrySeqMagic)
	binary.LittleEndian.PutUint32(b[8:], entrySeqVersion)
	return b
}

// parseEntrySeq checks the contents of a counter file. It never changes
// b. A file that fails is reported, not repaired: another process may
// have it mapped, and a new file in its place would split the processes
// between two counters, so that one would miss the other's changes.
func parseEntrySeq(b []byte) error {
	if len(b) != entrySeqSize {
		return fmt.Errorf("entry change counter file is %d bytes, want %d", len(b), entrySeqSize)
	}
	if !bytes.Equal(b[:8], []byte(entrySeqMagic)) {
		return fmt.Errorf("entry change counter file has magic %q, want %q", b[:8], entrySeqMagic)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != entrySeqVersion {
		return fmt.Errorf("entry change counter file has version %d, want %d", v, entrySeqVersion)
	}
	if r := binary.LittleEndian.Uint32(b[12:]); r != 0 {
		return fmt.Errorf("entry change counter file has %#x in its reserved header word", r)
	}
	return nil
}

// entrySeq is the mapped counter of one open database. A nil *entrySeq
// (no shared memory on this OS) raises nothing and loads nothing.
type entrySeq struct {
	mem   []byte // the mapping, entrySeqSize bytes
	n     *atomic.Uint64
	unmap func([]byte) error

	mu sync.Mutex
	// mine maps each write transaction of this process that has been
	// marked and not settled to the odd value its raise set, 0 before it.
	// Usually one; two for a moment, when a transaction's connection is
	// handed to the next one before the first's deferred settle has run.
	mine map[any]uint64

	// Test hooks, if set: afterRaise runs after a raise (before the
	// COMMIT), beforeSettle before a settle that will move the counter.
	afterRaise, beforeSettle func()
}

// newEntrySeq wraps a mapping of a counter file, already checked.
func newEntrySeq(mem []byte, unmap func([]byte) error) (*entrySeq, error) {
	if err := parseEntrySeq(mem); err != nil {
		return nil, err
	}
	return &entrySeq{
		mem:   mem,
		n:     (*atomic.Uint64)(unsafe.Pointer(&mem[entrySeqOffset])),
		unmap: unmap,
		mine:  map[any]uint64{},
	}, nil
}

// load returns the counter; ok is false if there is none.
func (s *entrySeq) load() (n uint64, ok bool) {
	if s == nil {
		return 0, false
	}
	return s.n.Load(), true
}

// mark records that the write transaction tx changes entries.
func (s *entrySeq) mark(tx any) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.mine[tx]; !ok {
		s.mine[tx] = 0
	}
}

// raise makes the counter odd, and new, if tx is marked, once. It runs just
// before tx's COMMIT, with SQLite's write lock held: tx has begun
// (IMMEDIATE).
func (s *entrySeq) raise(tx *sql.Tx) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.mine[tx]; !ok || n != 0 {
		return
	}
	for {
		n := s.n.Load()
		next := n + 1
		if n&1 == 1 {
			next = n + 2
		}
		if s.n.CompareAndSwap(n, next) {
			s.mine[tx] = next
			break
		}
	}
	if s.afterRaise != nil {
		s.afterRaise()
	}
}

// settle makes the counter even again after tx has committed or rolled
// back, if tx raised it and no later writer has raised it since.
func (s *entrySeq) settle(tx *sql.Tx) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.mine[tx]
	delete(s.mine, tx)
	if n == 0 {
		return // not marked, or rolled back before its raise
	}
	if s.beforeSettle != nil {
		s.beforeSettle()
	}
	s.n.CompareAndSwap(n, n+1)
}

// close unmaps the counter. Nothing may use it after.
func (s *entrySeq) close() error {
	if s == nil || s.mem == nil {
		return nil
	}
	mem := s.mem
	s.mem = nil
	if err := s.unmap(mem); err != nil {
		return fmt.Errorf("unmap entry change counter: %w", err)
	}
	return nil
}

// EntryChangeCount implements vigil.EntryChangeCounter with the counter
// shared by every process that has the database open; false on an OS
// without it (there the matcher reads change_seq, EntryVersions).
func (s *EntryService) EntryChangeCount() (uint64, bool) { return s.db.entrySeq.load() }

// repairEntrySeq moves on a counter that a writer killed between its raise
// and its settle left odd, so that lookups stop bypassing the cache at once
// rather than at the next entry change: an empty write that raises and
// settles it. Another writer committing at this moment leaves it odd
// briefly too; the empty write then queues behind it, and is harmless. It
// only costs speed if it fails, so a failure is logged, not returned.
func (db *DB) repairEntrySeq(ctx context.Context) {
	if n, ok := db.entrySeq.load(); !ok || n&1 == 0 {
		return
	}
	err := db.writeAudited(ctx, nil, func(tx *sql.Tx) error {
		db.entrySeq.mark(tx)
		return nil
	})
	if err != nil {
		db.logger.Warn("entry change counter left odd by a killed writer: lookups read provenance from the store until the next entry change", "err", err)
	}
}
