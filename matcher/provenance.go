package matcher

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-oss/vigil"
)

// defaultProvenanceEntries bounds the entries whose provenance a Matcher
// keeps in memory: the ones matched most recently, a few megabytes. The
// index itself holds only ids and hashes (p-mem's budget is per entry),
// so provenance is kept for what traffic matches, not for every entry.
const defaultProvenanceEntries = 1 << 14

// unannouncedCheck is how often, at most, a cache checked by the shared
// counter also reads the store's change sequence, to catch entry changes
// that did not raise the counter: a process of an older Vigil writing to
// the database, or one that mapped another counter file (the file was
// removed while the database was open). Such a change is served stale for
// at most this long once lookups resume hitting the cache.
const unannouncedCheck = time.Second

// provenance keeps the entries recently matched, as the store held them at
// one version of its entries (seq), and hands one out only while the store
// is still at that version: no entry has changed since, so a retraction or
// quarantine committed before the lookup (by this process or any other) is
// never missed. When the version moves, the cache is emptied and refilled
// at the new one.
//
// The version is the store's vigil.EntryChangeCounter when it has one (one
// atomic load of memory shared by every process with the store open), else
// vigil.EntryVersions' change sequence (a store read, once per lookup). The
// two are never mixed in one cache: the counter's numbers are its own.
type provenance struct {
	store  vigil.EntryVersions
	max    int
	logger *slog.Logger

	// counter, if set, is the store's shared entry change counter.
	counter vigil.EntryChangeCounter
	// afterRead, if set, runs between a store read made to fill the cache
	// and the check that decides whether to keep it (tests).
	afterRead func(id int64)
	// since is the time since the cache was made (tests set their own);
	// checked its value at the last unannouncedCheck.
	since   func() time.Duration
	checked atomic.Int64

	mu      sync.RWMutex
	seq     int64
	entries map[int64]*vigil.Entry
	// changeSeq is, with the counter, the store's change sequence that the
	// fills under seq read: all read one state of the store, so one value,
	// unless an entry changed without raising the counter.
	changeSeq int64
}

// newProvenance returns the provenance cache of entries, nil if the store
// cannot say when entries change (then every match reads the store).
func newProvenance(entries vigil.EntryService, max int, logger *slog.Logger) *provenance {
	v, ok := entries.(vigil.EntryVersions)
	if !ok {
		return nil
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	p := &provenance{store: v, max: max, logger: logger, since: func() time.Duration { return time.Since(start) }}
	if c, ok := entries.(vigil.EntryChangeCounter); ok {
		if _, ok := c.EntryChangeCount(); ok {
			p.counter = c
		}
	}
	return p
}

// get returns a cached entry and the sequence the cache is current at.
func (p *provenance) get(id int64) (*vigil.Entry, int64, bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	e, ok := p.entries[id]
	return e, p.seq, ok
}

// put caches e, read from the store at sequence seq. Entries read at an
// older sequence than the cache's are not kept; a newer one empties it.
func (p *provenance) put(e *vigil.Entry, seq int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case seq < p.seq:
		return
	case seq > p.seq || p.entries == nil:
		p.seq, p.entries = seq, make(map[int64]*vigil.Entry, 64)
	}
	if len(p.entries) >= p.max {
		for id := range p.entries { // an arbitrary one: map order is random
			delete(p.entries, id)
			break
		}
	}
	p.entries[e.ID] = e
}

// lookupSeq is the store's change sequence as one lookup read it, once
// (unused over the shared counter: each match loads the counter itself).
type lookupSeq struct {
	seq  int64
	read bool
}

// entry returns the entry of id for a lookup: from memory if nothing has
// changed in the store since it was cached, else from the store.
func (p *provenance) entry(ctx context.Context, v *lookupSeq, id int64) (*vigil.Entry, error) {
	if p.counter != nil {
		return p.entryCounted(ctx, id)
	}
	if e, seq, ok := p.get(id); ok {
		if !v.read {
			n, err := p.store.EntryChangeSeq(ctx)
			if err != nil {
				return nil, err
			}
			v.seq, v.read = n, true
		}
		if v.seq == seq {
			return e, nil
		}
	}
	e, seq, err := p.store.FindEntryAndSeq(ctx, id)
	if err != nil {
		return nil, err
	}
	if !v.read {
		// Read during this lookup, so as good a check as a read of its own.
		v.seq, v.read = seq, true
	}
	p.put(e, seq)
	return e, nil
}

