// Package jobs runs Vigil's durable background jobs on River
// (github.com/riverqueue/river) in the store's database, the embedded
// SQLite one or PostgreSQL (River's pgx driver): content
// jobs (hash and match an upload too slow for a request, such as a video),
// webhook deliveries (signed, retried with backoff) and retries of rule
// actions that failed. Jobs are rows in the database, so they survive a
// restart of the process.
//
// River's types stay inside this package; the rest of Vigil sees
// vigil.JobService, vigil.Notifier and vigil.ActionQueue.
package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/vpdq"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Defaults for Config's zero values.
const (
	DefaultWorkers            = 2
	DefaultContentMaxAttempts = 3
	DefaultWebhookMaxAttempts = 12 // with River's attempt⁴ backoff: about 6 hours in all
	DefaultActionMaxAttempts  = 12
	DefaultContentTimeout     = 15 * time.Minute
	DefaultWebhookTimeout     = 10 * time.Second
	DefaultRetention          = 7 * 24 * time.Hour
)

// busyTimeout bounds how long River's connection waits for the store's
// writer (or another process) to release the database.
const busyTimeout = 10 * time.Second

// Config configures a Client.
type Config struct {
	// DBPath is the SQLite database file, normally the store's own
	// (sqlite.DB.Path): jobs live beside the data they concern.
	DBPath string
	// DatabaseURL, if set, is the PostgreSQL database (postgres://…) to
	// keep jobs in instead of DBPath, normally the store's own: replicas
	// then share one queue, and River wakes workers with LISTEN/NOTIFY.
	DatabaseURL string
	// SpoolDir holds uploads waiting for their content job.
	SpoolDir string

	Matcher     vigil.MatchService
	Signals     vigil.SignalStore // nil or KeepSignals 0: signals are not kept
	KeepSignals time.Duration
	Hashing     hashing.Options
	NoVideo     bool // do not try content that is not an image as video

	// Webhooks are the configured receivers by name.
	Webhooks map[string]Webhook
	// HTTPClient delivers webhooks; nil: a client with WebhookTimeout.
	HTTPClient *http.Client

	Workers            int           // jobs run at once; 0: DefaultWorkers
	ContentMaxAttempts int           // 0: DefaultContentMaxAttempts
	WebhookMaxAttempts int           // 0: DefaultWebhookMaxAttempts
	ActionMaxAttempts  int           // a queued rule action; 0: DefaultActionMaxAttempts
	ForwardMaxAttempts int           // a centre's forward; 0: DefaultForwardMaxAttempts
	ContentTimeout     time.Duration // one attempt of a content job; 0: DefaultContentTimeout
	WebhookTimeout     time.Duration // one delivery attempt; 0: DefaultWebhookTimeout
	// RescueAfter is how long a job left running by a process that died
	// waits before it is run again; 0: ContentTimeout plus a minute. It
	// must exceed ContentTimeout, the longest an attempt may take.
	RescueAfter time.Duration
	// Retention is how long finished jobs (and their results) are kept;
	// 0: DefaultRetention.
	Retention time.Duration
	// PollInterval is how often idle workers look for new jobs; SQLite
	// has no LISTEN/NOTIFY. 0: River's default (one second).
	PollInterval time.Duration
	// RetryDelay is the wait before attempt n+1 after n failed ones; nil:
	// River's default, about n⁴ seconds.
	RetryDelay func(n int) time.Duration

	// Now is the clock of event times, signatures and the spool sweep;
	// nil: time.Now. (River keeps its own clock for scheduling.)
	Now func() time.Time

	Logger *slog.Logger
}

// Client runs jobs. It implements vigil.JobService and vigil.Notifier.
type Client struct {
	cfg    Config
	close  func() error // closes River's connections
	river  riverClient
	logger *slog.Logger

	onContent    ContentHook
	keepFrames   func(ctx context.Context) (vpdq.KeepOptions, bool)
	onAction     ActionHook
	onSubmission SubmissionHook
	onForward    ForwardHook
}

// riverClient is what Client uses of a River client, whichever its
// driver's transaction type: *sql.Tx for SQLite, pgx.Tx for PostgreSQL.
type riverClient interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
}

