package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/jobs"
)

// listImage puts the PDQ hash of img in a new bank and refreshes the
// matcher.
func (e *env) listImage(tb testing.TB, img []byte) {
	tb.Helper()
	ctx := context.Background()
	res, err := hashing.NewHasher(hashing.Options{}).HashReader(bytes.NewReader(img))
	if err != nil {
		tb.Fatal(err)
	}
	b := &vigil.Bank{Name: "known", Enabled: true}
	if err := e.banks.CreateBank(ctx, b); err != nil {
		tb.Fatal(err)
	}
	entry := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: res.PDQ.String(), SourceEntryID: "K-1"}
	if _, err := e.entries.AddEntries(ctx, b.ID, "test", []*vigil.Entry{entry}); err != nil {
		tb.Fatal(err)
	}
	if err := e.matcher.Refresh(ctx); err != nil {
		tb.Fatal(err)
	}
}

func TestContentJob(t *testing.T) { testContentJob(t, mustOpenEnv(t)) }

// TestContentJobPostgres runs TestContentJob with the store and the jobs
// on PostgreSQL.
func TestContentJobPostgres(t *testing.T) { testContentJob(t, mustOpenPostgresEnv(t)) }

func testContentJob(t *testing.T, e *env) {
	rc := newReceiver(t, http500)
	known, unknown := gradientPNG(t, 0), gradientPNG(t, 77)
	e.listImage(t, known)
	c := mustOpenClient(t, e.config(map[string]jobs.Webhook{"platform": {URL: rc.URL, Secret: testSecret}}), true)
	ctx := context.Background()

	want := map[string]bool{} // event id: matched
	for _, tc := range []struct {
		name    string
		content []byte
		matched bool
	}{
		{"listed image", known, true},
		{"unlisted image", unknown, false},
		{"not an image", []byte("plain bytes, hashed exactly"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := c.SubmitContent(ctx, bytes.NewReader(tc.content), vigil.ContentJobOptions{Webhook: "platform"})
			if err != nil {
				t.Fatal(err)
			}
			if j.State != vigil.JobQueued || j.Kind != vigil.JobKindContent || len(j.ContentSHA256) != 64 || j.Webhook != "platform" {
				t.Fatalf("submitted %+v", j)
			}
			want[fmt.Sprintf("job_%d_completed", j.ID)] = tc.matched
			j = waitJob(t, c, j.ID)
			if j.State != vigil.JobCompleted {
				t.Fatalf("job %+v", j)
			}
			var res jobs.ContentResult
			if err := json.Unmarshal(j.Result, &res); err != nil {
				t.Fatalf("result %s: %v", j.Result, err)
			}
			if res.Matched != tc.matched || res.Content.Bytes != int64(len(tc.content)) {
				t.Fatalf("result %s", j.Result)
			}
			if tc.matched && res.Results[0].Matches[0].SourceEntryID != "K-1" {
				t.Fatalf("match without provenance: %s", j.Result)
			}
			// Kept for retroactive matching, under the content's SHA-256.
			seen, err := e.signals.FindSeenSignals(ctx, vigil.SignalSHA256, []string{j.ContentSHA256})
			if err != nil || len(seen) != 1 {
				t.Fatalf("kept signals: %v %v", seen, err)
			}
		})
	}
	if names := spoolFiles(t, e.spoolDir); len(names) != 0 {
		t.Fatalf("spool not emptied: %v", names)
	}

	// One event per job (the first delivery refused, and retried), each
	// carrying the job's outcome. Deliveries may still be in flight when
	// the jobs are done: wait for all four.
	rc.wait(t, 4)
	matched := map[string]bool{}
	for _, d := range rc.got() {
		if d.verified != nil || d.typ != vigil.EventJobCompleted || d.event.ID != d.id {
			t.Fatalf("delivery %+v", d)
		}
		var data struct {
			JobID  int64              `json:"job_id"`
			State  vigil.JobState     `json:"state"`
			Result jobs.ContentResult `json:"result"`
		}
		if err := json.Unmarshal(d.event.Data, &data); err != nil || data.State != vigil.JobCompleted || data.JobID == 0 {
			t.Fatalf("event data %s: %v", d.event.Data, err)
		}
		matched[d.id] = data.Result.Matched
	}
	if !maps.Equal(matched, want) {
		t.Fatalf("events by id (matched): %v, want %v", matched, want)
	}
}

const http500 = 500

