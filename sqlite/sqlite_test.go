package sqlite_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/banklist"
	"github.com/vigil-oss/vigil/sqlite"
	"github.com/vigil-oss/vigil/storetest"
)

// MustOpenDB opens a database in a temporary directory, closed when tb ends.
func MustOpenDB(tb testing.TB) *sqlite.DB {
	tb.Helper()
	return mustOpen(tb, sqlite.Open)
}

func mustOpen(tb testing.TB, open func(context.Context, string, *slog.Logger) (*sqlite.DB, error)) *sqlite.DB {
	tb.Helper()
	db, err := open(context.Background(), tb.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	return db
}

func TestStore(t *testing.T) { testStore(t, sqlite.Open) }

// TestStoreWithBarrier runs the contract tests with the sync barrier on
// (synchronous=NORMAL, every write waiting for a sync of the log).
func TestStoreWithBarrier(t *testing.T) { testStore(t, sqlite.OpenWithBarrier) }

func testStore(t *testing.T, open func(context.Context, string, *slog.Logger) (*sqlite.DB, error)) {
	storetest.TestAll(t, func(tb testing.TB) storetest.Services {
		db := mustOpen(tb, open)
		cases, feeds := sqlite.NewCaseService(db), sqlite.NewFeedService(db)
		return storetest.Services{
			Banks:   sqlite.NewBankService(db),
			Entries: sqlite.NewEntryService(db),
			Items:   sqlite.NewContentItemService(db),
			Keys:    sqlite.NewKeyService(db),

			Conversations: sqlite.NewConversationService(db),
			Audit:         sqlite.NewAuditService(db),
			Signals:       sqlite.NewSignalStore(db),
			Rules:         sqlite.NewRuleService(db),
			Feeds:         feeds,
			SetNow:        func(now func() time.Time) { db.Now = now },

			Cases:               cases,
			SetQuarantinePolicy: func(p vigil.QuarantinePolicy) { cases.Policy, feeds.Policy = p, p },
			Incidents:           sqlite.NewIncidentService(db),
			Submissions:         sqlite.NewSubmissionService(db),
			Preservation:        sqlite.NewPreservationService(db),
			Lookups:             sqlite.NewLookupCounter(db),
			Exchanges:           sqlite.NewExchangeService(db),
			Complaints:          sqlite.NewComplaintService(db, cases),
			Notices:             sqlite.NewNoticeService(db),
			Transparency:        sqlite.NewTransparencyService(db),
			Sessions:            sqlite.NewSessionService(db),
			Centre:              sqlite.NewCentreService(db),
			PHM:                 sqlite.NewPHMService(db),
		}
	})
}

func TestOpenTwice(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlite.NewBankService(db).CreateBank(ctx, &vigil.Bank{Name: "kept"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening finds the schema in place and the data kept.
	db, err = sqlite.Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := sqlite.NewBankService(db).FindBankByName(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestImportList imports list files through banklist, as the API and the
// CLI do: a bad line fails the whole import and names the line.
func TestImportList(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	banks, entries := sqlite.NewBankService(db), sqlite.NewEntryService(db)
	b := &vigil.Bank{Name: "iwf", Enabled: true}
	if err := banks.CreateBank(ctx, b); err != nil {
		t.Fatal(err)
	}
	opt := banklist.Options{SignalType: vigil.SignalPDQ, Source: "iwf"}

	var list strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&list, "%064x\n", i)
	}
	good := list.String()
	res, err := entries.ImportEntries(ctx, b.ID, "curator", banklist.NewReader(strings.NewReader(good), opt).All())
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 1000 {
		t.Fatalf("added %d, want 1000", res.Added)
	}

	bad := "# more\n" + fmt.Sprintf("%064x\n", 5000) + "not a hash\n"
	_, err = entries.ImportEntries(ctx, b.ID, "curator", banklist.NewReader(strings.NewReader(bad), opt).All())
	if vigil.ErrorCode(err) != vigil.EINVALID || !strings.HasPrefix(vigil.ErrorMessage(err), "line 3:") {
		t.Fatalf("bad list: %v", err)
	}
	after, err := banks.FindBankByID(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.ActiveEntries != 1000 || after.Version != res.Version {
		t.Errorf("bad list changed the bank: %d entries, version %d", after.ActiveEntries, after.Version)
	}

	// Export and import into another bank gives the same entries.
	var out strings.Builder
	w := banklist.NewWriter(&out)
	for f := (vigil.EntryFilter{BankID: &b.ID, Limit: 300}); ; {
		page, err := entries.FindEntries(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if err := w.Write(e); err != nil {
				t.Fatal(err)
			}
		}
		f.AfterID = page[len(page)-1].ID
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	copyBank := &vigil.Bank{Name: "copy"}
	if err := banks.CreateBank(ctx, copyBank); err != nil {
		t.Fatal(err)
	}
	res, err = entries.ImportEntries(ctx, copyBank.ID, "curator", banklist.NewReader(strings.NewReader(out.String()), banklist.Options{}).All())
	if err != nil || res.Added != 1000 {
		t.Fatalf("re-import of the export: %+v, %v", res, err)
	}
	page, err := entries.FindEntries(ctx, vigil.EntryFilter{BankID: &copyBank.ID, Value: ptr(fmt.Sprintf("%064x", 999))})
	if err != nil || len(page) != 1 || page[0].Source != "iwf" {
		t.Errorf("copied entry: %+v, %v", page, err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestAuthDuringImport checks that authentication does not wait for a bulk
// import, which holds SQLite's one writer, to finish: the import below
// waits for the authentication, so waiting the other way round would hang.
func TestAuthDuringImport(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	keys := sqlite.NewKeyService(db)
	secret, err := keys.CreateKey(ctx, &vigil.Key{Name: "k", Role: vigil.RoleMatcher})
	if err != nil {
		t.Fatal(err)
	}
	b := &vigil.Bank{Name: "b"}
	if err := sqlite.NewBankService(db).CreateBank(ctx, b); err != nil {
		t.Fatal(err)
	}

	importing, authed := make(chan struct{}), make(chan struct{})
	imported := make(chan error, 1)
	go func() {
		_, err := sqlite.NewEntryService(db).ImportEntries(ctx, b.ID, "slow upload", func(yield func(*vigil.Entry, error) bool) {
			yield(&vigil.Entry{SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", 1)}, nil)
			close(importing)
			<-authed
		})
		imported <- err
	}()
	<-importing
	// The first use of a key is recorded when the writer is free; now it
	// is not, so the key is found and its use goes unrecorded.
	k, err := keys.FindKeyBySecret(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	close(authed)
	if err := <-imported; err != nil {
		t.Fatal(err)
	}
	if k.LastUsedAt != nil {
		t.Errorf("use recorded while the writer was busy: %v", k.LastUsedAt)
	}
}
