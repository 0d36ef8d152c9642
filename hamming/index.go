// Package hamming finds every stored 256-bit hash (PDQ) within a Hamming
// radius of a query, exactly: nothing within the radius is ever missed.
//
// The bulk of the entries sit in an immutable, compacted segment indexed by
// multi-index hashing (MIH): each hash is cut into m substrings, and by the
// pigeonhole principle a hash within radius d of the query has some substring
// within about d/m of the query's, so only those buckets need checking. A
// per-query cost estimate falls back to a linear scan when the buckets hold
// more candidates than a scan would touch, as happens near large clusters of
// near-duplicates.
//
// Updates go to a small append-only delta and a tombstone bitmap; Compact
// (or the background compactor) merges them into a fresh segment and swaps it
// in atomically. Readers load one immutable view through an atomic pointer and
// never wait for writers.
//
// Hashes are [32]byte in the order of the hex string: byte i is the i-th byte
// of hex.DecodeString(hex64).
package hamming

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
)

// Result is one entry within the search radius.
type Result struct {
	ID       uint64
	Distance int
}

// Options configures an Index. The zero value is usable.
type Options struct {
	// Substrings forces the multi-index layout of compacted segments: 11
	// (22-bit substrings), 12 (21- and 22-bit), 13 (20- and 19-bit), 16
	// (16-bit) or 32 (8-bit); a negative value disables the index so every
	// search scans. Zero, and any other value, choose by size: a scan below
	// 2048 entries, 32×8 bits below 64K, 16×16 bits below 512K, 13
	// substrings below 4M, 12 below 8M, else 11.
	Substrings int

	// MaxDelta is the number of uncompacted changes (added entries plus
	// tombstones) at which the background compactor is woken. The delta is
	// scanned linearly by every query, so it trades query time against
	// compaction frequency. Zero means 16384.
	MaxDelta int

	// Grouped stores segments of 8M entries or more, where the automatic
	// layout is 11 substrings of 22 bits, in the grouped Elias–Fano layout
	// (grouped.go) even on a CPU without its assembly (AVX2 and fast
	// PDEP), where it searches at 1.5 to 1.7 times the plain layout's CPU
	// a query. On a CPU with them that layout is the default from 8M
	// entries (unless Plain): 63.1 bytes an entry at 10M instead of 70.1,
	// at 1.0 to 1.3 times the plain layout's CPU a query
	// (docs/benchmarks.md, "The grouped layout by default"). Results are
	// identical whichever layout a segment takes.
	Grouped bool

	// Plain keeps the plain layout at every size: 7 bytes an entry more
	// from 8M entries, for a little less CPU a query. Grouped, if also
	// set, wins.
	Plain bool

	// denseDirs keeps one uint32 per bucket, the layout before the compact
	// directories, so benchmarks can measure against it in the same run.
	denseDirs bool

	// lengths forces the substring lengths, in order, so that benchmarks
	// can try layouts that Substrings does not name. It must pass
	// validLengths.
	lengths []int

	// grouped forces the grouped Elias–Fano layout (grouped.go) on (> 0)
	// or off (< 0) for any indexed segment; 0 leaves it to useGrouped.
	grouped int

	// blocked sets the grouped layout's coding: each substring's sequence
	// in blocks of 2^blocked high parts (efBlk, blocked.go); 0 means
	// blocks of 2^defaultBlockShift, -1 one efSeq (eliasfano.go), the
	// coding of session 10, kept for the benchmarks.
	blocked int

	// staged keeps the blocked probe's decode of session 11 (all samples,
	// then all blocks, prefetched stage by stage) for the benchmarks; the
	// default reads them in rolling pipelines (probeBlocked).
	staged bool

	// pureGo turns the grouped layout's assembly off (the AVX2 filter
	// and the decode), for the benchmarks.
	pureGo bool
}

// Stats describes an index at one moment.
type Stats struct {
	Entries    int   // live entries
	Base       int   // rows in the compacted segment, tombstoned ones included
	Delta      int   // rows added since the last compaction, tombstoned ones included
	Tombstones int   // rows removed or replaced since the last compaction
	Substrings int   // MIH substrings of the compacted segment; 0 means it is scanned
	Bytes      int64 // approximate memory held by the current view
}