var (
	_ riverClient = (*river.Client[*sql.Tx])(nil)
	_ riverClient = (*river.Client[pgx.Tx])(nil)

	_ vigil.JobService = (*Client)(nil)
	_ vigil.Notifier   = (*Client)(nil)
)

// Open opens River's connection to the database, brings River's tables up
// to date and returns a Client; call Start to begin working jobs. Jobs can
// be queued (and found) before Start and after Stop.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Workers = cmp.Or(cfg.Workers, DefaultWorkers)
	cfg.ContentMaxAttempts = cmp.Or(cfg.ContentMaxAttempts, DefaultContentMaxAttempts)
	cfg.WebhookMaxAttempts = cmp.Or(cfg.WebhookMaxAttempts, DefaultWebhookMaxAttempts)
	cfg.ActionMaxAttempts = cmp.Or(cfg.ActionMaxAttempts, DefaultActionMaxAttempts)
	cfg.ForwardMaxAttempts = cmp.Or(cfg.ForwardMaxAttempts, DefaultForwardMaxAttempts)
	cfg.ContentTimeout = cmp.Or(cfg.ContentTimeout, DefaultContentTimeout)
	cfg.WebhookTimeout = cmp.Or(cfg.WebhookTimeout, DefaultWebhookTimeout)
	cfg.Retention = cmp.Or(cfg.Retention, DefaultRetention)
	cfg.RescueAfter = cmp.Or(cfg.RescueAfter, cfg.ContentTimeout+time.Minute)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{
			Timeout: cfg.WebhookTimeout,
			// A receiver's redirect is not followed: the signature was
			// made for the configured URL.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	for name, wh := range cfg.Webhooks {
		if err := wh.validate(name); err != nil {
			return nil, err
		}
	}
	if cfg.SpoolDir != "" {
		if err := os.MkdirAll(cfg.SpoolDir, 0o700); err != nil {
			return nil, fmt.Errorf("open jobs: %w", err)
		}
	}

	c := &Client{cfg: cfg, logger: cfg.Logger}
	var err error
	if cfg.DatabaseURL != "" {
		err = c.openPostgres(ctx)
	} else {
		err = c.openSQLite(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("open jobs: %w", err)
	}
	return c, nil
}

func (c *Client) openSQLite(ctx context.Context) error {
	db, err := sql.Open("sqlite", dsn(c.cfg.DBPath))
	if err != nil {
		return err
	}
	// One connection: SQLite has one writer, and River's statements are
	// short; its transactions begin IMMEDIATE (see dsn) so that they wait
	// for the store's writer instead of failing to upgrade a read.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	c.close = db.Close
	if c.river, err = open(ctx, c, riversqlite.New(db)); err != nil {
		db.Close()
		return err
	}
	return nil
}

func (c *Client) openPostgres(ctx context.Context) error {
	pool, err := pgxpool.New(ctx, c.cfg.DatabaseURL)
	if err != nil {
		// The URL may hold a password: do not repeat it.
		return errors.New("bad PostgreSQL connection URL")
	}
	c.close = func() error { pool.Close(); return nil }
	if c.river, err = open(ctx, c, riverpgxv5.New(pool)); err != nil {
		pool.Close()
		return err
	}
	return nil
}

// open migrates River's tables on driver and returns a client on it.
func open[TTx any](ctx context.Context, c *Client, driver riverdriver.Driver[TTx]) (*river.Client[TTx], error) {
	migrator, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: c.logger})
	if err != nil {
		return nil, err
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	for _, v := range res.Versions {
		c.logger.Info("applied river migration", "version", v.Version, "name", v.Name)
	}

	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &contentWorker{c: c}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &webhookWorker{c: c}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &actionWorker{c: c}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &submissionWorker{c: c}); err != nil {
		return nil, err
	}
	if err := river.AddWorkerSafely(workers, &forwardWorker{c: c}); err != nil {
		return nil, err
	}
	return river.NewClient(driver, &river.Config{
		Logger:                      c.logger,
		Workers:                     workers,
		Queues:                      map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: c.cfg.Workers}},
		FetchPollInterval:           c.cfg.PollInterval,
		FetchCooldown:               min(c.cfg.PollInterval, 100*time.Millisecond),
		CompletedJobRetentionPeriod: c.cfg.Retention,
		CancelledJobRetentionPeriod: c.cfg.Retention,
		DiscardedJobRetentionPeriod: c.cfg.Retention,
		// A job left running by a process that died is retried after
		// this long: longer than any attempt may take. No attempt takes
		// longer than a content job's (workers may set less).
		JobTimeout:           c.cfg.ContentTimeout,
		RescueStuckJobsAfter: c.cfg.RescueAfter,
		RetryPolicy:          retryPolicy(c.cfg.RetryDelay),
	})
}

