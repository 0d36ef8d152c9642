package matcher

import (
	"context"
	"sync"

	"github.com/vigil-oss/vigil"
)

// defaultProvenanceEntries bounds the entries whose provenance a Matcher
// keeps in memory: the ones matched most recently, a few megabytes. The
// index itself holds only ids and hashes (p-mem's budget is per entry),
// so provenance is kept for what traffic matches, not for every entry.
const defaultProvenanceEntries = 1 << 14

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
	store vigil.EntryVersions
	max   int

	// counter, if set, is the store's shared entry change counter, and
	// find its plain read of an entry (FindEntryByID).
	counter vigil.EntryChangeCounter
	find    func(ctx context.Context, id int64) (*vigil.Entry, error)
	// afterRead, if set, runs between a store read made to fill the cache
	// and the check that decides whether to keep it (tests).
	afterRead func(id int64)

	mu      sync.RWMutex
	seq     int64
	entries map[int64]*vigil.Entry
}

// newProvenance returns the provenance cache of entries, nil if the store
// cannot say when entries change (then every match reads the store).
func newProvenance(entries vigil.EntryService, max int) *provenance {
	v, ok := entries.(vigil.EntryVersions)
	if !ok {
		return nil
	}
	p := &provenance{store: v, max: max}
	if c, ok := entries.(vigil.EntryChangeCounter); ok {
		if _, ok := c.EntryChangeCount(); ok {
			p.counter, p.find = c, entries.FindEntryByID
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

// lookupSeq is the store's change sequence as one lookup read it, once.
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
			return e, nil
		}
	}
	e, err := p.find(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.afterRead != nil {
		p.afterRead(id)
	}
	if settled {
		if m, ok := p.counter.EntryChangeCount(); ok && m == n {
			p.put(e, int64(n))
		}
	}
	return e, nil
}
