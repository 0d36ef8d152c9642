package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestPHMKeyedHashes tests the keyed second hashes of bank entries: kept
// per entry and key, read back by entry ids in one call (only the entries
// that have one, only under the key asked), replaced when the picture
// changes, each change committed with its audit record, nothing stored for
// an entry that does not exist, and the bounds refused.
func TestPHMKeyedHashes(t *testing.T, open Opener) {
	ctx := context.Background()
	s, clock := openWithClock(t, open)
	b := createBank(t, s, "keyed")
	es := []*vigil.Entry{
		{SignalType: vigil.SignalPDQ, Value: PDQ(1)},
		{SignalType: vigil.SignalPDQ, Value: PDQ(2)},
		{SignalType: vigil.SignalPDQ, Value: PDQ(3)},
	}
	_, err := s.Entries.AddEntries(ctx, b.ID, "test", es)
	must(t, err)
	hash := func(x byte) [vigil.PHMKeyedHashLen]byte {
		var h [vigil.PHMKeyedHashLen]byte
		for i := range h {
			h[i] = x ^ byte(i)
		}
		return h
	}
	const key, other = "00112233445566aa", "ffeeddccbbaa9988"
	audit := func() []*vigil.AuditRecord {
		t.Helper()
		recs, err := s.Audit.ListAudit(ctx, 0, 1000)
		must(t, err)
		return recs
	}
	before := len(audit())

	n, err := s.PHM.PutPHMKeyedHashes(ctx, "hotline", key, []vigil.PHMKeyedHash{{EntryID: es[0].ID, Hash: hash(1)}, {EntryID: es[1].ID, Hash: hash(2)}})
	must(t, err)
	if n != 2 {
		t.Fatalf("stored %d keyed hashes, want 2", n)
	}
	recs := audit()
	if len(recs) != before+1 {
		t.Fatalf("%d audit records after storing, want %d", len(recs), before+1)
	}
	last := recs[len(recs)-1]
	var detail struct {
		Entries []int64 `json:"entries"`
		Count   int     `json:"count"`
	}
	must(t, json.Unmarshal([]byte(last.Detail), &detail))
	if last.Action != vigil.AuditPHMKeyedHashes || last.Target != vigil.PHMKeyTarget(key) || last.Actor != "hotline" ||
		detail.Count != 2 || len(detail.Entries) != 2 || detail.Entries[0] != es[0].ID || detail.Entries[1] != es[1].ID {
		t.Fatalf("audit record %+v", last)
	}

	stored := clock.Now()
	got, err := s.PHM.PHMKeyedHashes(ctx, key, []int64{es[0].ID, es[1].ID, es[2].ID, 999999})
	must(t, err)
	if len(got) != 2 || got[es[0].ID].Hash != hash(1) || got[es[1].ID].Hash != hash(2) || got[es[0].ID].EntryID != es[0].ID {
		t.Fatalf("read back %+v", got)
	}
	if !got[es[0].ID].CreatedAt.Equal(stored) {
		t.Errorf("created at %v, want %v", got[es[0].ID].CreatedAt, stored)
	}
	if _, ok := got[es[2].ID]; ok {
		t.Error("an entry never keyed has a keyed hash")
	}
	if got, err := s.PHM.PHMKeyedHashes(ctx, other, []int64{es[0].ID}); err != nil || len(got) != 0 {
		t.Fatalf("under another key: %v, %v", got, err)
	}
	if got, err := s.PHM.PHMKeyedHashes(ctx, key, nil); err != nil || len(got) != 0 {
		t.Fatalf("no ids: %v, %v", got, err)
	}

	// The same picture keyed again changes nothing and records nothing;
	// another picture for the entry replaces its hash; another key's hash
	// is kept beside.
	clock.Advance(time.Minute)
	n, err = s.PHM.PutPHMKeyedHashes(ctx, "hotline", key, []vigil.PHMKeyedHash{{EntryID: es[0].ID, Hash: hash(1)}})
	must(t, err)
	if n != 0 || len(audit()) != before+1 {
		t.Fatalf("keying the same picture again: %d changed, %d audit records", n, len(audit())-before)
	}
	n, err = s.PHM.PutPHMKeyedHashes(ctx, "hotline", key, []vigil.PHMKeyedHash{{EntryID: es[0].ID, Hash: hash(7)}, {EntryID: es[1].ID, Hash: hash(2)}})
	must(t, err)
	if n != 1 || len(audit()) != before+2 {
		t.Fatalf("replacing one: %d changed, %d audit records", n, len(audit())-before)
	}
	_, err = s.PHM.PutPHMKeyedHashes(ctx, "hotline", other, []vigil.PHMKeyedHash{{EntryID: es[0].ID, Hash: hash(9)}})
	must(t, err)
	got, err = s.PHM.PHMKeyedHashes(ctx, key, []int64{es[0].ID, es[1].ID})
	must(t, err)
	if got[es[0].ID].Hash != hash(7) || !got[es[0].ID].CreatedAt.Equal(clock.Now()) || !got[es[1].ID].CreatedAt.Equal(stored) {
		t.Fatalf("after the replacement: %+v", got)
	}
	if got, _ := s.PHM.PHMKeyedHashes(ctx, other, []int64{es[0].ID}); got[es[0].ID].Hash != hash(9) {
		t.Fatalf("under the other key: %+v", got)
	}

	// An entry that does not exist stores nothing of the call.
	records := len(audit())
	_, err = s.PHM.PutPHMKeyedHashes(ctx, "hotline", key, []vigil.PHMKeyedHash{{EntryID: es[2].ID, Hash: hash(3)}, {EntryID: 999999, Hash: hash(4)}})
	wantCode(t, err, vigil.ENOTFOUND)
	if got, _ := s.PHM.PHMKeyedHashes(ctx, key, []int64{es[2].ID}); len(got) != 0 || len(audit()) != records {
		t.Fatalf("a refused call stored %v, %d audit records", got, len(audit())-records)
	}

	// The bounds.
	one := []vigil.PHMKeyedHash{{EntryID: es[2].ID, Hash: hash(3)}}
	for _, bad := range []string{"", "ABCDEF", "not hex", string(make([]byte, vigil.MaxPHMKeyIDLen+1))} {
		_, err = s.PHM.PutPHMKeyedHashes(ctx, "hotline", bad, one)
		wantCode(t, err, vigil.EINVALID)
		_, err = s.PHM.PHMKeyedHashes(ctx, bad, []int64{es[2].ID})
		wantCode(t, err, vigil.EINVALID)
	}
	_, err = s.PHM.PutPHMKeyedHashes(ctx, "", key, one)
	wantCode(t, err, vigil.EINVALID)
	_, err = s.PHM.PutPHMKeyedHashes(ctx, "hotline", key, nil)
	wantCode(t, err, vigil.EINVALID)
	_, err = s.PHM.PutPHMKeyedHashes(ctx, "hotline", key, append(one, one...))
	wantCode(t, err, vigil.EINVALID)
	many := make([]int64, vigil.MaxPHMKeyedHashes+1)
	for i := range many {
		many[i] = int64(i + 1)
	}
	_, err = s.PHM.PHMKeyedHashes(ctx, key, many)
	wantCode(t, err, vigil.ETOOLARGE)
	manyHashes := make([]vigil.PHMKeyedHash, len(many))
	for i, id := range many {
		manyHashes[i].EntryID = id
	}
	_, err = s.PHM.PutPHMKeyedHashes(ctx, "hotline", key, manyHashes)
	wantCode(t, err, vigil.ETOOLARGE)
}
