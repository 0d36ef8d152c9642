package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

// TestExchangeService tests the state of fetches from outside exchanges:
// cursors per exchange and bank, and opinions sent back only for the
// exchange's own entries, again only when their counts change.
func TestExchangeService(t *testing.T, open Opener) {
	ctx := context.Background()

	t.Run("Cursor", func(t *testing.T) {
		s := open(t)
		b1, b2 := createBank(t, s, "one"), createBank(t, s, "two")
		cur, err := s.Exchanges.ExchangeCursor(ctx, vigil.SourceNCMEC, b1.ID)
		must(t, err)
		if cur != "" {
			t.Fatalf("cursor before any: %q", cur)
		}
		must(t, s.Exchanges.SetExchangeCursor(ctx, vigil.SourceNCMEC, b1.ID, "a"))
		must(t, s.Exchanges.SetExchangeCursor(ctx, vigil.SourceNCMEC, b1.ID, "b"))
		must(t, s.Exchanges.SetExchangeCursor(ctx, vigil.SourceThreatExchange, b1.ID, "te"))
		must(t, s.Exchanges.SetExchangeCursor(ctx, vigil.SourceNCMEC, b2.ID, "other bank"))
		for _, c := range []struct {
			ex   string
			bank int64
			want string
		}{{vigil.SourceNCMEC, b1.ID, "b"}, {vigil.SourceThreatExchange, b1.ID, "te"}, {vigil.SourceNCMEC, b2.ID, "other bank"}, {vigil.SourceStopNCII, b1.ID, ""}} {
			got, err := s.Exchanges.ExchangeCursor(ctx, c.ex, c.bank)
			must(t, err)
			if got != c.want {
				t.Errorf("cursor of %s into %d: %q, want %q", c.ex, c.bank, got, c.want)
			}
		}
		wantCode(t, s.Exchanges.SetExchangeCursor(ctx, vigil.SourceNCMEC, 9999, "x"), vigil.ENOTFOUND)
		wantCode(t, s.Exchanges.SetExchangeCursor(ctx, "Bad Name", b1.ID, "x"), vigil.EINVALID)
		wantCode(t, s.Exchanges.SetExchangeCursor(ctx, vigil.SourceNCMEC, b1.ID, strings.Repeat("x", vigil.MaxExchangeCursorLen+1)), vigil.EINVALID)
	})

	t.Run("Opinions", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		f := newCaseFixture(t, s, 0)
		entries := []*vigil.Entry{
			{SignalType: vigil.SignalPDQ, Value: PDQ(1), Source: vigil.SourceThreatExchange, SourceEntryID: "111"},
			{SignalType: vigil.SignalPDQ, Value: PDQ(2), Source: vigil.SourceThreatExchange, SourceEntryID: "222"},
			{SignalType: vigil.SignalPDQ, Value: PDQ(3), Source: vigil.SourceNCMEC, SourceEntryID: "42-image1"},    // another exchange's
			{SignalType: vigil.SignalPDQ, Value: PDQ(4), Source: vigil.SourceThreatExchange, SourceEntryID: "444"}, // never decided
		}
		_, err := s.Entries.AddEntries(ctx, f.bank.ID, "fetch", entries)
		must(t, err)
		decide := func(verdict vigil.Verdict, es ...*vigil.Entry) {
			t.Helper()
			c := f.matchCase(clock, es...)
			must(t, s.Cases.OpenCase(ctx, c, "rules"))
			_, err := s.Cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: verdict, DecidedBy: "rita"})
			must(t, err)
		}
		decide(vigil.VerdictConfirmed, entries[0], entries[2])
		decide(vigil.VerdictFalsePositive, entries[1], entries[2])

		got, err := s.Exchanges.ExchangeOpinions(ctx, vigil.SourceThreatExchange, f.bank.ID, 0, 10)
		must(t, err)
		want := []vigil.ExchangeOpinion{
			{EntryID: entries[0].ID, SignalType: vigil.SignalPDQ, SourceEntryID: "111", Confirmed: 1},
			{EntryID: entries[1].ID, SignalType: vigil.SignalPDQ, SourceEntryID: "222", FalsePositives: 1},
		}
		if !equalOpinions(got, want) {
			t.Fatalf("opinions\n got %+v\nwant %+v", got, want)
		}
		if !got[0].Verdict() || got[1].Verdict() {
			t.Errorf("verdicts of %+v", got)
		}
		page, err := s.Exchanges.ExchangeOpinions(ctx, vigil.SourceThreatExchange, f.bank.ID, entries[0].ID, 10)
		must(t, err)
		if !equalOpinions(page, want[1:]) {
			t.Errorf("page after the first: %+v", page)
		}
		nc, err := s.Exchanges.ExchangeOpinions(ctx, vigil.SourceNCMEC, f.bank.ID, 0, 10)
		must(t, err)
		if len(nc) != 1 || nc[0].EntryID != entries[2].ID || nc[0].Confirmed != 1 || nc[0].FalsePositives != 1 {
			t.Errorf("ncmec opinions: %+v", nc)
		}

		must(t, s.Exchanges.MarkExchangeOpinionsSent(ctx, vigil.SourceThreatExchange, got))
		left, err := s.Exchanges.ExchangeOpinions(ctx, vigil.SourceThreatExchange, f.bank.ID, 0, 10)
		must(t, err)
		if len(left) != 0 {
			t.Errorf("opinions after marking them sent: %+v", left)
		}
		// Marked sent for one exchange is not sent for another.
		nc, err = s.Exchanges.ExchangeOpinions(ctx, vigil.SourceNCMEC, f.bank.ID, 0, 10)
		must(t, err)
		if len(nc) != 1 {
			t.Errorf("ncmec opinions after marking threatexchange's: %+v", nc)
		}
		// A new decision changes the counts: the entry is due again.
		decide(vigil.VerdictFalsePositive, entries[0])
		decide(vigil.VerdictFalsePositive, entries[0])
		again, err := s.Exchanges.ExchangeOpinions(ctx, vigil.SourceThreatExchange, f.bank.ID, 0, 10)
		must(t, err)
		if !equalOpinions(again, []vigil.ExchangeOpinion{{EntryID: entries[0].ID, SignalType: vigil.SignalPDQ, SourceEntryID: "111", Confirmed: 1, FalsePositives: 2}}) || again[0].Verdict() {
			t.Errorf("opinions after new decisions: %+v", again)
		}
		wantCode(t, s.Exchanges.MarkExchangeOpinionsSent(ctx, vigil.SourceThreatExchange, make([]vigil.ExchangeOpinion, vigil.MaxFeedbackOpinions+1)), vigil.ETOOLARGE)
	})
}

func equalOpinions(a, b []vigil.ExchangeOpinion) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
