package storetest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestEntryService tests a vigil.EntryService (and the bank versions and
// counts it keeps).
func TestEntryService(t *testing.T, open Opener) {
	ctx := context.Background()

	t.Run("AddEntries", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		b := createBank(t, s, "b")
		clock.Advance(time.Minute)
		entries := []*vigil.Entry{
			{SignalType: vigil.SignalPDQ, Value: strings.ToUpper(PDQ(1)), Source: "ncmec", SourceEntryID: "n-1", Category: "A1"},
			{SignalType: vigil.SignalMD5, Value: MD5(2), Source: "local"},
		}
		res, err := s.Entries.AddEntries(ctx, b.ID, "alice", entries)
		must(t, err)
		if res.Added != 2 || res.Duplicates != 0 || res.Version == b.Version {
			t.Errorf("result %+v (bank version was %d)", res, b.Version)
		}
		for _, e := range entries {
			if e.ID == 0 || e.BankID != b.ID || e.AddedBy != "alice" || !e.AddedAt.Equal(clock.Now()) || e.Seq == 0 {
				t.Errorf("added entry not filled in: %+v", e)
			}
		}
		if entries[0].Value != PDQ(1) {
			t.Errorf("value not canonicalised: %q", entries[0].Value)
		}
		if entries[0].Seq == entries[1].Seq {
			t.Error("two additions share a change sequence number")
		}
		got, err := s.Entries.FindEntryByID(ctx, entries[0].ID)
		must(t, err)
		want := *entries[0]
		want.BankName = "b"
		assertEntry(t, got, &want)

		bank, err := s.Banks.FindBankByID(ctx, b.ID)
		must(t, err)
		if bank.ActiveEntries != 2 || bank.Version != res.Version {
			t.Errorf("bank after add: %d active, version %d, want 2 and %d", bank.ActiveEntries, bank.Version, res.Version)
		}
	})

	t.Run("Dedupe", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		b := createBank(t, s, "b")
		other := createBank(t, s, "other")
		first := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(1)}
		res, err := s.Entries.AddEntries(ctx, b.ID, "alice", []*vigil.Entry{first})
		must(t, err)
		version := res.Version

		// The same signal again, twice in one batch: skipped, and the
		// caller learns the ID of the entry already held.
		again := []*vigil.Entry{
			{SignalType: vigil.SignalPDQ, Value: strings.ToUpper(PDQ(1))},
			{SignalType: vigil.SignalPDQ, Value: PDQ(1)},
		}
		res, err = s.Entries.AddEntries(ctx, b.ID, "bob", again)
		must(t, err)
		if res.Added != 0 || res.Duplicates != 2 || res.Version != version {
			t.Errorf("re-adding: %+v, want 0 added, 2 duplicates, version %d", res, version)
		}
		for _, e := range again {
			if e.ID != first.ID {
				t.Errorf("duplicate got ID %d, want %d", e.ID, first.ID)
			}
		}

		// The same value in another bank, or as another type, is no
		// duplicate.
		res, err = s.Entries.AddEntries(ctx, other.ID, "alice", []*vigil.Entry{{SignalType: vigil.SignalPDQ, Value: PDQ(1)}})
		must(t, err)
		if res.Added != 1 {
			t.Errorf("same value in another bank: %+v", res)
		}
		res, err = s.Entries.AddEntries(ctx, b.ID, "alice", []*vigil.Entry{{SignalType: vigil.SignalSHA256, Value: PDQ(1)}})
		must(t, err)
		if res.Added != 1 {
			t.Errorf("same value as another type: %+v", res)
		}

		// A retracted entry is no duplicate: the signal comes back as a
		// new entry.
		_, err = s.Entries.RetractEntry(ctx, first.ID, "carol", "false positive")
		must(t, err)
		back := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(1)}
		res, err = s.Entries.AddEntries(ctx, b.ID, "alice", []*vigil.Entry{back})
		must(t, err)
		if res.Added != 1 || back.ID == first.ID {
			t.Errorf("re-adding a retracted signal: %+v, id %d (old %d)", res, back.ID, first.ID)
		}
		bank, err := s.Banks.FindBankByID(ctx, b.ID)
		must(t, err)
		if bank.ActiveEntries != 2 {
			t.Errorf("bank has %d active entries, want 2", bank.ActiveEntries)
		}
	})

	t.Run("AddInvalid", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		b := createBank(t, s, "b")
		good := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(1)}
		for _, bad := range []*vigil.Entry{
			{SignalType: vigil.SignalPDQ, Value: "abc"},
			{SignalType: vigil.SignalMD5, Value: PDQ(2)},
			{SignalType: "nope", Value: PDQ(2)},
			{SignalType: vigil.SignalPDQ, Value: PDQ(2), Category: strings.Repeat("x", 1000)},
		} {
			_, err := s.Entries.AddEntries(ctx, b.ID, "alice", []*vigil.Entry{good, bad})
			wantCode(t, err, vigil.EINVALID)
		}
		_, err := s.Entries.AddEntries(ctx, b.ID, "", []*vigil.Entry{good})
		wantCode(t, err, vigil.EINVALID)
		_, err = s.Entries.AddEntries(ctx, 12345, "alice", []*vigil.Entry{good})
		wantCode(t, err, vigil.ENOTFOUND)

		// All or nothing: the good entry beside each bad one is not stored.
		assertActive(t, s, b.ID, 0, b.Version)
	})

	t.Run("Import", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		b := createBank(t, s, "b")
		// Enough entries for several batches and a partial last one, with
		// duplicates within the import and of an entry already held.
		_, err := s.Entries.AddEntries(ctx, b.ID, "alice", []*vigil.Entry{{SignalType: vigil.SignalPDQ, Value: PDQ(7)}})
		must(t, err)
		const n = 2500
		res, err := s.Entries.ImportEntries(ctx, b.ID, "importer", genEntries(n, func(i int) *vigil.Entry {
			return &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(i % 2000), Source: "iwf", SourceEntryID: fmt.Sprint(i)}
		}))
		must(t, err)
		if res.Added != 1999 || res.Duplicates != 501 {
			t.Errorf("import: %+v, want 1999 added, 501 duplicates", res)
		}
		assertActive(t, s, b.ID, 2000, res.Version)

		// Every entry is findable, with provenance.
		page, err := s.Entries.FindEntries(ctx, vigil.EntryFilter{BankID: &b.ID, Value: ptr(PDQ(1999)), SignalType: ptr(vigil.SignalPDQ)})
		must(t, err)
		if len(page) != 1 || page[0].Source != "iwf" || page[0].SourceEntryID != "1999" || page[0].AddedBy != "importer" || page[0].BankName != "b" {
			t.Errorf("imported entry: %+v", page)
		}
	})

	t.Run("Quality", func(t *testing.T) {
		s := open(t)
		b := createBank(t, s, "q")
		// Kept as given by AddEntries and ImportEntries alike (0 is a
		// quality, not unknown); unknown stays unknown.
		_, err := s.Entries.AddEntries(ctx, b.ID, "alice", []*vigil.Entry{
			{SignalType: vigil.SignalPDQ, Value: PDQ(1), Quality: ptr(87)},
			{SignalType: vigil.SignalPDQ, Value: PDQ(2)},
		})
		must(t, err)
		_, err = s.Entries.ImportEntries(ctx, b.ID, "importer", genEntries(3, func(i int) *vigil.Entry {
			e := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(10 + i)}
			if i < 2 {
				e.Quality = ptr(i * 30)
			}
			return e
		}))
		must(t, err)
		want := map[string]int{PDQ(1): 87, PDQ(2): -1, PDQ(10): 0, PDQ(11): 30, PDQ(12): -1}
		page, err := s.Entries.FindEntries(ctx, vigil.EntryFilter{BankID: &b.ID})
		must(t, err)
		if len(page) != len(want) {
			t.Fatalf("%d entries, want %d", len(page), len(want))
		}
		for _, e := range page {
			got := -1
			if e.Quality != nil {
				got = *e.Quality
			}
			if got != want[e.Value] {
				t.Errorf("entry %s: quality %d, want %d", e.Value, got, want[e.Value])
			}
			byID, err := s.Entries.FindEntryByID(ctx, e.ID)
			must(t, err)
			if (byID.Quality == nil) != (e.Quality == nil) || (e.Quality != nil && *byID.Quality != *e.Quality) {
				t.Errorf("entry %d by id: quality %v, listed %v", e.ID, byID.Quality, e.Quality)
			}
		}
		for _, bad := range []*vigil.Entry{
			{SignalType: vigil.SignalPDQ, Value: PDQ(3), Quality: ptr(101)},
			{SignalType: vigil.SignalPDQ, Value: PDQ(3), Quality: ptr(-1)},
			{SignalType: vigil.SignalMD5, Value: "d41d8cd98f00b204e9800998ecf8427e", Quality: ptr(80)},
		} {
			_, err := s.Entries.AddEntries(ctx, b.ID, "alice", []*vigil.Entry{bad})
			wantCode(t, err, vigil.EINVALID)
			_, err = s.Entries.ImportEntries(ctx, b.ID, "alice", genEntries(1, func(int) *vigil.Entry { c := *bad; return &c }))
			wantCode(t, err, vigil.EINVALID)
		}
	})

	t.Run("ImportAtomic", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		b := createBank(t, s, "b")
		_, err := s.Entries.AddEntries(ctx, b.ID, "alice", []*vigil.Entry{{SignalType: vigil.SignalPDQ, Value: PDQ(1)}})
		must(t, err)
		before, err := s.Banks.FindBankByID(ctx, b.ID)
		must(t, err)

		// A source that fails part-way, after several batches.
		errSource := errors.New("source broke")
		_, err = s.Entries.ImportEntries(ctx, b.ID, "importer", genEntries(1500, func(i int) *vigil.Entry {
			if i == 1400 {
				return nil
			}
			return &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(100 + i)}
		}, errSource))
		if !errors.Is(err, errSource) {
			t.Errorf("import from a failing source: %v, want %v", err, errSource)
		}
		// An invalid entry part-way.
		_, err = s.Entries.ImportEntries(ctx, b.ID, "importer", genEntries(1500, func(i int) *vigil.Entry {
			if i == 1400 {
				return &vigil.Entry{SignalType: vigil.SignalPDQ, Value: "xyz"}
			}
			return &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(100 + i)}
		}))
		wantCode(t, err, vigil.EINVALID)
		if !strings.Contains(vigil.ErrorMessage(err), "1401") {
			t.Errorf("error %q does not name entry 1401", vigil.ErrorMessage(err))
		}
		// A cancelled context.
		cctx, cancel := context.WithCancel(ctx)
		_, err = s.Entries.ImportEntries(cctx, b.ID, "importer", genEntries(1500, func(i int) *vigil.Entry {
			if i == 1000 {
				cancel()
			}
			return &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(100 + i)}
		}))
		if err == nil {
			t.Error("import with a cancelled context: no error")
		}
		_, err = s.Entries.ImportEntries(ctx, 12345, "importer", genEntries(1, func(i int) *vigil.Entry {
			return &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(i)}
		}))
		wantCode(t, err, vigil.ENOTFOUND)

		assertActive(t, s, b.ID, 1, before.Version)
		all, err := s.Entries.FindEntries(ctx, vigil.EntryFilter{IncludeRetracted: true, Limit: vigil.MaxEntryLimit})
		must(t, err)
		if len(all) != 1 {
			t.Errorf("%d entries stored, want 1", len(all))
		}
	})

	t.Run("ImportNothing", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		b := createBank(t, s, "b")
		res, err := s.Entries.ImportEntries(ctx, b.ID, "importer", genEntries(0, nil))
		must(t, err)
		if res.Added != 0 || res.Version != b.Version {
			t.Errorf("empty import: %+v", res)
		}
	})

	t.Run("Retract", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		b := createBank(t, s, "b")
		e := &vigil.Entry{SignalType: vigil.SignalMD5, Value: MD5(1), Source: "ncmec"}
		res, err := s.Entries.AddEntries(ctx, b.ID, "alice", []*vigil.Entry{e})
		must(t, err)

		_, err = s.Entries.RetractEntry(ctx, e.ID, "bob", "")
		wantCode(t, err, vigil.EINVALID)
		_, err = s.Entries.RetractEntry(ctx, e.ID, "", "why")
		wantCode(t, err, vigil.EINVALID)
		_, err = s.Entries.RetractEntry(ctx, 12345, "bob", "why")
		wantCode(t, err, vigil.ENOTFOUND)

		clock.Advance(time.Hour)
		got, err := s.Entries.RetractEntry(ctx, e.ID, "bob", "source retracted it")
		must(t, err)
		if !got.Retracted() || !got.RetractedAt.Equal(clock.Now()) || got.RetractedBy != "bob" ||
			got.RetractReason != "source retracted it" || got.Seq <= e.Seq || got.BankName != "b" {
			t.Errorf("retracted entry: %+v", got)
		}
		stored, err := s.Entries.FindEntryByID(ctx, e.ID)
		must(t, err)
		assertEntry(t, stored, got)
		assertActive(t, s, b.ID, 0, -1)
		bank, err := s.Banks.FindBankByID(ctx, b.ID)
		must(t, err)
		if bank.Version == res.Version {
			t.Error("retraction did not change the bank's version")
		}

		_, err = s.Entries.RetractEntry(ctx, e.ID, "bob", "again")
		wantCode(t, err, vigil.ECONFLICT)
	})

	t.Run("EntryVersions", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		v, ok := s.Entries.(vigil.EntryVersions)
		if !ok {
			t.Skip("the store does not implement vigil.EntryVersions")
		}
		b := createBank(t, s, "b")
		seq := func() int64 {
			t.Helper()
			n, err := v.EntryChangeSeq(ctx)
			must(t, err)
			return n
		}
		seq0 := seq()
		e := &vigil.Entry{SignalType: vigil.SignalMD5, Value: MD5(1), Source: "ncmec"}
		_, err := s.Entries.AddEntries(ctx, b.ID, "alice", []*vigil.Entry{e})
		must(t, err)
		seq1 := seq()
		if seq1 <= seq0 || seq1 != e.Seq {
			t.Errorf("after an addition: seq %d (was %d), entry's %d", seq1, seq0, e.Seq)
		}
		check := func(wantSeq int64, wantRetracted, wantQuarantined bool) {
			t.Helper()
			got, n, err := v.FindEntryAndSeq(ctx, e.ID)
			must(t, err)
			if n != wantSeq || got.ID != e.ID || got.BankName != "b" || got.Value != e.Value || got.Source != "ncmec" ||
				got.Retracted() != wantRetracted || (got.QuarantinedAt != nil) != wantQuarantined {
				t.Errorf("FindEntryAndSeq: seq %d, want %d; entry %+v", n, wantSeq, got)
			}
		}
		check(seq1, false, false)
		if s.Cases != nil {
			must(t, s.Cases.QuarantineEntry(ctx, e.ID, "checking"))
			seq2 := seq()
			if seq2 <= seq1 {
				t.Errorf("quarantine left the change seq at %d (was %d)", seq2, seq1)
			}
			check(seq2, false, true)
			must(t, s.Cases.ReleaseEntry(ctx, e.ID))
			seq1 = seq()
			check(seq1, false, false)
		}
		_, err = s.Entries.RetractEntry(ctx, e.ID, "bob", "source retracted it")
		must(t, err)
		seq3 := seq()
		if seq3 <= seq1 {
			t.Errorf("retraction left the change seq at %d (was %d)", seq3, seq1)
		}
		check(seq3, true, false)
		// A write that fails changes nothing.
		_, err = s.Entries.RetractEntry(ctx, e.ID, "bob", "again")
		wantCode(t, err, vigil.ECONFLICT)
		if n := seq(); n != seq3 {
			t.Errorf("a refused retraction moved the change seq from %d to %d", seq3, n)
		}
		_, _, err = v.FindEntryAndSeq(ctx, 12345)
		wantCode(t, err, vigil.ENOTFOUND)
	})

	t.Run("FindEntries", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		a := createBank(t, s, "a")
		b := createBank(t, s, "b")
		var inA []*vigil.Entry
		for i := range 10 {
			inA = append(inA, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(i)})
		}
		inA = append(inA, &vigil.Entry{SignalType: vigil.SignalMD5, Value: MD5(1), SourceEntryID: "x-1"})
		_, err := s.Entries.AddEntries(ctx, a.ID, "alice", inA)
		must(t, err)
		_, err = s.Entries.AddEntries(ctx, b.ID, "alice", []*vigil.Entry{{SignalType: vigil.SignalPDQ, Value: PDQ(1)}})
		must(t, err)
		_, err = s.Entries.RetractEntry(ctx, inA[3].ID, "bob", "wrong")
		must(t, err)

		count := func(f vigil.EntryFilter) int {
			t.Helper()
			got, err := s.Entries.FindEntries(ctx, f)
			must(t, err)
			for i := 1; i < len(got); i++ {
				if got[i].ID <= got[i-1].ID {
					t.Fatalf("entries out of ID order")
				}
			}
			return len(got)
		}
		for _, tt := range []struct {
			name string
			f    vigil.EntryFilter
			want int
		}{
			{"all active", vigil.EntryFilter{}, 11},
			{"all", vigil.EntryFilter{IncludeRetracted: true}, 12},
			{"bank a", vigil.EntryFilter{BankID: &a.ID}, 10},
			{"bank a with retracted", vigil.EntryFilter{BankID: &a.ID, IncludeRetracted: true}, 11},
			{"pdq", vigil.EntryFilter{SignalType: ptr(vigil.SignalPDQ)}, 10},
			{"md5 in a", vigil.EntryFilter{BankID: &a.ID, SignalType: ptr(vigil.SignalMD5)}, 1},
			{"value everywhere", vigil.EntryFilter{Value: ptr(strings.ToUpper(PDQ(1)))}, 2},
			{"retracted value", vigil.EntryFilter{Value: ptr(PDQ(3))}, 0},
			{"retracted value included", vigil.EntryFilter{Value: ptr(PDQ(3)), IncludeRetracted: true}, 1},
			{"source entry id", vigil.EntryFilter{SourceEntryID: ptr("x-1")}, 1},
			{"limit", vigil.EntryFilter{Limit: 4}, 4},
			{"after", vigil.EntryFilter{AfterID: inA[8].ID}, 3},
			{"unknown bank", vigil.EntryFilter{BankID: ptr(int64(12345))}, 0},
		} {
			if got := count(tt.f); got != tt.want {
				t.Errorf("%s: %d entries, want %d", tt.name, got, tt.want)
			}
		}

		// Paging visits every entry once.
		seen := map[int64]bool{}
		f := vigil.EntryFilter{IncludeRetracted: true, Limit: 5}
		for {
			page, err := s.Entries.FindEntries(ctx, f)
			must(t, err)
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				if seen[e.ID] {
					t.Fatalf("entry %d on two pages", e.ID)
				}
				seen[e.ID] = true
			}
			f.AfterID = page[len(page)-1].ID
		}
		if len(seen) != 12 {
			t.Errorf("paging saw %d entries, want 12", len(seen))
		}

		_, err = s.Entries.FindEntries(ctx, vigil.EntryFilter{SignalType: ptr(vigil.SignalPDQ), Value: ptr("nothex")})
		wantCode(t, err, vigil.EINVALID)
		_, err = s.Entries.FindEntryByID(ctx, 12345)
		wantCode(t, err, vigil.ENOTFOUND)
	})

	t.Run("ConcurrentChanges", func(t *testing.T) { testConcurrentChanges(t, open) })

	t.Run("ChangeTracking", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		a := createBank(t, s, "a")
		b := createBank(t, s, "b")
		var first []*vigil.Entry
		for i := range 5 {
			first = append(first, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(i)})
		}
		_, err := s.Entries.AddEntries(ctx, a.ID, "alice", first)
		must(t, err)
		_, err = s.Entries.AddEntries(ctx, b.ID, "alice", []*vigil.Entry{{SignalType: vigil.SignalMD5, Value: MD5(1)}})
		must(t, err)
		_, err = s.Entries.RetractEntry(ctx, first[0].ID, "bob", "wrong")
		must(t, err)

		// The loader sees the active entries of one type, from all banks.
		loaded := map[int64]string{}
		seq, err := s.Entries.ForEachActiveEntry(ctx, vigil.SignalPDQ, func(e *vigil.Entry) error {
			if e.Retracted() || e.SignalType != vigil.SignalPDQ || e.BankName != "a" {
				t.Errorf("loader got %+v", e)
			}
			loaded[e.ID] = e.Value
			return nil
		})
		must(t, err)
		if len(loaded) != 4 {
			t.Errorf("loader saw %d entries, want 4", len(loaded))
		}
		// Nothing has changed since the load.
		changes, err := s.Entries.EntriesChangedSince(ctx, vigil.SignalPDQ, seq, 0)
		must(t, err)
		if len(changes) != 0 {
			t.Errorf("%d changes right after the load, want 0", len(changes))
		}

		// Changes after the load, in a disabled bank too.
		_, err = s.Banks.DisableBank(ctx, b.ID)
		must(t, err)
		added := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(100)}
		_, err = s.Entries.AddEntries(ctx, b.ID, "alice", []*vigil.Entry{added})
		must(t, err)
		_, err = s.Entries.RetractEntry(ctx, first[1].ID, "bob", "wrong")
		must(t, err)
		gone := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(101)}
		_, err = s.Entries.AddEntries(ctx, a.ID, "alice", []*vigil.Entry{gone})
		must(t, err)
		_, err = s.Entries.RetractEntry(ctx, gone.ID, "bob", "wrong")
		must(t, err)
		_, err = s.Entries.AddEntries(ctx, a.ID, "alice", []*vigil.Entry{{SignalType: vigil.SignalMD5, Value: MD5(9)}})
		must(t, err)

		changes, err = s.Entries.EntriesChangedSince(ctx, vigil.SignalPDQ, seq, 0)
		must(t, err)
		if len(changes) != 3 {
			t.Fatalf("%d pdq changes, want 3: %+v", len(changes), changes)
		}
		for i := 1; i < len(changes); i++ {
			if changes[i].Seq <= changes[i-1].Seq {
				t.Error("changes out of sequence order")
			}
		}
		// Applying the changes gives the state a fresh load sees.
		for _, e := range changes {
			if e.Seq <= seq {
				t.Errorf("change %+v is not after %d", e, seq)
			}
			if e.Retracted() {
				delete(loaded, e.ID)
			} else {
				loaded[e.ID] = e.Value
			}
		}
		reloaded := map[int64]string{}
		seq2, err := s.Entries.ForEachActiveEntry(ctx, vigil.SignalPDQ, func(e *vigil.Entry) error {
			reloaded[e.ID] = e.Value
			return nil
		})
		must(t, err)
		if fmt.Sprint(reloaded) != fmt.Sprint(loaded) {
			t.Errorf("applying changes gives\n%v\na reload gives\n%v", loaded, reloaded)
		}
		if seq2 < changes[len(changes)-1].Seq {
			t.Errorf("reload seq %d is before the last change %d", seq2, changes[len(changes)-1].Seq)
		}

		// Paging through changes with a limit.
		page, err := s.Entries.EntriesChangedSince(ctx, vigil.SignalPDQ, seq, 2)
		must(t, err)
		if len(page) != 2 || page[1].Seq != changes[1].Seq {
			t.Errorf("limited changes: %+v", page)
		}

		// The loader stops at fn's error.
		stop := errors.New("stop")
		calls := 0
		_, err = s.Entries.ForEachActiveEntry(ctx, vigil.SignalPDQ, func(*vigil.Entry) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("ForEachActiveEntry after fn error: %v, %d calls", err, calls)
		}
	})
}

