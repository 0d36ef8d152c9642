package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/internal/pgtest"
	"github.com/vigil-oss/vigil/jobs"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/postgres"
	"github.com/vigil-oss/vigil/sqlite"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// env is a store, a matcher over it and the paths a jobs.Client needs.
type env struct {
	db      *sqlite.DB // nil when the store is PostgreSQL
	pgURL   string     // the PostgreSQL store's URL, which holds the jobs too
	banks   vigil.BankService
	entries vigil.EntryService

	matcher  *matcher.Matcher
	signals  vigil.SignalStore
	spoolDir string
}

// mustOpenEnv opens an env in a new temporary directory.
func mustOpenEnv(tb testing.TB) *env {
	tb.Helper()
	return openEnvIn(tb, tb.TempDir())
}

// openEnvIn opens an env on the data directory dir (which may hold one
// already), with the spool under it.
func openEnvIn(tb testing.TB, dir string) *env {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, dir, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	m := matcher.New(sqlite.NewBankService(db), sqlite.NewEntryService(db), slog.New(slog.DiscardHandler))
	if err := m.Load(ctx); err != nil {
		tb.Fatal(err)
	}
	return &env{db: db, banks: sqlite.NewBankService(db), entries: sqlite.NewEntryService(db),
		matcher: m, signals: sqlite.NewSignalStore(db), spoolDir: filepath.Join(dir, "spool")}
}

// mustOpenPostgresEnv opens an env on a fresh PostgreSQL database, which
// holds both the store and the jobs (River's pgx driver), or skips tb
// without a test server.
func mustOpenPostgresEnv(tb testing.TB) *env {
	tb.Helper()
	ctx := context.Background()
	url := pgtest.SchemaURL(tb)
	db, err := postgres.Open(ctx, url, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	m := matcher.New(postgres.NewBankService(db), postgres.NewEntryService(db), slog.New(slog.DiscardHandler))
	if err := m.Load(ctx); err != nil {
		tb.Fatal(err)
	}
	return &env{pgURL: url, banks: postgres.NewBankService(db), entries: postgres.NewEntryService(db),
		matcher: m, signals: postgres.NewSignalStore(db), spoolDir: filepath.Join(tb.TempDir(), "spool")}
}

func (e *env) config(webhooks map[string]jobs.Webhook) jobs.Config {
	var dbPath string
	if e.db != nil {
		dbPath = e.db.Path()
	}
	return jobs.Config{
		DBPath:       dbPath,
		DatabaseURL:  e.pgURL,
		SpoolDir:     e.spoolDir,
		Matcher:      e.matcher,
		Signals:      e.signals,
		KeepSignals:  time.Hour,
		Hashing:      hashing.Options{Limits: hashing.Limits{MaxBytes: 1 << 20}},
		NoVideo:      true,
		Webhooks:     webhooks,
		PollInterval: 50 * time.Millisecond,
		RetryDelay:   func(int) time.Duration { return 100 * time.Millisecond },
	}
}

// mustOpenClient opens a client on cfg, started unless start is false,
// and stops and closes it at the end of the test.
func mustOpenClient(tb testing.TB, cfg jobs.Config, start bool) *jobs.Client {
	tb.Helper()
	c, err := jobs.Open(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if start {
		if err := c.Start(context.Background()); err != nil {
			tb.Fatal(err)
		}
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c.Stop(ctx)
		c.Close()
	})
	return c
}

// waitJob polls until job id has finished and returns it. The deadline
// only keeps a broken test from hanging.
func waitJob(tb testing.TB, js vigil.JobService, id int64) *vigil.Job {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err := js.FindJob(context.Background(), id)
		if err != nil {
			tb.Fatal(err)
		}
		if j.State.Finished() {
			return j
		}
		if time.Now().After(deadline) {
			tb.Fatalf("job %d did not finish: %+v", id, j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// receiver is a webhook endpoint that verifies every delivery and
// answers with the next status of a script (200 once it runs out).
type receiver struct {
	*httptest.Server
	mu         sync.Mutex
	statuses   []int
	deliveries []delivery
	arrived    chan struct{}
}

type delivery struct {
	id, typ  string
	verified error
	event    vigil.Event
	header   http.Header
	body     []byte
}

func newReceiver(tb testing.TB, statuses ...int) *receiver {
	rc := &receiver{statuses: statuses, arrived: make(chan struct{}, 100)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		d := delivery{id: r.Header.Get(jobs.HeaderEventID), typ: r.Header.Get(jobs.HeaderEventType), header: r.Header.Clone(), body: body}
		d.verified = jobs.Verify(testSecret, r.Header, body, time.Now(), 5*time.Minute)
		if err := json.Unmarshal(body, &d.event); err != nil {
			d.verified = err
		}
		rc.mu.Lock()
		status := http.StatusOK
		if len(rc.statuses) > 0 {
			status, rc.statuses = rc.statuses[0], rc.statuses[1:]
		}
		if d.verified != nil {
			status = http.StatusUnauthorized
		}
		rc.deliveries = append(rc.deliveries, d)
		rc.mu.Unlock()
		w.WriteHeader(status)
		rc.arrived <- struct{}{}
	}))
	tb.Cleanup(rc.Close)
	return rc
}

// wait waits for n more deliveries; the deadline only keeps a broken test
// from hanging.
func (rc *receiver) wait(tb testing.TB, n int) {
	tb.Helper()
	for range n {
		select {
		case <-rc.arrived:
		case <-time.After(60 * time.Second):
			tb.Fatalf("deliveries so far: %+v", rc.got())
		}
	}
}

func (rc *receiver) got() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.deliveries...)
}

// gradientPNG is a benign generated test image.
func gradientPNG(tb testing.TB, seed int) []byte {
	tb.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 96, 80))
	for y := range 80 {
		for x := range 96 {
			// Blocks and circles give PDQ enough texture for a quality
			// hash; the seed moves them.
			v := uint8(40)
			if (x/(7+seed%5)+y/9+seed)%2 == 0 {
				v = 200
			}
			if dx, dy := x-30-seed%40, y-40; dx*dx+dy*dy < 400 {
				v = 255 - v
			}
			img.Set(x, y, color.RGBA{v, uint8(x * 2), v / 2, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

func spoolFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func mustStat(tb testing.TB, path string) os.FileInfo {
	tb.Helper()
	st, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}
