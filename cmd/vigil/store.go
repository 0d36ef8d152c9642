package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/postgres"
	"github.com/vigil-oss/vigil/sqlite"
)

// defaultDataDir is where the embedded store lives unless --data says.
const defaultDataDir = "./vigil-data"

// envDB names the environment variable that --db defaults to.
const envDB = "VIGIL_DB"

// storeFlags are the flags of every command that opens the store: the
// data directory and, for PostgreSQL, the database.
type storeFlags struct {
	fs   *flagSet
	data *string
	db   *string
}

// dataFlag registers the --data and --db flags shared by every command
// that opens the store.
func dataFlag(fs *flagSet) *storeFlags {
	return &storeFlags{
		fs:   fs,
		data: fs.String("data", defaultDataDir, "data directory: the embedded SQLite store, made by vigil init or vigil serve, or with --db the media and job spool"),
		db:   fs.String("db", os.Getenv(envDB), "PostgreSQL database (postgres://…) to keep the store in instead of the data directory's SQLite file; several vigil serve replicas can share one (default $"+envDB+")"),
	}
}

// dir returns the data directory.
func (f *storeFlags) dir() string { return *f.data }

// postgresURL returns the --db URL, or "" for the SQLite store.
func (f *storeFlags) postgresURL() (string, error) {
	u := *f.db
	if u == "" {
		return "", nil
	}
	if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		return "", f.fs.usageErrorf("--db must be a postgres:// URL")
	}
	return u, nil
}

// store is an open store, SQLite or PostgreSQL, as the services the
// commands use.
type store struct {
	Banks         vigil.BankService
	Entries       vigil.EntryService
	Items         vigil.ContentItemService
	Keys          vigil.KeyService
	Conversations vigil.ConversationService
	Audit         vigil.AuditService
	Signals       vigil.SignalStore
	Rules         vigil.RuleService
	Cases         vigil.CaseService

	Feeds       feedStore
	Incidents   vigil.IncidentService
	Submissions vigil.SubmissionService
	// Preservation keeps legal holds and purges expired incidents.
	Preservation vigil.PreservationService
	// Lookups counts hosted lookups per key and day.
	Lookups vigil.LookupCounter
	// Exchanges keeps the cursors of fetches from outside exchanges and
	// the opinions sent back to them.
	Exchanges vigil.ExchangeService
	// Complaints, Notices and Transparency: users' complaints, the notices
	// due to the platform and the published figures.
	Complaints   vigil.ComplaintService
	Notices      vigil.NoticeService
	Transparency vigil.TransparencyService
	// Sessions keeps the review UI's sessions and failed logins.
	Sessions vigil.SessionService
	// Centre stores a centre's providers and received reports.
	Centre vigil.CentreService
	// PHM keeps the private hash matching service's account state.
	PHM vigil.PHMService

	// setReview sets the automatic quarantine policy, of cases and of
	// subscribers' feedback on feeds alike, and what is told of each
	// automatic quarantine.
	setReview func(p vigil.QuarantinePolicy, on func(ctx context.Context, q autoQuarantine))

	// where names the store in logs, without credentials.
	where string
	// sqlitePath is the SQLite file (River's jobs go in it too); pgURL the
	// PostgreSQL database (likewise). One of them is set.
	sqlitePath, pgURL string
	// follow keeps an index current until ctx ends; nil: matcher.Run's
	// polling.
	follow func(ctx context.Context, interval time.Duration, refresh func(context.Context) error)
	close  func() error
}

// autoQuarantine is an automatic quarantine, whichever store made it.
type autoQuarantine struct {
	EntryID, CaseID int64
	Reason          string
}

// feedStore keeps the feeds this instance publishes and those it
// subscribes to: one service in both stores.
type feedStore interface {
	vigil.FeedService
	vigil.SubscriptionService
}

// Close closes the store.
func (s *store) Close() error { return s.close() }

// Path names the store, without credentials.
func (s *store) Path() string { return s.where }

// sqliteStore returns the services of a SQLite database.
func sqliteStore(db *sqlite.DB) *store {
	cases, feeds := sqlite.NewCaseService(db), sqlite.NewFeedService(db)
	return &store{
		Banks: sqlite.NewBankService(db), Entries: sqlite.NewEntryService(db), Items: sqlite.NewContentItemService(db), Keys: sqlite.NewKeyService(db),
		Conversations: sqlite.NewConversationService(db), Audit: sqlite.NewAuditService(db),
		Signals: sqlite.NewSignalStore(db), Rules: sqlite.NewRuleService(db), Cases: cases,
		Feeds: feeds, Incidents: sqlite.NewIncidentService(db), Submissions: sqlite.NewSubmissionService(db),
		Preservation: sqlite.NewPreservationService(db), Lookups: sqlite.NewLookupCounter(db), Exchanges: sqlite.NewExchangeService(db), Sessions: sqlite.NewSessionService(db),
		Complaints: sqlite.NewComplaintService(db, cases), Notices: sqlite.NewNoticeService(db), Transparency: sqlite.NewTransparencyService(db),
		Centre: sqlite.NewCentreService(db), PHM: sqlite.NewPHMService(db),
		setReview: func(p vigil.QuarantinePolicy, on func(context.Context, autoQuarantine)) {
			cases.Policy, feeds.Policy = p, p
			cases.OnQuarantine = func(ctx context.Context, q sqlite.AutoQuarantine) {
				on(ctx, autoQuarantine{EntryID: q.EntryID, CaseID: q.CaseID, Reason: q.Reason})
			}
		},
		where: db.Path(), sqlitePath: db.Path(), close: db.Close,
	}
}

