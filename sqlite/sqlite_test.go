package sqlite_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlite"
	"github.com/vigil-oss/vigil/storetest"
)

// MustOpenDB opens a database in a temporary directory, closed when tb ends.
func MustOpenDB(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), tb.TempDir(), slog.New(slog.DiscardHandler))
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

func TestStore(t *testing.T) {
	storetest.TestAll(t, func(tb testing.TB) storetest.Services {
		db := MustOpenDB(tb)
		return storetest.Services{
			Banks:   sqlite.NewBankService(db),
			Entries: sqlite.NewEntryService(db),
			Keys:    sqlite.NewKeyService(db),
			SetNow:  func(now func() time.Time) { db.Now = now },
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