// testConcurrentChanges checks that concurrent writers get distinct change
// sequence numbers and that a reader following EntriesChangedSince misses
// none of their changes.
func testConcurrentChanges(t *testing.T, open Opener) {
	ctx := context.Background()
	s, _ := openWithClock(t, open)
	b := createBank(t, s, "b")
	const writers, perWriter = 4, 25

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				e := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: PDQ(w*1000 + i)}
				if _, err := s.Entries.AddEntries(ctx, b.ID, "writer", []*vigil.Entry{e}); err != nil {
					errs <- err
					return
				}
				if i%5 == 0 {
					if _, err := s.Entries.RetractEntry(ctx, e.ID, "writer", "test"); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}

	// Follow the changes while they happen, as a matcher does.
	state := map[int64]bool{} // entry id -> active
	var seq int64
	seqs := map[int64]int64{} // seq -> entry id
	follow := func() {
		for {
			changes, err := s.Entries.EntriesChangedSince(ctx, vigil.SignalPDQ, seq, 7)
			must(t, err)
			if len(changes) == 0 {
				return
			}
			for _, e := range changes {
				if id, ok := seqs[e.Seq]; ok && id != e.ID {
					t.Fatalf("entries %d and %d share seq %d", id, e.ID, e.Seq)
				}
				seqs[e.Seq] = e.ID
				state[e.ID] = !e.Retracted()
				seq = e.Seq
			}
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		follow()
	}
	follow()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	active := 0
	for _, a := range state {
		if a {
			active++
		}
	}
	want := writers * (perWriter - perWriter/5)
	if len(state) != writers*perWriter || active != want {
		t.Errorf("followed %d entries, %d active; want %d and %d", len(state), active, writers*perWriter, want)
	}
	assertActive(t, s, b.ID, int64(want), -1)
}