// retryPolicy is River's default policy, or one that waits delay(n).
func retryPolicy(delay func(n int) time.Duration) river.ClientRetryPolicy {
	if delay == nil {
		return nil
	}
	return delayPolicy(delay)
}

type delayPolicy func(n int) time.Duration

func (p delayPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(p(job.Attempt))
}

// dsn is River's connection to the database file: the same pragmas as the
// store's writer.
func dsn(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Start begins working jobs, including those left queued by an earlier
// process.
func (c *Client) Start(ctx context.Context) error {
	if c.cfg.SpoolDir != "" {
		if err := c.sweepSpool(ctx); err != nil {
			return fmt.Errorf("start jobs: sweep spool: %w", err)
		}
	}
	if err := c.river.Start(ctx); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits up to ctx for running ones to finish.
// Jobs still running when ctx ends are cancelled and retried on the next
// start.
func (c *Client) Stop(ctx context.Context) error {
	err := c.river.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = c.river.StopAndCancel(context.Background())
	}
	if err != nil {
		return fmt.Errorf("stop jobs: %w", err)
	}
	return nil
}

// Close closes River's connection; Stop first if started.
func (c *Client) Close() error {
	if err := c.close(); err != nil {
		return fmt.Errorf("close jobs: %w", err)
	}
	return nil
}

// FindJob implements vigil.JobService.
func (c *Client) FindJob(ctx context.Context, id int64) (*vigil.Job, error) {
	row, err := c.river.JobGet(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "job %d not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("find job %d: %w", id, err)
	}
	return jobFromRow(row), nil
}

// jobFromRow maps a River row to the domain's job.
func jobFromRow(row *rivertype.JobRow) *vigil.Job {
	j := &vigil.Job{
		ID:          row.ID,
		Kind:        row.Kind,
		Attempts:    row.Attempt,
		MaxAttempts: row.MaxAttempts,
		Result:      row.Output(),
		CreatedAt:   row.CreatedAt.UTC(),
		FinishedAt:  row.FinalizedAt,
	}
	if j.FinishedAt != nil {
		t := j.FinishedAt.UTC()
		j.FinishedAt = &t
	}
	for _, e := range row.Errors {
		// River stores a cancelled job's error with its wrapper's prefix.
		j.Errors = append(j.Errors, strings.TrimPrefix(e.Error, "JobCancelError: "))
	}
	switch row.State {
	case rivertype.JobStateRunning:
		j.State = vigil.JobRunning
	case rivertype.JobStateRetryable:
		j.State = vigil.JobRetrying
	case rivertype.JobStateCompleted:
		j.State = vigil.JobCompleted
	case rivertype.JobStateDiscarded:
		j.State = vigil.JobFailed
	case rivertype.JobStateCancelled:
		j.State = vigil.JobCancelled
	default: // available, scheduled, pending
		j.State = vigil.JobQueued
		if row.Attempt > 0 {
			j.State = vigil.JobRetrying
		}
	}
	switch row.Kind {
	case kindContent:
		var a contentArgs
		if json.Unmarshal(row.EncodedArgs, &a) == nil {
			j.Kind, j.ContentSHA256, j.Webhook, j.SubmittedBy = vigil.JobKindContent, a.SHA256, a.Webhook, a.KeyID
		}
	case kindWebhook:
		var a webhookArgs
		if json.Unmarshal(row.EncodedArgs, &a) == nil {
			j.Kind, j.Webhook = vigil.JobKindWebhook, a.Webhook
		}
	case kindAction:
		j.Kind = vigil.JobKindAction
	case kindSubmission:
		j.Kind = vigil.JobKindSubmission
	case kindCentreForward:
		j.Kind = vigil.JobKindCentreForward
	}
	return j
}