// Index is an exact Hamming radius index over 256-bit hashes keyed by uint64
// ids. Each id holds one hash; adding an id again replaces its hash. All
// methods are safe for concurrent use; searches never block.
type Index struct {
	opts Options
	tabs probeTables
	cur  atomic.Pointer[view]
	kick chan struct{} // wakes RunCompactor; buffered, so kicks coalesce
	bufs sync.Pool     // *scratch, so searches don't allocate

	compactMu sync.Mutex // one compaction at a time

	mu         sync.Mutex        // serialises writers; readers never take it
	deltaPos   map[uint64]uint32 // id → delta position, for live delta entries
	compacting bool              // a compaction took its view and has not swapped yet
	pending    []uint64          // ids changed since that view was taken
}

// view is what a reader sees. Nothing reachable from a published view is
// ever modified, except delta backing arrays beyond the view's own lengths.
type view struct {
	base    *segment
	dIDs    []uint64 // delta, in insertion order
	dHashes []words
	// dead holds tombstoned rows: base rows first, then base.rows()+delta
	// position. nil when empty so the hot path skips it. Writers clone it
	// before changing it.
	dead *roaring.Bitmap
	live int
}

func (v *view) isDead(row uint32) bool {
	return v.dead != nil && v.dead.Contains(row)
}

// New returns an empty index.
func New(opts Options) *Index {
	if opts.MaxDelta <= 0 {
		opts.MaxDelta = 1 << 14
	}
	x := &Index{
		opts:     opts,
		tabs:     newProbeTables(),
		kick:     make(chan struct{}, 1),
		deltaPos: make(map[uint64]uint32),
	}
	x.cur.Store(&view{base: &segment{}})
	return x
}

// Build returns an index holding ids[i] → hashes[i], compacted and ready to
// search. As with successive Adds, a repeated id keeps its last hash.
func Build(ids []uint64, hashes [][32]byte, opts Options) (*Index, error) {
	if len(ids) != len(hashes) {
		return nil, fmt.Errorf("hamming: build: %d ids but %d hashes", len(ids), len(hashes))
	}
	if len(ids) >= 1<<32-1 {
		return nil, fmt.Errorf("hamming: build: %d entries exceed the 2^32-1 limit", len(ids))
	}
	x := New(opts)
	if opts.lengths != nil && !validLengths(opts.lengths, x.tabs) {
		return nil, fmt.Errorf("hamming: build: layout %v not indexable", opts.lengths)
	}
	sid, sh := sortedUnique(ids, hashes)
	x.cur.Store(&view{base: buildSegment(sid, sh, opts, x.tabs), live: len(sid)})
	return x, nil
}

// sortedUnique returns the entries ordered by id, keeping the last hash of a
// repeated id. Lists exported from a store usually come in id order already,
// which is checked first to skip the sort.
func sortedUnique(ids []uint64, hashes [][32]byte) ([]uint64, []words) {
	sorted := true
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			sorted = false
			break
		}
	}
	outIDs := make([]uint64, len(ids))
	// Capacity for whole groups lets the grouped layout reuse the array.
	outH := make([]words, len(ids), roundUpGroup(len(ids)))
	adviseHugePages(outH)
	if sorted {
		copy(outIDs, ids)
		for i := range hashes {
			outH[i] = toWords(&hashes[i])
		}
		return outIDs, outH
	}
	perm := make([]uint32, len(ids))
	for i := range perm {
		perm[i] = uint32(i)
	}
	// Stable order on equal ids lets the last one win below.
	slices.SortStableFunc(perm, func(a, b uint32) int { return cmp.Compare(ids[a], ids[b]) })
	n := 0
	for k, p := range perm {
		if k+1 < len(perm) && ids[perm[k+1]] == ids[p] {
			continue
		}
		outIDs[n] = ids[p]
		outH[n] = toWords(&hashes[p])
		n++
	}
	return outIDs[:n:n], outH[:n]
}

// Len returns the number of live entries.
func (x *Index) Len() int { return x.cur.Load().live }

// Stats returns sizes and approximate memory of the current view.
func (x *Index) Stats() Stats {
	v := x.cur.Load()
	st := Stats{
		Entries:    v.live,
		Base:       v.base.rows(),
		Delta:      len(v.dIDs),
		Substrings: v.base.m,
		// The writers' id → delta position map is estimated from the delta
		// length (about 24 bytes an entry in a Swiss table) so Stats need not
		// take the writer lock.
		Bytes: v.base.bytes() + int64(cap(v.dIDs))*8 + int64(cap(v.dHashes))*32 +
			int64(len(v.dIDs))*24 + x.tabs.bytes(),
	}
	if v.dead != nil {
		st.Tombstones = int(v.dead.GetCardinality())
		st.Bytes += int64(v.dead.GetSizeInBytes())
	}
	return st
}

