package matcher

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/vigil-oss/vigil"
)

// rejects holds the active entries that an index left out because they
// cannot match, by type and entry id. One such entry must cost only
// itself: it is logged once, with its real id, shown on the index status
// and skipped, while the rest of its index loads and refreshes as usual.
type rejects struct {
	mu sync.Mutex
	m  map[vigil.SignalType]map[int64]vigil.RejectedEntry
}

// reject records that e was left out of its index because of err, and
// logs it the first time.
func (m *Matcher) reject(e *vigil.Entry, err error) {
	m.replaceRejects(nil, []rejected{{*e, err}})
}

// rejected is an entry an index could not take, and why.
type rejected struct {
	e   vigil.Entry
	err error
}

// replaceRejects forgets the rejections of types and records bad, for
// indexes built again from scratch. Only rejections new since the last
// build are logged, so a rebuild does not repeat them all.
func (m *Matcher) replaceRejects(types []vigil.SignalType, bad []rejected) {
	m.rejects.mu.Lock()
	defer m.rejects.mu.Unlock()
	old := m.rejects.m
	m.rejects.m = make(map[vigil.SignalType]map[int64]vigil.RejectedEntry, len(old))
	for t, byID := range old {
		if !slices.Contains(types, t) {
			m.rejects.m[t] = byID
		}
	}
	for _, b := range bad {
		r := vigil.RejectedEntry{EntryID: b.e.ID, BankID: b.e.BankID, SignalType: b.e.SignalType, Reason: reason(b.err)}
		byID := m.rejects.m[r.SignalType]
		if byID == nil {
			byID = map[int64]vigil.RejectedEntry{}
			m.rejects.m[r.SignalType] = byID
		}
		if prev, ok := old[r.SignalType][r.EntryID]; !ok || prev.Reason != r.Reason {
			m.logger.Warn("bank entry left out of the index: it cannot match; retract it",
				"entry", r.EntryID, "bank", r.BankID, "signal_type", r.SignalType, "reason", r.Reason)
		}
		byID[r.EntryID] = r
	}
}

// unreject forgets a rejection of entry id, for an entry retracted or
// indexed since.
func (m *Matcher) unreject(t vigil.SignalType, id int64) {
	m.rejects.mu.Lock()
	defer m.rejects.mu.Unlock()
	delete(m.rejects.m[t], id)
}

// rejectedStatus returns the count per type and the first
// MaxRejectedShown rejections in entry order.
func (m *Matcher) rejectedStatus() (map[vigil.SignalType]int, []vigil.RejectedEntry) {
	m.rejects.mu.Lock()
	defer m.rejects.mu.Unlock()
	counts := map[vigil.SignalType]int{}
	var all []vigil.RejectedEntry
	for t, byID := range m.rejects.m {
		counts[t] = len(byID)
		for _, r := range byID {
			all = append(all, r)
		}
	}
	slices.SortFunc(all, func(a, b vigil.RejectedEntry) int { return cmp.Compare(a.EntryID, b.EntryID) })
	if len(all) > vigil.MaxRejectedShown {
		all = all[:vigil.MaxRejectedShown]
	}
	return counts, all
}

// reason is err as a curator should read it: the message of a domain
// error, else the error text, which here comes from a parser of the
// entry's own value.
func reason(err error) string {
	var e *vigil.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// checkIDs returns an error if e's ids do not fit the packed index ids
// (see packID), where they would alias another bank's entries.
func checkIDs(e *vigil.Entry) error {
	if e.ID < 0 || e.ID > entryMask || e.BankID < 0 || e.BankID >= 1<<(64-entryBits) {
		return fmt.Errorf("entry id %d or bank id %d is out of the index's range", e.ID, e.BankID)
	}
	return nil
}
