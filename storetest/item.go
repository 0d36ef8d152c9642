package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestContentItemService checks content items: each added item is new,
// even when its hashes equal another item's or an ordinary entry's, while
// ordinary adds and imports stay de-duplicated; items keep HMA's
// disable_until, note and metadata.
func TestContentItemService(t *testing.T, open Opener) {
	ctx := context.Background()
	s, clock := openWithClock(t, open)
	b := createBank(t, s, "items")

	// An ordinary entry, then two items with its hash: three entries, the
	// two items with ids of their own.
	ordinary := []*vigil.Entry{{SignalType: vigil.SignalPDQ, Value: PDQ(1)}}
	_, err := s.Entries.AddEntries(ctx, b.ID, "curator", ordinary)
	must(t, err)
	meta := json.RawMessage(`{"content_id":"c-1","json":{"k":[1,2]}}`)
	first := &vigil.ContentItem{DisableUntil: vigil.ContentEnabled, Note: "first", Metadata: meta, Entries: []*vigil.Entry{
		{SignalType: vigil.SignalPDQ, Value: PDQ(1)}, {SignalType: vigil.SignalMD5, Value: MD5(1)},
	}}
	must(t, s.Items.AddContentItem(ctx, b.ID, "key:1:hma", first))
	second := &vigil.ContentItem{DisableUntil: vigil.ContentEnabled, Entries: []*vigil.Entry{{SignalType: vigil.SignalPDQ, Value: PDQ(1)}}}
	must(t, s.Items.AddContentItem(ctx, b.ID, "key:1:hma", second))
	if first.ID == 0 || second.ID == 0 || first.ID == second.ID || first.ID == ordinary[0].ID || second.ID == ordinary[0].ID {
		t.Fatalf("item ids %d and %d, ordinary entry %d: want three different ids", first.ID, second.ID, ordinary[0].ID)
	}
	if first.ID != first.Entries[0].ID || first.Entries[1].ID == first.ID || first.BankID != b.ID {
		t.Errorf("item %d (bank %d) has entries %d, %d: want the first entry's id", first.ID, first.BankID, first.Entries[0].ID, first.Entries[1].ID)
	}
	assertActive(t, s, b.ID, 4, -1)

	// Ordinary adds and imports are still de-duplicated, against ordinary
	// entries only: re-adding is harmless.
	res, err := s.Entries.AddEntries(ctx, b.ID, "curator", []*vigil.Entry{{SignalType: vigil.SignalPDQ, Value: PDQ(1)}})
	must(t, err)
	if res.Added != 0 || res.Duplicates != 1 {
		t.Errorf("re-adding an ordinary entry: %+v, want 1 duplicate", res)
	}
	res, err = s.Entries.ImportEntries(ctx, b.ID, "curator", genEntries(2, func(i int) *vigil.Entry {
		return &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(1 + i)}
	}))
	must(t, err)
	if res.Added != 1 || res.Duplicates != 1 {
		t.Errorf("import over an ordinary entry and items: %+v, want 1 added, 1 duplicate", res)
	}
	// The loader sees every item's entry.
	n := 0
	_, err = s.Entries.ForEachActiveEntry(ctx, vigil.SignalPDQ, func(e *vigil.Entry) error {
		if e.Value == PDQ(1) {
			n++
		}
		return nil
	})
	must(t, err)
	if n != 3 {
		t.Errorf("%d active entries with the shared hash, want 3 (one ordinary, two items)", n)
	}

	got, err := s.Items.FindContentItem(ctx, first.ID)
	must(t, err)
	if got.ID != first.ID || got.BankID != b.ID || got.Note != "first" || got.DisableUntil != 1 ||
		got.AddedBy != "key:1:hma" || !got.AddedAt.Equal(clock.Now()) || len(got.Entries) != 2 {
		t.Fatalf("FindContentItem = %+v", got)
	}
	var gotMeta, wantMeta any
	must(t, json.Unmarshal(got.Metadata, &gotMeta))
	must(t, json.Unmarshal(meta, &wantMeta))
	if string(mustJSON(t, gotMeta)) != string(mustJSON(t, wantMeta)) {
		t.Errorf("metadata %s, want %s", got.Metadata, meta)
	}
	assertEntry(t, got.Entries[0], first.Entries[0])
	assertEntry(t, got.Entries[1], first.Entries[1])
	if _, err := s.Items.FindContentItem(ctx, ordinary[0].ID); vigil.ErrorCode(err) != vigil.ENOTFOUND {
		t.Errorf("FindContentItem of an ordinary entry: %v, want ENOTFOUND", err)
	}
	if _, err := s.Items.FindContentItem(ctx, first.Entries[1].ID); vigil.ErrorCode(err) != vigil.ENOTFOUND {
		t.Errorf("FindContentItem of an item's second entry: %v, want ENOTFOUND", err)
	}

	byEntry, err := s.Items.FindContentItemsByEntry(ctx, []int64{ordinary[0].ID, first.Entries[0].ID, first.Entries[1].ID, second.ID, 1 << 40})
	must(t, err)
	if len(byEntry) != 3 || byEntry[first.Entries[0].ID].ID != first.ID || byEntry[first.Entries[1].ID].ID != first.ID ||
		byEntry[second.ID].ID != second.ID || byEntry[ordinary[0].ID] != nil {
		t.Errorf("FindContentItemsByEntry = %v", byEntry)
	}
	if byEntry[second.ID].Note != "" || byEntry[second.ID].Metadata != nil {
		t.Errorf("item without note and metadata: %+v", byEntry[second.ID])
	}

	clock.Advance(time.Second)
	until, note := clock.Now().Add(time.Hour).Unix(), ""
	upd, err := s.Items.UpdateContentItem(ctx, first.ID, vigil.ContentItemUpdate{DisableUntil: &until, Note: &note})
	must(t, err)
	if upd.DisableUntil != until || upd.Note != "" || !upd.UpdatedAt.Equal(clock.Now()) || len(upd.Entries) != 2 {
		t.Errorf("UpdateContentItem = %+v", upd)
	}
	if upd.Enabled(clock.Now()) || !upd.Enabled(time.Unix(until, 0)) {
		t.Errorf("an item disabled until %d: enabled now, or not at that time", until)
	}
	got, err = s.Items.FindContentItem(ctx, first.ID)
	must(t, err)
	if got.DisableUntil != until || got.Note != "" {
		t.Errorf("after update: %+v", got)
	}
	neg := int64(-1)
	_, err = s.Items.UpdateContentItem(ctx, first.ID, vigil.ContentItemUpdate{DisableUntil: &neg})
	wantCode(t, err, vigil.EINVALID)
	_, err = s.Items.UpdateContentItem(ctx, 1<<40, vigil.ContentItemUpdate{Note: &note})
	wantCode(t, err, vigil.ENOTFOUND)

	// Invalid items store nothing.
	wantCode(t, s.Items.AddContentItem(ctx, b.ID, "curator", &vigil.ContentItem{}), vigil.EINVALID)
	wantCode(t, s.Items.AddContentItem(ctx, b.ID, "curator", &vigil.ContentItem{Metadata: json.RawMessage(`[1]`),
		Entries: []*vigil.Entry{{SignalType: vigil.SignalPDQ, Value: PDQ(9)}}}), vigil.EINVALID)
	wantCode(t, s.Items.AddContentItem(ctx, b.ID, "curator", &vigil.ContentItem{
		Entries: []*vigil.Entry{{SignalType: vigil.SignalPDQ, Value: PDQ(9)}, {SignalType: vigil.SignalMD5, Value: "nothex"}}}), vigil.EINVALID)
	wantCode(t, s.Items.AddContentItem(ctx, 1<<40, "curator", &vigil.ContentItem{
		Entries: []*vigil.Entry{{SignalType: vigil.SignalPDQ, Value: PDQ(9)}}}), vigil.ENOTFOUND)
	assertActive(t, s, b.ID, 5, -1)

	// Retracting an item's entry through EntryService leaves the item and
	// its other entry.
	_, err = s.Entries.RetractEntry(ctx, first.Entries[1].ID, "curator", "test")
	must(t, err)
	got, err = s.Items.FindContentItem(ctx, first.ID)
	must(t, err)
	if len(got.Entries) != 2 || !got.Entries[1].Retracted() || got.Entries[0].Retracted() {
		t.Errorf("after retracting the second entry: %+v", got.Entries)
	}

	// Retracting the item retracts what is left of it, in one go; the
	// other item with the same hash stays.
	_, err = s.Items.RetractContentItem(ctx, first.ID, "curator", "")
	wantCode(t, err, vigil.EINVALID)
	ret, err := s.Items.RetractContentItem(ctx, first.ID, "curator", "deleted")
	must(t, err)
	if !ret.Entries[0].Retracted() || ret.Entries[0].RetractReason != "deleted" {
		t.Errorf("retracted item %+v", ret.Entries[0])
	}
	assertActive(t, s, b.ID, 3, -1)
	_, err = s.Items.RetractContentItem(ctx, first.ID, "curator", "again")
	wantCode(t, err, vigil.ECONFLICT)
	_, err = s.Items.RetractContentItem(ctx, 1<<40, "curator", "none")
	wantCode(t, err, vigil.ENOTFOUND)
	changed, err := s.Entries.EntriesChangedSince(ctx, vigil.SignalPDQ, first.Entries[0].Seq, 100)
	must(t, err)
	if len(changed) == 0 || changed[len(changed)-1].ID != first.ID || !changed[len(changed)-1].Retracted() {
		t.Errorf("the change feed does not show the item's retraction: %+v", changed)
	}
}

