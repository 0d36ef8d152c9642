package matcher

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hamming"
	"github.com/vigil-oss/vigil/pdq"
)

// SetSignalStore turns on retroactive re-matching: after each refresh, the
// entries it added are checked against the signals kept in ss, and the
// matches found are stored there. Call before Load.
func (m *Matcher) SetSignalStore(ss vigil.SignalStore) { m.signals = ss }

// OnRematch sets fn to be called with the retroactive matches of each
// refresh once they are stored, to tell the platform (see
// NotifyRematches). Its error fails the refresh; the matches stay stored
// and listed. Call before Load.
func (m *Matcher) OnRematch(fn func(ctx context.Context, found []*vigil.Rematch) error) {
	m.onRematch = fn
}

// rematchEvent is the data of an EventRetroactiveMatch event: one item
// seen before and the new entries it matched.
type rematchEvent struct {
	ContentSHA256 string           `json:"content_sha256"`
	Rematches     []*vigil.Rematch `json:"rematches"`
}

// NotifyRematches returns an OnRematch callback that sends one
// EventRetroactiveMatch event per item to the named webhook. Event ids
// derive from the stored rematches' ids, so a receiver can drop repeats.
func NotifyRematches(n vigil.Notifier, webhook string) func(ctx context.Context, found []*vigil.Rematch) error {
	return func(ctx context.Context, found []*vigil.Rematch) error {
		var order []string
		byContent := map[string][]*vigil.Rematch{}
		for _, r := range found {
			if byContent[r.ContentSHA256] == nil {
				order = append(order, r.ContentSHA256)
			}
			byContent[r.ContentSHA256] = append(byContent[r.ContentSHA256], r)
		}
		for _, content := range order {
			rs := byContent[content]
			data, err := json.Marshal(rematchEvent{ContentSHA256: content, Rematches: rs})
			if err != nil {
				return fmt.Errorf("encode rematch event: %w", err)
			}
			ev := vigil.Event{ID: fmt.Sprintf("rematch_%d", rs[0].ID), Type: vigil.EventRetroactiveMatch, Time: rs[0].FoundAt, Data: data}
			if err := n.Notify(ctx, webhook, ev); err != nil {
				return fmt.Errorf("notify retroactive match: %w", err)
			}
		}
		return nil
	}
}

// rematch checks entries just added against the kept signals of content
// seen before. Only the new entries are searched: a small index of them is
// built and every kept PDQ signal is looked up in it; exact digests are
// looked up by value.
func (m *Matcher) rematch(ctx context.Context, added []*vigil.Entry) error {
	s := m.state.Load()
	byType := map[vigil.SignalType][]*vigil.Entry{}
	for _, e := range added {
		b := s.banks[e.BankID]
		if b == nil || !b.Enabled || b.Negative {
			continue // negative banks suppress; they raise nothing
		}
		byType[e.SignalType] = append(byType[e.SignalType], e)
	}
	var found []*vigil.Rematch
	match := func(seen *vigil.SeenSignal, e *vigil.Entry, distance int) {
		found = append(found, &vigil.Rematch{ContentSHA256: seen.ContentSHA256, SeenAt: seen.SeenAt,
			Match: vigil.NewMatch(s.banks[e.BankID], e, distance)})
	}
	for _, t := range exactTypes {
		entries := byType[t]
		if len(entries) == 0 {
			continue
		}
		byValue := map[string][]*vigil.Entry{}
		var values []string
		for _, e := range entries {
			if byValue[e.Value] == nil {
				values = append(values, e.Value)
			}
			byValue[e.Value] = append(byValue[e.Value], e)
		}
		seen, err := m.signals.FindSeenSignals(ctx, t, values)
		if err != nil {
			return err
		}
		for _, sg := range seen {
			for _, e := range byValue[sg.Value] {
				match(sg, e, 0)
			}
		}
	}
	if entries := byType[vigil.SignalPDQ]; len(entries) > 0 {
		ids := make([]uint64, len(entries))
		hashes := make([][32]byte, len(entries))
		byID := map[uint64]*vigil.Entry{}
		for i, e := range entries {
			h, err := pdq.ParseHash(e.Value)
			if err != nil {
				return fmt.Errorf("entry %d: %w", e.ID, err)
			}
			ids[i], hashes[i] = packID(e.BankID, e.ID), h
			byID[ids[i]] = e
		}
		idx, err := hamming.Build(ids, hashes, hamming.Options{})
		if err != nil {
			return err
		}
		var buf []hamming.Result
		err = m.signals.ForEachSeenSignal(ctx, vigil.SignalPDQ, func(sg *vigil.SeenSignal) error {
			q, err := pdq.ParseHash(sg.Value)
			if err != nil {
				return nil // not a hash we can use; skip it
			}
			buf = idx.Search(q, s.pdqRadius, buf[:0])
			for _, r := range buf {
				e := byID[r.ID]
				if r.Distance <= s.banks[e.BankID].Threshold(vigil.SignalPDQ) {
					match(sg, e, r.Distance)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(found) == 0 {
		return nil
	}
	if err := m.signals.AddRematches(ctx, found); err != nil {
		return err
	}
	m.logger.Info("retroactive matches found", "count", len(found))
	if m.onRematch != nil {
		return m.onRematch(ctx, found)
	}
	return nil
}