func TestSubmitContentLimits(t *testing.T) {
	e := mustOpenEnv(t)
	cfg := e.config(nil)
	cfg.Hashing.Limits.MaxBytes = 1000
	c := mustOpenClient(t, cfg, false)
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		content []byte
		opts    vigil.ContentJobOptions
		code    string
	}{
		{"too large", make([]byte, 1001), vigil.ContentJobOptions{}, vigil.ETOOLARGE},
		{"empty", nil, vigil.ContentJobOptions{}, vigil.EINVALID},
		{"unknown webhook", []byte("x"), vigil.ContentJobOptions{Webhook: "nowhere"}, vigil.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.SubmitContent(ctx, bytes.NewReader(tc.content), tc.opts); vigil.ErrorCode(err) != tc.code {
				t.Fatalf("SubmitContent = %v, want %s", err, tc.code)
			}
		})
	}
	if names := spoolFiles(t, e.spoolDir); len(names) != 0 {
		t.Fatalf("rejected uploads left in the spool: %v", names)
	}
	// Exactly at the limit is accepted, spooled with mode 0600.
	j, err := c.SubmitContent(ctx, bytes.NewReader(make([]byte, 1000)), vigil.ContentJobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := spoolFiles(t, e.spoolDir)
	if len(names) != 1 {
		t.Fatalf("spool %v", names)
	}
	if st := mustStat(t, e.spoolDir+"/"+names[0]); st.Mode().Perm() != 0o600 || st.Size() != 1000 {
		t.Fatalf("spooled file mode %v size %d", st.Mode(), st.Size())
	}
	if _, err := c.FindJob(ctx, j.ID+100); vigil.ErrorCode(err) != vigil.ENOTFOUND {
		t.Fatalf("FindJob(missing) = %v", err)
	}
}

