package centre_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/centre"
	"github.com/vigil-oss/vigil/centre/intake"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/sqlite"
)

// centreFixture is a centre's store with one bank of known material.
type centreFixture struct {
	db      *sqlite.DB
	banks   *sqlite.BankService
	entries *sqlite.EntryService
	reports *sqlite.CentreService
	m       *matcher.Matcher
	bank    *vigil.Bank
	triage  *centre.Triage
	prov    *vigil.CentreProvider
}

func newCentreFixture(tb testing.TB, known ...string) *centreFixture {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, tb.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	f := &centreFixture{db: db, banks: sqlite.NewBankService(db), entries: sqlite.NewEntryService(db), reports: sqlite.NewCentreService(db)}
	f.bank = &vigil.Bank{Name: "centre-known", Enabled: true}
	if err := f.banks.CreateBank(ctx, f.bank); err != nil {
		tb.Fatal(err)
	}
	if len(known) > 0 {
		seq := func(yield func(*vigil.Entry, error) bool) {
			for _, h := range known {
				if !yield(&vigil.Entry{SignalType: vigil.SignalSHA256, Value: h, Source: "centre"}, nil) {
					return
				}
			}
		}
		if _, err := f.entries.ImportEntries(ctx, f.bank.ID, "cli", iter.Seq2[*vigil.Entry, error](seq)); err != nil {
			tb.Fatal(err)
		}
	}
	f.m = matcher.New(f.banks, f.entries, slog.New(slog.DiscardHandler))
	if err := f.m.Load(ctx); err != nil {
		tb.Fatal(err)
	}
	f.prov = &vigil.CentreProvider{Name: "example-chat", CreatedBy: "cli"}
	if _, err := f.reports.CreateProvider(ctx, f.prov); err != nil {
		tb.Fatal(err)
	}
	f.triage = &centre.Triage{Banks: f.m, Reports: f.reports}
	return f
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestTriage(t *testing.T) {
	ctx := context.Background()
	known, unknown := hashOf("known picture"), hashOf("new picture")
	f := newCentreFixture(t, known)
	receive := func(id string, p *intake.Parsed) *vigil.CentreReport {
		t.Helper()
		r, _, err := f.triage.Receive(ctx, f.prov, id, p, []byte(id))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	confirmed := receive("1", &intake.Parsed{Format: "eu", ReportedUser: "u1",
		Files: []vigil.CentreFile{{SHA256: known, ClaimedMatches: 1}}})
	if len(confirmed.Flags) != 0 || len(confirmed.Files[0].CentreMatches) != 1 || confirmed.Priority != centre.PriorityBase {
		t.Fatalf("confirmed known file: flags %v, matches %v, priority %d (%v)", confirmed.Flags, confirmed.Files[0].CentreMatches, confirmed.Priority, confirmed.PriorityWhy)
	}
	unconfirmed := receive("2", &intake.Parsed{Format: "eu", ReportedUser: "u2",
		Files: []vigil.CentreFile{{SHA256: unknown, ClaimedMatches: 1}}})
	if !slices.Equal(unconfirmed.Flags, []string{vigil.FlagUnconfirmedMatch}) {
		t.Fatalf("unconfirmed claim: flags %v", unconfirmed.Flags)
	}
	empty := receive("3", &intake.Parsed{Format: "eu"})
	if !slices.Equal(empty.Flags, []string{vigil.FlagNoContent}) {
		t.Fatalf("no content: flags %v", empty.Flags)
	}
	nohash := receive("4", &intake.Parsed{Format: "eu", Files: []vigil.CentreFile{{}}})
	if !slices.Equal(nohash.Flags, []string{vigil.FlagMissingHash}) {
		t.Fatalf("no hash: flags %v", nohash.Flags)
	}
	// New material (no claim, no centre match) from a user reported
	// before, in a conversation: top of the queue, linked to both earlier
	// reports (the same user, the same file).
	newer := receive("5", &intake.Parsed{Format: "eu", ReportedUser: "u1", Conversations: 1,
		Files: []vigil.CentreFile{{SHA256: unknown}}})
	want := centre.PriorityBase + centre.PriorityNewMaterial + centre.PriorityOngoingUser + centre.PriorityConversation
	if len(newer.Flags) != 0 || newer.Priority != want || !slices.Equal(newer.Duplicates, []int64{confirmed.ID, unconfirmed.ID}) {
		t.Fatalf("new material: flags %v priority %d (%v) duplicates %v", newer.Flags, newer.Priority, newer.PriorityWhy, newer.Duplicates)
	}
	if unconfirmed.Priority >= confirmed.Priority {
		t.Fatalf("flagged report priority %d not below the confirmed one's %d", unconfirmed.Priority, confirmed.Priority)
	}
	next, err := f.reports.NextCentreReport(ctx)
	if err != nil || next.ID != newer.ID {
		t.Fatalf("next %v %v, want report %d", next, err, newer.ID)
	}
	// Nothing flagged is dropped: every report is stored and queued.
	all, err := f.reports.ListCentreReports(ctx, vigil.CentreFilter{Status: vigil.CentreReceived})
	if err != nil || len(all) != 5 {
		t.Fatalf("%d received reports, want 5 (%v)", len(all), err)
	}
}

// BenchmarkTriage measures triage of one report of 3 files against a
// 1M-entry centre bank (VIGIL_BENCH_SMALL shrinks it for a quick run),
// beside the plain lookup of the same hashes in the same run: the
// difference is triage's own work (duplicate query, flags, priority).
func BenchmarkTriage(b *testing.B) {
	ctx := context.Background()
	n := 1_000_000
	if testing.Short() {
		n = 10_000
	}
	known := make([]string, n)
	for i := range known {
		known[i] = hashOf(fmt.Sprint("entry ", i))
	}
	f := newCentreFixture(b, known...)
	p := &intake.Parsed{Format: "eu", ReportedUser: "u1", Files: []vigil.CentreFile{
		{SHA256: known[n/2], MD5: strings.Repeat("0f", 16), ClaimedMatches: 1},
		{SHA256: hashOf("new 1"), ClaimedMatches: 1},
		{SHA256: hashOf("new 2")},
	}}
	var sigs []vigil.Signal
	for _, file := range p.Files {
		sigs = append(sigs, file.Signals()...)
	}
	// Earlier reports for the duplicate query to search: 1,000 of other
	// users and files, 1 in 50 sharing the known file.
	for i := range 1000 {
		q := *p
		q.ReportedUser = fmt.Sprint("user ", i%50)
		q.Files = []vigil.CentreFile{{SHA256: hashOf(fmt.Sprint("seed ", i))}}
		if i%50 == 0 {
			q.Files = append(q.Files, p.Files[0])
		}
		if _, _, err := f.triage.Receive(ctx, f.prov, fmt.Sprint("seed-", i), &q, []byte("x")); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("lookup", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.m.Lookup(ctx, sigs, vigil.MatchOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("triage", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.triage.Triage(ctx, f.prov, "bench", p, []byte("x")); err != nil {
				b.Fatal(err)
			}
		}
	})
}
