package matcher

import (
	"context"
	"fmt"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/textmatch"
)

// textLists are the URL and keyword entries of every bank, built into
// immutable matchers. They are small next to hash lists, so a change
// rebuilds them rather than patching them.
type textLists struct {
	urls     *textmatch.URLList
	keywords *textmatch.KeywordList
	seq      map[vigil.SignalType]int64
}

// loadText builds the text lists from the store's active entries. An entry
// a list cannot take is left out and reported (see rejects) rather than
// failing the whole load: one bad keyword must not stop every other URL
// and keyword from matching.
func (m *Matcher) loadText(ctx context.Context) (*textLists, error) {
	tl := &textLists{urls: &textmatch.URLList{}, seq: map[vigil.SignalType]int64{}}
	var bad []rejected
	seq, err := m.forEachActive(ctx, vigil.SignalURL, func(e *vigil.Entry) error {
		err := checkIDs(e)
		if err == nil {
			pattern, mode := vigil.URLPattern(e.Value)
			err = tl.urls.Add(packID(e.BankID, e.ID), pattern, mode)
		}
		if err != nil {
			bad = append(bad, rejected{*e, err})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load url entries: %w", err)
	}
	tl.seq[vigil.SignalURL] = seq
	var kws []textmatch.Keyword
	seq, err = m.forEachActive(ctx, vigil.SignalKeyword, func(e *vigil.Entry) error {
		if err := checkIDs(e); err != nil {
			bad = append(bad, rejected{*e, err})
			return nil
		}
		kws = append(kws, textmatch.Keyword{ID: packID(e.BankID, e.ID), Text: e.Value, WholeWord: true})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load keyword entries: %w", err)
	}
	tl.seq[vigil.SignalKeyword] = seq
	var left []textmatch.RejectedKeyword
	if tl.keywords, left, err = textmatch.BuildKeywordList(kws); err != nil {
		return nil, fmt.Errorf("build keyword list: %w", err)
	}
	for _, r := range left {
		bankID, entryID := unpackID(r.ID) // the entry's real id, not the packed one
		bad = append(bad, rejected{vigil.Entry{ID: entryID, BankID: bankID, SignalType: vigil.SignalKeyword}, r.Err})
	}
	// The lists are rebuilt whole, and so are their rejections.
	m.replaceRejects([]vigil.SignalType{vigil.SignalURL, vigil.SignalKeyword}, bad)
	return tl, nil
}

// refreshText rebuilds the text lists if any URL or keyword entry changed.
func (m *Matcher) refreshText(ctx context.Context) error {
	old := m.text.Load()
	for _, t := range []vigil.SignalType{vigil.SignalURL, vigil.SignalKeyword} {
		changes, err := m.entries.EntriesChangedSince(ctx, t, old.seq[t], 1)
		if err != nil {
			return fmt.Errorf("%s changes: %w", t, err)
		}
		if len(changes) > 0 {
			tl, err := m.loadText(ctx)
			if err != nil {
				return err
			}
			m.text.Store(tl)
			return nil
		}
	}
	return nil
}

// textHits finds the URL and keyword entries in a text or URL signal.
func (m *Matcher) textHits(sig vigil.Signal, hits []hit) ([]hit, error) {
	tl := m.text.Load()
	var urls []textmatch.URLMatch
	var err error
	switch sig.Type {
	case vigil.SignalURL:
		urls, err = tl.urls.Match(sig.Value)
	case vigil.SignalText:
		if urls, err = tl.urls.MatchText(sig.Value); err != nil {
			return nil, err
		}
		var kws []textmatch.KeywordMatch
		if kws, err = tl.keywords.Match(sig.Value); err != nil {
			return nil, err
		}
		for _, k := range kws {
			hits = append(hits, hit{id: k.ID, span: []int{k.Start, k.End}})
		}
	}
	if err != nil {
		return nil, err
	}
	for _, u := range urls {
		h := hit{id: u.ID}
		if sig.Type == vigil.SignalText {
			h.span = []int{u.Start, u.End}
		}
		hits = append(hits, h)
	}
	return hits, nil
}
