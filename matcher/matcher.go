// Package matcher keeps in-memory indexes of every bank's active entries,
// one per signal type, and matches signals against them with each bank's own
// threshold, negative (suppression) banks and full provenance.
//
// It reads banks and entries through the root package's store interfaces,
// loads everything once, then follows the store's change sequence: an added
// or retracted entry reaches the index as a small delta, never a rebuild.
package matcher

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hamming"
	"github.com/vigil-oss/vigil/pdq"
)

// Index ids pack the bank into the top bits so that a hit can be checked
// against its bank's threshold without any per-entry memory beyond the
// index itself.
const (
	entryBits = 40
	entryMask = 1<<entryBits - 1
)

func packID(bankID, entryID int64) uint64 { return uint64(bankID)<<entryBits | uint64(entryID) }
func unpackID(id uint64) (bankID, entryID int64) {
	return int64(id >> entryBits), int64(id & entryMask)
}

// exactTypes are the signal types matched by equality.
var exactTypes = []vigil.SignalType{vigil.SignalMD5, vigil.SignalSHA1, vigil.SignalSHA256}

// Matcher implements vigil.MatchService. Lookups never wait for updates.
type Matcher struct {
	banks   vigil.BankService
	entries vigil.EntryService
	logger  *slog.Logger
	now     func() time.Time

	pdq    *hamming.Index
	exact  map[vigil.SignalType]*hamming.ExactIndex
	videos *videos

	signals   vigil.SignalStore // nil: no retroactive re-matching
	onRematch func(ctx context.Context, found []*vigil.Rematch) error

	refresh sync.Mutex // one refresh at a time
	state   atomic.Pointer[state]

	// load tells Refresh that a Load runs, which holds the refresh lock
	// for as long as reading every entry takes: Refresh then returns at
	// once (a write through the API must not wait minutes), and the load
	// catches up once more before it completes.
	load struct {
		sync.Mutex
		active, again bool
	}
	loaded, total atomic.Int64 // progress of the first Load, for Status
	ready         atomic.Bool  // a Load completed: lookups are served
	text          atomic.Pointer[textLists]
	rejects       rejects

	rematchBatch int // see defaultRematchBatch

	// prov keeps recently matched entries' provenance when the store can
	// say cheaply whether any entry changed; nil: every match reads its
	// entry from the store.
	prov *provenance
}

// state is what a lookup reads: an immutable snapshot of bank settings and
// the change sequences the indexes reflect.
type state struct {
	banks      map[int64]*vigil.Bank
	pdqRadius  int // the largest PDQ threshold of any enabled bank
	vpdqRadius int // the same for video frames
	seq        map[vigil.SignalType]int64
	updatedAt  time.Time
}

// New returns a Matcher over the given stores; call Load before use.
func New(banks vigil.BankService, entries vigil.EntryService, logger *slog.Logger) *Matcher {
	m := &Matcher{banks: banks, entries: entries, logger: logger, now: time.Now, rematchBatch: defaultRematchBatch}
	m.prov = newProvenance(entries, defaultProvenanceEntries, logger)
	return m
}

