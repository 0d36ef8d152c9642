package storetest

import (
	"context"
	"testing"

	"github.com/vigil-oss/vigil"
)

// TestTextEntries checks that URL and keyword entries, whose values are
// text rather than hashes, are stored, deduplicated and streamed intact.
func TestTextEntries(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	b := &vigil.Bank{Name: "text", Enabled: true}
	if err := s.Banks.CreateBank(ctx, b); err != nil {
		t.Fatal(err)
	}
	entries := []*vigil.Entry{
		{SignalType: vigil.SignalURL, Value: "https://Example.com/Path?b=2&a=1"},
		{SignalType: vigil.SignalURL, Value: "host:example.org"},
		{SignalType: vigil.SignalKeyword, Value: "Add  me ON"},
		{SignalType: vigil.SignalKeyword, Value: "add me on"}, // a duplicate once canonical
	}
	res, err := s.Entries.AddEntries(ctx, b.ID, "alice", entries)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 3 || res.Duplicates != 1 {
		t.Fatalf("added %d, duplicates %d", res.Added, res.Duplicates)
	}
	got, err := s.Entries.FindEntryByID(ctx, entries[0].ID)
	if err != nil || got.Value != "https://Example.com/Path?b=2&a=1" {
		t.Fatalf("url entry: %+v %v", got, err)
	}
	var keywords []string
	if _, err := s.Entries.ForEachActiveEntry(ctx, vigil.SignalKeyword, func(e *vigil.Entry) error {
		keywords = append(keywords, e.Value)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(keywords) != 1 || keywords[0] != "add me on" {
		t.Fatalf("keywords %q", keywords)
	}
}
