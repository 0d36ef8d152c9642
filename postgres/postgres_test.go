package postgres_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/pgtest"
	"github.com/vigil-oss/vigil/postgres"
	"github.com/vigil-oss/vigil/storetest"
)

// MustSchemaURL returns the URL of a fresh, empty database (a schema) on
// the test server, or skips tb without one.
func MustSchemaURL(tb testing.TB) string { return pgtest.SchemaURL(tb) }

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
		cases, feeds := postgres.NewCaseService(db), postgres.NewFeedService(db)
		return storetest.Services{
			Banks:   postgres.NewBankService(db),
			Entries: postgres.NewEntryService(db),
			Items:   postgres.NewContentItemService(db),
			Keys:    postgres.NewKeyService(db),

			Conversations: postgres.NewConversationService(db),
			Audit:         postgres.NewAuditService(db),
			Signals:       postgres.NewSignalStore(db),
			Rules:         postgres.NewRuleService(db),
			Feeds:         feeds,
			SetNow:        func(now func() time.Time) { db.Now = now },

			Cases:               cases,
			SetQuarantinePolicy: func(p vigil.QuarantinePolicy) { cases.Policy, feeds.Policy = p, p },
			Incidents:           postgres.NewIncidentService(db),
			Submissions:         postgres.NewSubmissionService(db),
			Preservation:        postgres.NewPreservationService(db),
			Lookups:             postgres.NewLookupCounter(db),
			Exchanges:           postgres.NewExchangeService(db),
			Complaints:          postgres.NewComplaintService(db, cases),
			Notices:             postgres.NewNoticeService(db),
			Transparency:        postgres.NewTransparencyService(db),
			Sessions:            postgres.NewSessionService(db),
			Centre:              postgres.NewCentreService(db),
			PHM:                 postgres.NewPHMService(db),
		}
	})
}