// Load builds every index from the store's active entries, then applies
// the changes committed meanwhile. Until the first Load completes, Status
// reports its progress and Lookup refuses (EUNAVAILABLE): a partial index
// would answer "no match" for entries it has not read yet. Load reads in
// one snapshot per signal type and takes no lock in the store, so other
// replicas keep writing while it runs.
func (m *Matcher) Load(ctx context.Context) error {
	m.load.Lock()
	m.load.active, m.load.again = true, false
	m.load.Unlock()
	defer func() {
		m.load.Lock()
		m.load.active = false
		m.load.Unlock()
	}()
	m.refresh.Lock()
	defer m.refresh.Unlock()
	if err := m.startProgress(ctx); err != nil {
		return err
	}
	seqs := map[vigil.SignalType]int64{}
	m.rejects.mu.Lock()
	m.rejects.m = nil
	m.rejects.mu.Unlock()

	var ids []uint64
	var hashes [][32]byte
	seq, err := m.forEachActive(ctx, vigil.SignalPDQ, func(e *vigil.Entry) error {
		h, err := parsePDQ(e)
		if err != nil {
			m.reject(e, err)
			return nil
		}
		ids = append(ids, packID(e.BankID, e.ID))
		hashes = append(hashes, h)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load pdq entries: %w", err)
	}
	idx, err := hamming.Build(ids, hashes, hamming.Options{})
	if err != nil {
		return fmt.Errorf("build pdq index: %w", err)
	}
	m.pdq, seqs[vigil.SignalPDQ] = idx, seq
	ids, hashes = nil, nil

	m.exact = map[vigil.SignalType]*hamming.ExactIndex{}
	for _, t := range exactTypes {
		x, err := hamming.NewExactIndex(digestSize(t))
		if err != nil {
			return err
		}
		seq, err := m.forEachActive(ctx, t, func(e *vigil.Entry) error {
			d, err := parseDigest(e)
			if err == nil {
				err = x.Add(packID(e.BankID, e.ID), d)
			}
			if err != nil {
				m.reject(e, err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("load %s entries: %w", t, err)
		}
		m.exact[t], seqs[t] = x, seq
	}
	tl, err := m.loadText(ctx)
	if err != nil {
		return err
	}
	m.text.Store(tl)
	if seqs[vigil.SignalVPDQ], err = m.loadVideos(ctx); err != nil {
		return err
	}
	if err := m.publish(ctx, seqs); err != nil {
		return err
	}
	// What was committed while the entries were read, and what a Refresh
	// called meanwhile asked for, before lookups are served.
	for {
		if err := m.refreshLocked(ctx); err != nil {
			return err
		}
		m.load.Lock()
		again := m.load.again
		m.load.again = false
		m.load.Unlock()
		if !again {
			break
		}
	}
	m.ready.Store(true)
	return nil
}

// startProgress resets the load progress; its total is the banks' active
// entry counts, which the store keeps as counters (no scan).
func (m *Matcher) startProgress(ctx context.Context) error {
	list, err := m.banks.ListBanks(ctx)
	if err != nil {
		return fmt.Errorf("list banks: %w", err)
	}
	var total int64
	for _, b := range list {
		total += b.ActiveEntries
	}
	m.loaded.Store(0)
	m.total.Store(total)
	return nil
}

// forEachActive is the store's ForEachActiveEntry, counting the entries
// read for the load progress.
func (m *Matcher) forEachActive(ctx context.Context, t vigil.SignalType, fn func(e *vigil.Entry) error) (int64, error) {
	return m.entries.ForEachActiveEntry(ctx, t, func(e *vigil.Entry) error {
		m.loaded.Add(1)
		return fn(e)
	})
}

// parsePDQ reads a PDQ entry's hash, checking that the entry fits the
// index.
func parsePDQ(e *vigil.Entry) (pdq.Hash, error) {
	if err := checkIDs(e); err != nil {
		return pdq.Hash{}, err
	}
	return pdq.ParseHash(e.Value)
}

// parseDigest reads an exact-hash entry's digest, checking that the entry
// fits the index.
func parseDigest(e *vigil.Entry) ([]byte, error) {
	if err := checkIDs(e); err != nil {
		return nil, err
	}
	d, err := hex.DecodeString(e.Value)
	if err == nil && len(d) != digestSize(e.SignalType) {
		err = fmt.Errorf("%s digest of %d bytes, want %d", e.SignalType, len(d), digestSize(e.SignalType))
	}
	return d, err
}

func digestSize(t vigil.SignalType) int {
	switch t {
	case vigil.SignalMD5:
		return 16
	case vigil.SignalSHA1:
		return 20
	}
	return 32
}

// publish reloads bank settings and makes them and seqs visible to lookups.
func (m *Matcher) publish(ctx context.Context, seqs map[vigil.SignalType]int64) error {
	list, err := m.banks.ListBanks(ctx)
	if err != nil {
		return fmt.Errorf("list banks: %w", err)
	}
	s := &state{banks: make(map[int64]*vigil.Bank, len(list)), seq: seqs, updatedAt: m.now()}
	for _, b := range list {
		s.banks[b.ID] = b
		if b.Enabled {
			s.pdqRadius = max(s.pdqRadius, b.Threshold(vigil.SignalPDQ))
			s.vpdqRadius = max(s.vpdqRadius, b.Threshold(vigil.SignalVPDQ))
		}
	}
	m.state.Store(s)
	return nil
}

// refreshBatch is how many changes one store query fetches.
const refreshBatch = 10000

// defaultRematchBatch is how many added entries a refresh holds for
// retroactive matching at most: each batch costs one pass over the kept
// PDQ signals, so batches are several store queries large, but bounded.
const defaultRematchBatch = 5 * refreshBatch

// Refresh applies every entry change since the last load or refresh and
// reloads bank settings. Call it after a write through the API for
// read-your-writes; Run calls it periodically for writes by other
// processes (a CLI import while the server runs).
func (m *Matcher) Refresh(ctx context.Context) error {
	m.load.Lock()
	if m.load.active {
		m.load.again = true
		m.load.Unlock()
		return nil
	}
	m.load.Unlock()
	m.refresh.Lock()
	defer m.refresh.Unlock()
	return m.refreshLocked(ctx)
}

// refreshLocked is Refresh, with the refresh lock held.
func (m *Matcher) refreshLocked(ctx context.Context) error {
	old := m.state.Load()
	if old == nil {
		return fmt.Errorf("refresh before load")
	}
	seqs := maps.Clone(old.seq)
	var added []*vigil.Entry
	var rematchErr error
	if m.signals != nil {
		// Retroactive matching below runs batch by batch and reads bank
		// settings, which must include banks created with these entries.
		if err := m.publish(ctx, old.seq); err != nil {
			return err
		}
	}
	// rematchAdded matches the entries added so far against kept signals
	// and lets them go: holding every entry of a million-entry import
	// until the end would cost far more than the index itself. Its first
	// error is returned once the refresh is done, as the refresh itself
	// has succeeded.
	rematchAdded := func() {
		if len(added) > 0 && rematchErr == nil {
			rematchErr = m.rematch(ctx, added)
		}
		clear(added)
		added = added[:0]
	}
	for t, seq := range seqs {
		for {
			changes, err := m.entries.EntriesChangedSince(ctx, t, seq, refreshBatch)
			if err != nil {
				return fmt.Errorf("%s changes since %d: %w", t, seq, err)
			}
			for _, e := range changes {
				seq = max(seq, e.Seq)
				if err := m.apply(e); err != nil {
					// One entry that cannot match must not stop the
					// changes after it: it is skipped and reported.
					m.reject(e, err)
					continue
				}
				if m.signals != nil && e.Active() {
					if added = append(added, e); len(added) >= m.rematchBatch {
						rematchAdded()
					}
				}
			}
			if len(changes) < refreshBatch {
				break
			}
		}
		seqs[t] = seq
	}
	if err := m.refreshText(ctx); err != nil {
		return err
	}
	if err := m.publish(ctx, seqs); err != nil {
		return err
	}
	rematchAdded()
	if rematchErr != nil {
		return fmt.Errorf("retroactive matching: %w", rematchErr)
	}
	return nil
}

// apply brings one changed entry into its index. An error means the entry
// cannot be indexed; the index is unchanged.
func (m *Matcher) apply(e *vigil.Entry) error {
	// An entry's value never changes, so one rejected when it was added
	// is not in the index: its retraction only forgets the rejection.
	m.unreject(e.SignalType, e.ID)
	if e.SignalType == vigil.SignalVPDQ {
		return m.applyVideo(e)
	}
	if e.SignalType == vigil.SignalPDQ {
		h, err := parsePDQ(e)
		if err != nil {
			if !e.Active() {
				return nil
			}
			return err
		}
		if id := packID(e.BankID, e.ID); !e.Active() {
			m.pdq.Remove(id)
		} else {
			m.pdq.Add(id, h)
		}
		return nil
	}
	x := m.exact[e.SignalType]
	if x == nil {
		return nil
	}
	d, err := parseDigest(e)
	if err != nil {
		if !e.Active() {
			return nil
		}
		return err
	}
	if id := packID(e.BankID, e.ID); !e.Active() {
		_, err = x.Remove(id, d)
	} else {
		err = x.Add(id, d)
	}
	return err
}

// Run refreshes every interval and compacts the PDQ index in the
// background until ctx ends. Refresh errors are logged, not fatal: the
// indexes keep serving what they hold.
func (m *Matcher) Run(ctx context.Context, interval time.Duration) {
	go m.pdq.RunCompactor(ctx)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.Refresh(ctx); err != nil && ctx.Err() == nil {
				m.logger.Error("index refresh", "err", err)
			}
		}
	}
}

// Compact merges the PDQ index's delta and tombstones into a fresh
// segment now, instead of waiting for the background compactor (useful
// after a large import). Lookups continue meanwhile.
func (m *Matcher) Compact() { m.pdq.Compact() }

// Status implements vigil.MatchService.
func (m *Matcher) Status() vigil.IndexStatus {
	s := m.state.Load()
	st := vigil.IndexStatus{Types: map[vigil.SignalType]vigil.IndexTypeStatus{}}
	if !m.ready.Load() {
		st.Loading = &vigil.IndexLoad{EntriesLoaded: m.loaded.Load(), EntriesTotal: m.total.Load()}
		return st
	}
	st.Banks, st.UpdatedAt = len(s.banks), s.updatedAt
	ps := m.pdq.Stats()
	st.Types[vigil.SignalPDQ] = vigil.IndexTypeStatus{Entries: ps.Entries, Seq: s.seq[vigil.SignalPDQ], Bytes: ps.Bytes}
	if m.videos != nil {
		st.Types[vigil.SignalVPDQ] = vigil.IndexTypeStatus{Entries: m.videos.len(), Seq: s.seq[vigil.SignalVPDQ], Bytes: m.videos.idx.Stats().Bytes}
	}
	for _, t := range exactTypes {
		n := m.exact[t].Len()
		// A map entry costs about its key and id plus Go's map overhead.
		st.Types[t] = vigil.IndexTypeStatus{Entries: n, Seq: s.seq[t], Bytes: int64(n) * int64(digestSize(t)+8+16)}
	}
	if tl := m.text.Load(); tl != nil {
		st.Types[vigil.SignalURL] = vigil.IndexTypeStatus{Entries: tl.urls.Len(), Seq: tl.seq[vigil.SignalURL]}
		st.Types[vigil.SignalKeyword] = vigil.IndexTypeStatus{Entries: tl.keywords.Len(), Seq: tl.seq[vigil.SignalKeyword]}
	}
	counts, shown := m.rejectedStatus()
	for t, n := range counts {
		ts := st.Types[t]
		ts.Rejected = n
		st.Types[t] = ts
	}
	st.Rejected = shown
	return st
}

// Lookup implements vigil.MatchService.
func (m *Matcher) Lookup(ctx context.Context, signals []vigil.Signal, opts vigil.MatchOptions) ([]vigil.MatchResult, error) {
	if !m.ready.Load() {
		return nil, vigil.Errorf(vigil.EUNAVAILABLE, "the indexes are loading (%d of about %d entries read): try again when /readyz says ready",
			m.loaded.Load(), m.total.Load())
	}
	s := m.state.Load()
	if len(signals) > vigil.MaxLookupSignals {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "at most %d signals per lookup, got %d", vigil.MaxLookupSignals, len(signals))
	}
	minQ := opts.MinQuality
	if minQ == 0 {
		minQ = vigil.DefaultMinQuality
	}
	// Canonical values from here on, so that results (and the cases made
	// of them) carry the one form the index holds, whoever called.
	signals = slices.Clone(signals)
	if err := vigil.CanonicalSignals(signals); err != nil {
		return nil, err
	}
	out := make([]vigil.MatchResult, len(signals))
	var hits []hit
	var buf []hamming.Result
	var ids []uint64
	var seq lookupSeq // the store's change sequence, read once if needed
	for i, sig := range signals {
		res := vigil.MatchResult{Signal: sig, Matches: []vigil.Match{}}
		hits = hits[:0]
		switch sig.Type {
		case vigil.SignalPDQ:
			queries, err := pdqQueries(sig, opts.Dihedral)
			if err != nil {
				return nil, vigil.Errorf(vigil.EINVALID, "signal %d: %s", i, vigil.ErrorMessage(err))
			}
			if sig.Quality != nil && *sig.Quality < minQ {
				res.Skipped = fmt.Sprintf("pdq quality %d is below the minimum %d: the image is too flat or small to hash reliably", *sig.Quality, minQ)
				break
			}
			for _, q := range queries {
				buf = m.pdq.Search(q.hash, s.pdqRadius, buf[:0])
				for _, r := range buf {
					hits = append(hits, hit{id: r.ID, distance: r.Distance, variant: q.variant})
				}
			}
		case vigil.SignalMD5, vigil.SignalSHA1, vigil.SignalSHA256:
			d, _ := hex.DecodeString(sig.Value)
			var err error
			ids, err = m.exact[sig.Type].Lookup(d, ids[:0])
			if err != nil {
				return nil, vigil.Errorf(vigil.EINVALID, "signal %d: %v", i, err)
			}
			for _, id := range ids {
				hits = append(hits, hit{id: id})
			}
		case vigil.SignalURL, vigil.SignalText:
			var err error
			if hits, err = m.textHits(sig, hits); err != nil {
				return nil, vigil.Errorf(vigil.ErrorCode(err), "signal %d: %s", i, vigil.ErrorMessage(err))
			}
		case vigil.SignalKeyword:
			return nil, vigil.Errorf(vigil.EINVALID, "signal %d: send text to search for keywords as a %q signal", i, vigil.SignalText)
		case vigil.SignalVPDQ:
			var err error
			if hits, err = m.videoHits(s, sig, hits, opts.IncludeDisabled); err != nil {
				return nil, vigil.Errorf(vigil.ErrorCode(err), "signal %d: %s", i, vigil.ErrorMessage(err))
			}
		default:
			return nil, vigil.Errorf(vigil.EINVALID, "signal %d: unknown signal type %q", i, sig.Type)
		}
		if err := m.resolve(ctx, s, &seq, sig.Type, hits, opts.IncludeDisabled, &res); err != nil {
			return nil, err
		}
		out[i] = res
	}
	return out, nil
}

type hit struct {
	id       uint64
	distance int
	variant  string
	span     []int             // byte range in a text signal
	video    *vigil.VideoMatch // for a video signal
}

type query struct {
	hash    [32]byte
	variant string
}

// isVariant reports whether name is one of the seven dihedral variants
// other than the original, named as pdq names them.
func isVariant(name string) bool {
	for v := pdq.Rotate90; v <= pdq.FlipMinus1; v++ {
		if v.String() == name {
			return true
		}
	}
	return false
}

func pdqQueries(sig vigil.Signal, dihedral bool) ([]query, error) {
	h, err := pdq.ParseHash(sig.Value)
	if err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "%v", err)
	}
	qs := []query{{hash: h}}
	for name, v := range sig.Dihedral {
		if !isVariant(name) {
			return nil, vigil.Errorf(vigil.EINVALID, "unknown dihedral variant %q", name)
		}
		d, err := pdq.ParseHash(v)
		if err != nil {
			return nil, vigil.Errorf(vigil.EINVALID, "dihedral %s: %v", name, err)
		}
		if dihedral {
			qs = append(qs, query{hash: d, variant: name})
		}
	}
	return qs, nil
}