// Search appends to dst every entry within radius (inclusive) of q and
// returns the extended slice. The order of results is unspecified. PDQ
// matching uses radius 31.
func (x *Index) Search(q [32]byte, radius int, dst []Result) []Result {
	v := x.cur.Load()
	w := toWords(&q)
	buf := x.getBuf()
	dst = v.search(&w, radius, dst, buf)
	x.bufs.Put(buf)
	return dst
}

func (x *Index) getBuf() *scratch {
	if b, ok := x.bufs.Get().(*scratch); ok {
		return b
	}
	return new(scratch)
}

func (v *view) search(q *words, radius int, dst []Result, buf *scratch) []Result {
	dst = v.base.search(q, radius, v.dead, 0, dst, buf)
	return v.scanDelta(q, radius, dst)
}

// scanDelta appends the delta's entries within radius of q.
func (v *view) scanDelta(q *words, radius int, dst []Result) []Result {
	start := len(dst)
	dst = scanRows(v.dHashes, q, radius, v.dead, uint32(v.base.rows()), dst)
	for i := start; i < len(dst); i++ {
		dst[i].ID = v.dIDs[dst[i].ID]
	}
	return dst
}

// SearchMany searches all of qs against one view of the index and appends
// each matching id once, with its smallest distance over qs, ordered by id.
// It suits dihedral matching, where the caller queries the 8 rotations and
// flips of one image's hash.
func (x *Index) SearchMany(qs [][32]byte, radius int, dst []Result) []Result {
	v := x.cur.Load()
	start := len(dst)
	buf := x.getBuf()
	for i := range qs {
		w := toWords(&qs[i])
		dst = v.search(&w, radius, dst, buf)
	}
	x.bufs.Put(buf)
	found := dst[start:]
	slices.SortFunc(found, func(a, b Result) int {
		if c := cmp.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return cmp.Compare(a.Distance, b.Distance)
	})
	found = slices.CompactFunc(found, func(a, b Result) bool { return a.ID == b.ID })
	return dst[:start+len(found)]
}

// Add stores h under id, replacing any hash id had. It costs O(1) amortised
// plus, when id was already present, a copy of the tombstone bitmap.
func (x *Index) Add(id uint64, h [32]byte) {
	x.mu.Lock()
	defer x.mu.Unlock()
	v := x.cur.Load()
	nv := *v
	c := cow{v: &nv}
	x.add(&c, id, toWords(&h))
	x.publish(&nv)
}

// AddBatch stores ids[i] → hashes[i] as successive Adds would, but publishes
// them together: a concurrent search sees all of them or none.
func (x *Index) AddBatch(ids []uint64, hashes [][32]byte) error {
	if len(ids) != len(hashes) {
		return fmt.Errorf("hamming: add batch: %d ids but %d hashes", len(ids), len(hashes))
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	v := x.cur.Load()
	if v.base.rows()+len(v.dIDs)+len(ids) >= 1<<32-1 {
		return fmt.Errorf("hamming: add batch: index would exceed 2^32-1 rows; compact first")
	}
	nv := *v
	c := cow{v: &nv}
	for i := range ids {
		x.add(&c, ids[i], toWords(&hashes[i]))
	}
	x.publish(&nv)
	return nil
}

// Remove deletes id and reports whether it was present.
func (x *Index) Remove(id uint64) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	v := x.cur.Load()
	nv := *v
	c := cow{v: &nv}
	if !x.kill(&c, id) {
		return false
	}
	nv.live--
	if x.compacting {
		x.pending = append(x.pending, id)
	}
	x.publish(&nv)
	return true
}

// cow tracks whether a writer has already cloned the tombstones of the view
// it is preparing, so a batch clones them once.
type cow struct {
	v      *view
	cloned bool
}

func (c *cow) markDead(row uint32) {
	if !c.cloned {
		if c.v.dead == nil {
			c.v.dead = roaring.New()
		} else {
			c.v.dead = c.v.dead.Clone()
		}
		c.cloned = true
	}
	c.v.dead.Add(row)
}

// kill tombstones the live entry of id, if any. Callers hold x.mu.
func (x *Index) kill(c *cow, id uint64) bool {
	v := c.v
	if pos, ok := x.deltaPos[id]; ok {
		c.markDead(uint32(v.base.rows()) + pos)
		delete(x.deltaPos, id)
		return true
	}
	if row, ok := v.base.find(id); ok && !v.isDead(row) {
		c.markDead(row)
		return true
	}
	return false
}