// postgresStore returns the services of a PostgreSQL database.
func postgresStore(db *postgres.DB, url string) *store {
	cases, feeds := postgres.NewCaseService(db), postgres.NewFeedService(db)
	return &store{
		Banks: postgres.NewBankService(db), Entries: postgres.NewEntryService(db), Items: postgres.NewContentItemService(db), Keys: postgres.NewKeyService(db),
		Conversations: postgres.NewConversationService(db), Audit: postgres.NewAuditService(db),
		Signals: postgres.NewSignalStore(db), Rules: postgres.NewRuleService(db), Cases: cases,
		Feeds: feeds, Incidents: postgres.NewIncidentService(db), Submissions: postgres.NewSubmissionService(db),
		Preservation: postgres.NewPreservationService(db), Lookups: postgres.NewLookupCounter(db), Exchanges: postgres.NewExchangeService(db), Sessions: postgres.NewSessionService(db),
		Complaints: postgres.NewComplaintService(db, cases), Notices: postgres.NewNoticeService(db), Transparency: postgres.NewTransparencyService(db),
		Centre: postgres.NewCentreService(db), PHM: postgres.NewPHMService(db),
		setReview: func(p vigil.QuarantinePolicy, on func(context.Context, autoQuarantine)) {
			cases.Policy, feeds.Policy = p, p
			cases.OnQuarantine = func(ctx context.Context, q postgres.AutoQuarantine) {
				on(ctx, autoQuarantine{EntryID: q.EntryID, CaseID: q.CaseID, Reason: q.Reason})
			}
		},
		where: "postgres " + db.Path(), pgURL: url, follow: db.Follow, close: db.Close,
	}
}

// localMatcher loads the indexes of every bank in st.
func (m *Main) localMatcher(ctx context.Context, st *store) (*matcher.Matcher, error) {
	mt := matcher.New(st.Banks, st.Entries, m.Logger)
	if err := mt.Load(ctx); err != nil {
		return nil, fmt.Errorf("load indexes: %w", err)
	}
	return mt, nil
}

// openStore opens the existing store and says on stderr which it is. It
// never creates one: a command run from the wrong directory (or on the
// wrong database) would otherwise work on a new, empty store (print a key
// the server does not know, verify an empty audit log) and say nothing.
func (m *Main) openStore(ctx context.Context, f *storeFlags) (*store, error) {
	u, err := f.postgresURL()
	if err != nil {
		return nil, err
	}
	if u != "" {
		ok, err := postgres.Initialized(ctx, u)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("no Vigil store in the --db database: create it with \"vigil init --db URL\"")
		}
		return m.openPostgres(ctx, u)
	}
	abs, err := filepath.Abs(f.dir())
	if err != nil {
		return nil, err
	}
	if !storeExists(abs) {
		return nil, fmt.Errorf("no Vigil data directory at %s: give the right one with --data DIR, or create it with \"vigil init --data %s\"", abs, f.dir())
	}
	return m.openData(ctx, abs)
}

// createStore opens the store, creating it if needed; only init and serve
// do.
func (m *Main) createStore(ctx context.Context, f *storeFlags) (*store, error) {
	u, err := f.postgresURL()
	if err != nil {
		return nil, err
	}
	if u != "" {
		// The database holds the store; the data directory still holds
		// what is per process (the job spool, the media key), and is
		// created here as sqlite.Open creates it for SQLite.
		if err := os.MkdirAll(f.dir(), 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		return m.openPostgres(ctx, u)
	}
	abs, err := filepath.Abs(f.dir())
	if err != nil {
		return nil, err
	}
	return m.openData(ctx, abs)
}

func (m *Main) openData(ctx context.Context, abs string) (*store, error) {
	fmt.Fprintf(m.Stderr, "vigil: data directory %s\n", abs)
	db, err := sqlite.Open(ctx, abs, m.Logger)
	if err != nil {
		return nil, err
	}
	return sqliteStore(db), nil
}

func (m *Main) openPostgres(ctx context.Context, url string) (*store, error) {
	db, err := postgres.Open(ctx, url, m.Logger)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(m.Stderr, "vigil: store on PostgreSQL %s\n", db.Path())
	return postgresStore(db, url), nil
}