// resolve turns index hits into matches: the bank must be enabled (unless
// includeDisabled) and the
// distance within its threshold; the closest variant wins per entry; the
// entry's provenance comes from the store; a hit in a negative bank
// suppresses the rest.
func (m *Matcher) resolve(ctx context.Context, s *state, seq *lookupSeq, t vigil.SignalType, hits []hit, includeDisabled bool, res *vigil.MatchResult) error {
	slices.SortFunc(hits, func(a, b hit) int {
		if a.id != b.id {
			if a.id < b.id {
				return -1
			}
			return 1
		}
		return a.distance - b.distance
	})
	var matches, negatives []vigil.Match
	for i, h := range hits {
		if i > 0 && hits[i-1].id == h.id {
			continue // a farther variant of an entry already taken
		}
		bankID, entryID := unpackID(h.id)
		bank := s.banks[bankID]
		if bank == nil || !bank.Enabled && !includeDisabled || (t == vigil.SignalPDQ && h.distance > bank.Threshold(t)) {
			continue
		}
		e, err := m.entry(ctx, seq, entryID)
		if vigil.ErrorCode(err) == vigil.ENOTFOUND {
			continue
		} else if err != nil {
			return fmt.Errorf("entry %d: %w", entryID, err)
		}
		if !e.Active() {
			continue // retracted or quarantined after the index was last refreshed
		}
		mt := vigil.NewMatch(bank, e, h.distance)
		mt.Variant, mt.Span, mt.Video = h.variant, h.span, h.video
		if bank.Negative {
			negatives = append(negatives, mt)
		} else {
			matches = append(matches, mt)
		}
	}
	byDistance := func(a, b vigil.Match) int {
		if a.Distance != b.Distance {
			return a.Distance - b.Distance
		}
		return int(a.EntryID - b.EntryID)
	}
	slices.SortFunc(matches, byDistance)
	slices.SortFunc(negatives, byDistance)
	if len(negatives) > 0 {
		res.SuppressedBy, res.Suppressed = negatives, matches
		return nil
	}
	if matches != nil {
		res.Matches = matches
	}
	return nil
}

// entry reads a matched entry's provenance, through the cache if there is
// one.
func (m *Matcher) entry(ctx context.Context, seq *lookupSeq, id int64) (*vigil.Entry, error) {
	if m.prov == nil {
		return m.entries.FindEntryByID(ctx, id)
	}
	return m.prov.entry(ctx, seq, id)
}