// createBank creates an enabled bank.
func createBank(t testing.TB, s Services, name string) *vigil.Bank {
	t.Helper()
	b := &vigil.Bank{Name: name, Enabled: true}
	must(t, s.Banks.CreateBank(context.Background(), b))
	return b
}

// assertActive checks a bank's active entry count and, unless version is
// negative, its version.
func assertActive(t testing.TB, s Services, bankID, active, version int64) {
	t.Helper()
	b, err := s.Banks.FindBankByID(context.Background(), bankID)
	must(t, err)
	if b.ActiveEntries != active {
		t.Errorf("bank %q has %d active entries, want %d", b.Name, b.ActiveEntries, active)
	}
	if version >= 0 && b.Version != version {
		t.Errorf("bank %q has version %d, want %d", b.Name, b.Version, version)
	}
	page, err := s.Entries.FindEntries(context.Background(), vigil.EntryFilter{BankID: &bankID, Limit: vigil.MaxEntryLimit})
	must(t, err)
	if int64(len(page)) != active && active < vigil.MaxEntryLimit {
		t.Errorf("FindEntries finds %d active entries in bank %q, want %d", len(page), b.Name, active)
	}
}

// assertEntry fails t unless got and want have the same stored fields.
func assertEntry(t testing.TB, got, want *vigil.Entry) {
	t.Helper()
	sameTime := func(a, b *time.Time) bool { return a == nil && b == nil || a != nil && b != nil && a.Equal(*b) }
	if got.ID != want.ID || got.BankID != want.BankID || got.BankName != want.BankName ||
		got.SignalType != want.SignalType || got.Value != want.Value || got.Source != want.Source ||
		got.SourceEntryID != want.SourceEntryID || got.Category != want.Category ||
		got.AddedBy != want.AddedBy || !got.AddedAt.Equal(want.AddedAt) ||
		got.RetractedBy != want.RetractedBy || !sameTime(got.RetractedAt, want.RetractedAt) ||
		got.RetractReason != want.RetractReason || !sameTime(got.QuarantinedAt, want.QuarantinedAt) ||
		got.QuarantineReason != want.QuarantineReason || got.Seq != want.Seq {
		t.Errorf("entry\n got %+v\nwant %+v", got, want)
	}
}

// genEntries yields n entries made by gen; a nil entry from gen yields
// err instead (and the sequence stops if the consumer stops).
func genEntries(n int, gen func(i int) *vigil.Entry, err ...error) iter.Seq2[*vigil.Entry, error] {
	return func(yield func(*vigil.Entry, error) bool) {
		for i := range n {
			e := gen(i)
			if e == nil {
				yield(nil, err[0])
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// PDQ returns a distinct, valid PDQ hash for each i.
func PDQ(i int) string {
	return fmt.Sprintf("%016x", uint64(i)) + strings.Repeat("0f", 24)
}

// MD5 returns a distinct, valid MD5 hash for each i.
func MD5(i int) string {
	return fmt.Sprintf("%016x", uint64(i)) + strings.Repeat("ab", 8)
}
