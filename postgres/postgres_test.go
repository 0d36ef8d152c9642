package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/postgres"
	"github.com/vigil-oss/vigil/storetest"
)

// serverURL returns the test server's URL from VIGIL_TEST_POSTGRES, or
// skips tb without one (scripts/with-postgres sets it; CI always does).
func serverURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("VIGIL_TEST_POSTGRES")
	if u == "" {
		tb.Skip("VIGIL_TEST_POSTGRES is not set (run the tests under scripts/with-postgres)")
	}
	return u
}

// MustSchemaURL creates an empty schema on the test server, dropped when
// tb ends, and returns a URL whose connections use it: every test gets
// a fresh database without the cost of CREATE DATABASE.
func MustSchemaURL(tb testing.TB) string {
	tb.Helper()
	base := serverURL(tb)
	ctx := context.Background()
	var b [8]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Error(err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// MustOpen opens a store at url, closed when tb ends.
func MustOpen(tb testing.TB, url string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), url, slog.New(slog.DiscardHandler))
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

// MustOpenDB opens a store on a fresh schema.
func MustOpenDB(tb testing.TB) *postgres.DB {
	tb.Helper()
	return MustOpen(tb, MustSchemaURL(tb))
}

func TestStore(t *testing.T) {
	storetest.TestAll(t, func(tb testing.TB) storetest.Services {
		db := MustOpenDB(tb)
		cases := postgres.NewCaseService(db)
		return storetest.Services{
			Banks:   postgres.NewBankService(db),
			Entries: postgres.NewEntryService(db),
			Keys:    postgres.NewKeyService(db),

			Conversations: postgres.NewConversationService(db),
			Audit:         postgres.NewAuditService(db),
			Signals:       postgres.NewSignalStore(db),
			Rules:         postgres.NewRuleService(db),
			SetNow:        func(now func() time.Time) { db.Now = now },

			Cases:               cases,
			SetQuarantinePolicy: func(p vigil.QuarantinePolicy) { cases.Policy = p },
		}
	})
}
