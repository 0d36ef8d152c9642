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
// one change sequence (seq). A cached entry is used only when the store's
// change sequence, read during the lookup, is still seq: no entry has
// changed since, so a retraction or quarantine committed before the
// lookup (by this process or any other) is never missed. When the
// sequence has moved, the cache is emptied and refilled at the new one.
type provenance struct {
	store vigil.EntryVersions
	max   int

	mu      sync.RWMutex
	seq     int64
	entries map[int64]*vigil.Entry
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