// add appends id to the delta of c.v. Appending in place is safe for readers
// of older views: they only read up to their own, shorter, lengths. Callers
// hold x.mu.
func (x *Index) add(c *cow, id uint64, w words) {
	v := c.v
	if !x.kill(c, id) {
		v.live++
	}
	x.deltaPos[id] = uint32(len(v.dIDs))
	v.dIDs = append(v.dIDs, id)
	v.dHashes = append(v.dHashes, w)
	if x.compacting {
		x.pending = append(x.pending, id)
	}
}

// publish makes nv current and wakes the compactor when the delta has grown
// past its limit. Callers hold x.mu.
func (x *Index) publish(nv *view) {
	x.cur.Store(nv)
	changes := len(nv.dIDs)
	if nv.dead != nil {
		changes += int(nv.dead.GetCardinality())
	}
	if changes >= x.opts.MaxDelta {
		select {
		case x.kick <- struct{}{}:
		default:
		}
	}
}

// Compact merges the delta and tombstones into a new indexed segment and
// swaps it in. Searches continue on the old view meanwhile, and writers are
// held only for the final swap; changes made during the merge are carried
// over to the new view.
func (x *Index) Compact() {
	x.compactMu.Lock()
	defer x.compactMu.Unlock()

	x.mu.Lock()
	v := x.cur.Load()
	if len(v.dIDs) == 0 && v.dead == nil {
		x.mu.Unlock()
		return
	}
	x.compacting = true
	x.pending = nil
	x.mu.Unlock()

	ids, hashes := v.liveSorted()
	base := buildSegment(ids, hashes, x.opts, x.tabs)

	x.mu.Lock()
	defer x.mu.Unlock()
	cur := x.cur.Load()
	nv := &view{base: base}
	c := cow{v: nv}
	// Every change since v supersedes v's entry for that id, which is now in
	// base; entries added since v are carried over as the new delta.
	for _, id := range x.pending {
		if row, ok := base.find(id); ok && !nv.isDead(row) {
			c.markDead(row)
		}
	}
	oldBase := uint32(v.base.rows())
	carried := 0
	for p := len(v.dIDs); p < len(cur.dIDs); p++ {
		if !cur.isDead(oldBase + uint32(p)) {
			carried++
		}
	}
	// A fresh map: Go maps never shrink, and the delta just emptied.
	x.deltaPos = make(map[uint64]uint32, carried)
	if carried > 0 {
		nv.dIDs = make([]uint64, 0, carried)
		nv.dHashes = make([]words, 0, carried)
		for p := len(v.dIDs); p < len(cur.dIDs); p++ {
			if !cur.isDead(oldBase + uint32(p)) {
				x.deltaPos[cur.dIDs[p]] = uint32(len(nv.dIDs))
				nv.dIDs = append(nv.dIDs, cur.dIDs[p])
				nv.dHashes = append(nv.dHashes, cur.dHashes[p])
			}
		}
	}
	nv.live = cur.live
	x.compacting = false
	x.pending = nil
	x.cur.Store(nv)
}

// liveSorted returns the live entries of v ordered by id. The base is sorted
// already and the delta holds each id at most once alive, so this is a merge.
func (v *view) liveSorted() ([]uint64, []words) {
	nb := uint32(v.base.rows())
	var dpos []uint32
	for p := range v.dIDs {
		if !v.isDead(nb + uint32(p)) {
			dpos = append(dpos, uint32(p))
		}
	}
	slices.SortFunc(dpos, func(a, b uint32) int { return cmp.Compare(v.dIDs[a], v.dIDs[b]) })
	ids := make([]uint64, 0, v.live)
	hashes := make([]words, 0, roundUpGroup(v.live))
	adviseHugePages(hashes)
	bi, di := 0, 0
	for bi < v.base.rows() || di < len(dpos) {
		if bi < v.base.rows() && v.isDead(uint32(bi)) {
			bi++
			continue
		}
		if di == len(dpos) || (bi < v.base.rows() && v.base.ids.at(uint32(bi)) < v.dIDs[dpos[di]]) {
			ids = append(ids, v.base.ids.at(uint32(bi)))
			hashes = append(hashes, v.base.hashAt(uint32(bi)))
			bi++
			continue
		}
		ids = append(ids, v.dIDs[dpos[di]])
		hashes = append(hashes, v.dHashes[dpos[di]])
		di++
	}
	return ids, hashes
}

// RunCompactor compacts in the background whenever the delta outgrows
// Options.MaxDelta, until ctx is done; it then returns ctx.Err(). Start it
// with go; one per index is enough.
func (x *Index) RunCompactor(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-x.kick:
			x.Compact()
		}
	}
}
