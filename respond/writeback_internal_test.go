package respond

import (
	"testing"

	"github.com/vigil-oss/vigil"
)

// TestWriteBackEntries checks which signals of a confirmed case become
// entries: content hashes once each, never a PDQ too poor to match
// reliably nor text; the case's SHA-256 when nothing was hashed.
func TestWriteBackEntries(t *testing.T) {
	low, good := 30, 90
	c := &vigil.Case{ID: 7, Content: vigil.ContentRef{SHA256: "aa"}, Decision: &vigil.Decision{Verdict: vigil.VerdictConfirmed, Category: "B1"}}
	got := writeBackEntries(c, []vigil.Signal{
		{Type: vigil.SignalPDQ, Value: "p1", Quality: &low},
		{Type: vigil.SignalPDQ, Value: "p2", Quality: &good},
		{Type: vigil.SignalMD5, Value: "m"},
		{Type: vigil.SignalMD5, Value: "m"},
		{Type: vigil.SignalText, Value: "hello"},
		{Type: vigil.SignalURL, Value: "https://example.com/"},
	})
	if len(got) != 2 || got[0].Value != "p2" || got[1].Value != "m" {
		t.Fatalf("entries %+v", got)
	}
	for _, e := range got {
		if e.Source != WriteBackSource || e.SourceEntryID != "7" || e.Category != "B1" {
			t.Errorf("provenance %+v", e)
		}
	}
	if got := writeBackEntries(c, nil); len(got) != 1 || got[0].SignalType != vigil.SignalSHA256 || got[0].Value != "aa" {
		t.Fatalf("without signals: %+v", got)
	}
}