// TestBankMatchRatioAndRename checks Bank.MatchRatio (0 read as 1, kept
// through updates) and renaming by BankUpdate.Name.
func TestBankMatchRatioAndRename(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	b := createBank(t, s, "ratio")
	if b.MatchRatio != 1 {
		t.Errorf("new bank's MatchRatio %v, want 1", b.MatchRatio)
	}
	half := 0.5
	upd, err := s.Banks.UpdateBank(ctx, b.ID, vigil.BankUpdate{MatchRatio: &half})
	must(t, err)
	got, err := s.Banks.FindBankByID(ctx, b.ID)
	must(t, err)
	if upd.MatchRatio != 0.5 || got.MatchRatio != 0.5 || got.Version != b.Version+1 {
		t.Errorf("after setting 0.5: %v, stored %v (version %d)", upd.MatchRatio, got.MatchRatio, got.Version)
	}
	for _, bad := range []float64{-0.1, 1.5} {
		_, err := s.Banks.UpdateBank(ctx, b.ID, vigil.BankUpdate{MatchRatio: &bad})
		wantCode(t, err, vigil.EINVALID)
	}

	name := "renamed"
	upd, err = s.Banks.UpdateBank(ctx, b.ID, vigil.BankUpdate{Name: &name})
	must(t, err)
	if upd.Name != "renamed" || upd.MatchRatio != 0.5 {
		t.Errorf("renamed bank %+v", upd)
	}
	if _, err := s.Banks.FindBankByName(ctx, "ratio"); vigil.ErrorCode(err) != vigil.ENOTFOUND {
		t.Errorf("old name still found: %v", err)
	}
	if got, err := s.Banks.FindBankByName(ctx, "renamed"); err != nil || got.ID != b.ID {
		t.Errorf("new name: %v, %v", got, err)
	}
	other := createBank(t, s, "other")
	_, err = s.Banks.UpdateBank(ctx, other.ID, vigil.BankUpdate{Name: &name})
	wantCode(t, err, vigil.ECONFLICT)
	bad := "Not Valid"
	_, err = s.Banks.UpdateBank(ctx, other.ID, vigil.BankUpdate{Name: &bad})
	wantCode(t, err, vigil.EINVALID)

	// A published bank keeps its name: feeds name their banks.
	must(t, s.Feeds.CreateFeed(ctx, &vigil.Feed{Name: "pub", Banks: []string{"other"}, VerifierKey: "k+00000000+AAAA"}))
	moved := "moved"
	_, err = s.Banks.UpdateBank(ctx, other.ID, vigil.BankUpdate{Name: &moved})
	wantCode(t, err, vigil.ECONFLICT)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return b
}