// TestJobsSurviveRestart queues a job with no worker running, closes
// everything (as a stopped `vigil serve` would), then opens a new client
// on the same database, which finds the job and completes it.
func TestJobsSurviveRestart(t *testing.T) {
	e := mustOpenEnv(t)
	cfg := e.config(nil)
	ctx := context.Background()
	first, err := jobs.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	j, err := first.SubmitContent(ctx, bytes.NewReader(gradientPNG(t, 3)), vigil.ContentJobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second := mustOpenClient(t, cfg, true)
	if got := waitJob(t, second, j.ID); got.State != vigil.JobCompleted || got.Attempts != 1 || len(got.Result) == 0 {
		t.Fatalf("after restart: %+v", got)
	}
	if names := spoolFiles(t, e.spoolDir); len(names) != 0 {
		t.Fatalf("spool not emptied: %v", names)
	}
}

// TestSweepSpool checks that Start deletes an old spooled upload no job
// refers to, and keeps one that a queued job does.
func TestSweepSpool(t *testing.T) {
	e := mustOpenEnv(t)
	cfg := e.config(nil)
	c := mustOpenClient(t, cfg, false)
	ctx := context.Background()
	j, err := c.SubmitContent(ctx, bytes.NewReader(gradientPNG(t, 5)), vigil.ContentJobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(e.spoolDir, "upload-orphan")
	if err := os.WriteFile(orphan, []byte("left by a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	for _, name := range spoolFiles(t, e.spoolDir) {
		if err := os.Chtimes(filepath.Join(e.spoolDir, name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := waitJob(t, c, j.ID); got.State != vigil.JobCompleted {
		t.Fatalf("queued job after the sweep: %+v", got)
	}
	if names := spoolFiles(t, e.spoolDir); len(names) != 0 {
		t.Fatalf("spool after the sweep: %v", names)
	}
}

// failingMatcher fails every lookup, as a broken store would.
type failingMatcher struct{ vigil.MatchService }

func (failingMatcher) Lookup(context.Context, []vigil.Signal, vigil.MatchOptions) ([]vigil.MatchResult, error) {
	return nil, errors.New("index unavailable")
}

// TestContentJobFails checks the last failed attempt: the upload is
// deleted, the webhook hears of the failure, and the job shows no internal
// detail.
func TestContentJobFails(t *testing.T) {
	rc := newReceiver(t)
	e := mustOpenEnv(t)
	cfg := e.config(map[string]jobs.Webhook{"platform": {URL: rc.URL, Secret: testSecret}})
	cfg.Matcher = failingMatcher{e.matcher}
	cfg.ContentMaxAttempts = 2
	c := mustOpenClient(t, cfg, true)
	j, err := c.SubmitContent(context.Background(), bytes.NewReader(gradientPNG(t, 9)), vigil.ContentJobOptions{Webhook: "platform"})
	if err != nil {
		t.Fatal(err)
	}
	j = waitJob(t, c, j.ID)
	if j.State != vigil.JobFailed || j.Attempts != 2 || len(j.Errors) != 2 || j.Errors[1] != "internal error" {
		t.Fatalf("job %+v", j)
	}
	if names := spoolFiles(t, e.spoolDir); len(names) != 0 {
		t.Fatalf("spool not emptied: %v", names)
	}
	rc.wait(t, 1)
	d := rc.got()[0]
	var data struct {
		State vigil.JobState `json:"state"`
		Error string         `json:"error"`
	}
	if err := json.Unmarshal(d.event.Data, &data); err != nil || d.verified != nil || data.State != vigil.JobFailed || data.Error == "" {
		t.Fatalf("failure event %+v: %s", d, d.event.Data)
	}
}

// blockingMatcher holds every lookup until its context ends, like a
// video that takes longer than the shutdown grace period.
type blockingMatcher struct {
	vigil.MatchService
	started chan struct{}
}

func (m blockingMatcher) Lookup(ctx context.Context, _ []vigil.Signal, _ vigil.MatchOptions) ([]vigil.MatchResult, error) {
	m.started <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestJobInterruptedByShutdown stops the client while a job runs: the job
// is put back without spending an attempt, and the next process (here a
// new client on the same database) completes it.
func TestJobInterruptedByShutdown(t *testing.T) {
	e := mustOpenEnv(t)
	ctx := context.Background()
	cfg := e.config(nil)
	cfg.Matcher = blockingMatcher{e.matcher, make(chan struct{}, 1)}
	first, err := jobs.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	j, err := first.SubmitContent(ctx, bytes.NewReader(gradientPNG(t, 4)), vigil.ContentJobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-cfg.Matcher.(blockingMatcher).started
	stopCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := first.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	if got, err := first.FindJob(ctx, j.ID); err != nil || got.State.Finished() || len(got.Errors) != 0 {
		t.Fatalf("after the interrupted run: %+v %v", got, err)
	}
	first.Close()

	second := mustOpenClient(t, e.config(nil), true)
	if got := waitJob(t, second, j.ID); got.State != vigil.JobCompleted || len(got.Errors) != 0 {
		t.Fatalf("after restart: %+v", got)
	}
}

// TestContentJobCancelled checks a job that cannot succeed: its upload is
// gone (or its content over a limit lowered since), so it is cancelled
// after one attempt with a reason, not retried.
func TestContentJobCancelled(t *testing.T) {
	e := mustOpenEnv(t)
	ctx := context.Background()
	c := mustOpenClient(t, e.config(nil), false)
	gone, err := c.SubmitContent(ctx, bytes.NewReader(gradientPNG(t, 11)), vigil.ContentJobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range spoolFiles(t, e.spoolDir) {
		os.Remove(filepath.Join(e.spoolDir, name))
	}
	big, err := c.SubmitContent(ctx, bytes.NewReader(make([]byte, 5000)), vigil.ContentJobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	cfg := e.config(nil)
	cfg.Hashing.Limits.MaxBytes = 4000
	c = mustOpenClient(t, cfg, true)
	for _, tc := range []struct {
		id  int64
		err string
	}{
		{gone.ID, "spooled upload is gone"},
		{big.ID, "input is larger than the 4000-byte limit"},
	} {
		j := waitJob(t, c, tc.id)
		if j.State != vigil.JobCancelled || j.Attempts != 1 || len(j.Errors) != 1 || j.Errors[0] != tc.err {
			t.Errorf("job %+v, want cancelled with %q", j, tc.err)
		}
	}
	if names := spoolFiles(t, e.spoolDir); len(names) != 0 {
		t.Fatalf("spool not emptied: %v", names)
	}
}

// TestContentJobTimesOut checks a job that outlives its timeout: it fails,
// and the failure is still notified although the job's context is over.
func TestContentJobTimesOut(t *testing.T) {
	rc := newReceiver(t)
	e := mustOpenEnv(t)
	cfg := e.config(map[string]jobs.Webhook{"platform": {URL: rc.URL, Secret: testSecret}})
	cfg.Matcher = blockingMatcher{e.matcher, make(chan struct{}, 10)}
	cfg.ContentTimeout = 200 * time.Millisecond
	cfg.ContentMaxAttempts = 1
	c := mustOpenClient(t, cfg, true)
	j, err := c.SubmitContent(context.Background(), bytes.NewReader(gradientPNG(t, 12)), vigil.ContentJobOptions{Webhook: "platform"})
	if err != nil {
		t.Fatal(err)
	}
	if j = waitJob(t, c, j.ID); j.State != vigil.JobFailed || len(j.Errors) != 1 {
		t.Fatalf("job %+v", j)
	}
	rc.wait(t, 1)
	var data struct {
		State vigil.JobState `json:"state"`
	}
	if d := rc.got()[0]; json.Unmarshal(d.event.Data, &data) != nil || data.State != vigil.JobFailed {
		t.Fatalf("event %s", d.event.Data)
	}
	if names := spoolFiles(t, e.spoolDir); len(names) != 0 {
		t.Fatalf("spool not emptied: %v", names)
	}
}