// entryCounted is entry over the store's shared change counter, a seqlock
// (see vigil.EntryChangeCounter): the counter is loaded before the cache
// is consulted or the store read, the cache is used or filled only under
// an even value, and a fill is kept only if the counter still holds that
// value after the read. So every entry cached under n is as the store
// holds it while the counter is n, and one is handed out only while the
// counter is n, which it stops being before any later change's write
// returns (a change that commits meanwhile does so with the counter odd).
// A fill tagged with a value loaded after the read instead could hold a
// snapshot older than a change committed in between: a stale entry served
// until the next change.
func (p *provenance) entryCounted(ctx context.Context, id int64) (*vigil.Entry, error) {
	n, ok := p.counter.EntryChangeCount()
	settled := ok && n&1 == 0
	if settled {
		if e, seq, hit := p.get(id); hit && seq == int64(n) {
			if !p.checkDue() {
				return e, nil
			}
			if err := p.checkUnannounced(ctx, n); err != nil {
				return nil, err
			}
			if e, seq, hit := p.get(id); hit && seq == int64(n) {
				return e, nil
			}
		}
	}
	e, changeSeq, err := p.store.FindEntryAndSeq(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.afterRead != nil {
		p.afterRead(id)
	}
	if settled {
		if m, ok := p.counter.EntryChangeCount(); ok && m == n {
			p.putCounted(e, int64(n), changeSeq)
		}
	}
	return e, nil
}

// putCounted is put for entryCounted: e was read under counter value n, in
// a snapshot at change sequence changeSeq. A fill that read another change
// sequence than the cache's under the same n shows an entry change that
// did not raise the counter: the older of the two is dropped.
func (p *provenance) putCounted(e *vigil.Entry, n, changeSeq int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case n < p.seq:
		return
	case n > p.seq || p.entries == nil:
		p.seq, p.changeSeq, p.entries = n, changeSeq, make(map[int64]*vigil.Entry, 64)
	case changeSeq < p.changeSeq:
		return // read before an unannounced change that a later fill saw
	case changeSeq > p.changeSeq:
		p.unannounced(changeSeq)
	}
	if len(p.entries) >= p.max {
		for id := range p.entries {
			delete(p.entries, id)
			break
		}
	}
	p.entries[e.ID] = e
}

// checkDue reports whether this lookup is the one to make the periodic
// unannouncedCheck: one lookup per period.
func (p *provenance) checkDue() bool {
	now, last := int64(p.since()), p.checked.Load()
	return now-last >= int64(unannouncedCheck) && p.checked.CompareAndSwap(last, now)
}

// checkUnannounced reads the store's change sequence while the counter
// holds n, and empties the cache if it moved past what the cache's fills
// read: an entry changed without raising the counter.
func (p *provenance) checkUnannounced(ctx context.Context, n uint64) error {
	changeSeq, err := p.store.EntryChangeSeq(ctx)
	if err != nil {
		return err
	}
	if m, ok := p.counter.EntryChangeCount(); !ok || m != n {
		return nil // read while the counter moved: nothing to conclude
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.seq == int64(n) && p.entries != nil && changeSeq > p.changeSeq {
		p.unannounced(changeSeq)
	}
	return nil
}

// unannounced empties the cache after an entry change that did not raise
// the counter, now at change sequence changeSeq. p.mu is held.
func (p *provenance) unannounced(changeSeq int64) {
	p.logger.Warn("an entry changed without raising the shared entry change counter: is a process of an older Vigil writing to the database, or was its counter file removed while it was open?",
		"change_seq", changeSeq, "was", p.changeSeq)
	p.changeSeq, p.entries = changeSeq, make(map[int64]*vigil.Entry, 64)
}
