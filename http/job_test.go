package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/jobs"
)

var webhookSecret = []byte("test-webhook-secret-0123456789ab")

// mustOpenJobServer is a running API (see mustOpenServer) with background
// jobs, on a database file of their own, whose webhook "platform" posts
// to hookURL.
func mustOpenJobServer(tb testing.TB, hookURL string) *testServer {
	tb.Helper()
	return mustOpenServer(tb, func(s *vhttp.Server) {
		ctx := context.Background()
		dir := tb.TempDir()
		js, err := jobs.Open(ctx, jobs.Config{
			DBPath: filepath.Join(dir, "jobs.db"), SpoolDir: filepath.Join(dir, "spool"),
			Matcher: s.Matcher, Hashing: s.Hashing, NoVideo: true,
			Webhooks:     map[string]jobs.Webhook{"platform": {URL: hookURL, Secret: webhookSecret}},
			PollInterval: 50 * time.Millisecond,
			RetryDelay:   func(int) time.Duration { return 100 * time.Millisecond },
		})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			js.Stop(ctx)
			js.Close()
		})
		if err := js.Start(ctx); err != nil {
			tb.Fatal(err)
		}
		s.Jobs, s.Notifier = js, js
	})
}

// TestJobsOverAPI submits an image as a job, with a webhook whose
// receiver checks every signature and refuses the first delivery, then
// polls the job and waits for the retried event.
func TestJobsOverAPI(t *testing.T) {
	type event struct {
		header http.Header
		body   []byte
	}
	var mu sync.Mutex
	var events []event
	arrived := make(chan struct{}, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		mu.Lock()
		events = append(events, event{r.Header.Clone(), body})
		first := len(events) == 1
		mu.Unlock()
		switch {
		case jobs.Verify(webhookSecret, r.Header, body, time.Now(), 5*time.Minute) != nil:
			w.WriteHeader(http.StatusUnauthorized)
		case first:
			w.WriteHeader(http.StatusServiceUnavailable) // down for a moment
		default:
			w.WriteHeader(http.StatusNoContent)
		}
		arrived <- struct{}{}
	}))
	defer hook.Close()
	ts := mustOpenJobServer(t, hook.URL)

	ts.do(t, vigil.RoleCurator, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": "known"}), nil)
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/banks/known/entries", "", jsonBody(map[string]any{"entries": []map[string]string{{"signal_type": "pdq", "value": imagePDQ, "source_entry_id": "K-7"}}}), nil); code != 201 {
		t.Fatal("add entry")
	}
	if err := ts.Matcher.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile("testdata/smooth-129x300.png")
	if err != nil {
		t.Fatal(err)
	}
	// Multipart, as /v1/match takes it.
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("file", "upload.png")
	fw.Write(img)
	mw.Close()

	var job vigil.Job
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/jobs?webhook=platform", mw.FormDataContentType(), &form, &job); code != 202 || job.ID == 0 || job.State != vigil.JobQueued {
		t.Fatalf("submit: %d %+v", code, job)
	}
	deadline := time.Now().Add(60 * time.Second) // only so that a broken test ends
	for !job.State.Finished() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if code := ts.do(t, vigil.RoleMatcher, "GET", "/v1/jobs/"+strconv.FormatInt(job.ID, 10), "", nil, &job); code != 200 {
			t.Fatalf("poll: %d", code)
		}
	}
	var result struct {
		Matched bool
		Results []vigil.MatchResult
	}
	if err := json.Unmarshal(job.Result, &result); err != nil || job.State != vigil.JobCompleted || !result.Matched {
		t.Fatalf("job %+v: %v", job, err)
	}
	if m := result.Results[0].Matches[0]; m.Bank != "known" || m.SourceEntryID != "K-7" {
		t.Fatalf("match %+v", m)
	}
	// Another key, even one allowed to submit jobs, does not see it.
	if code := ts.do(t, vigil.RoleCurator, "GET", "/v1/jobs/"+strconv.FormatInt(job.ID, 10), "", nil, nil); code != 404 {
		t.Fatalf("another key reading the job: %d", code)
	}

	for range 2 {
		select {
		case <-arrived:
		case <-time.After(60 * time.Second):
			t.Fatal("webhook not retried")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 {
		t.Fatalf("%d deliveries", len(events))
	}
	for _, e := range events {
		if err := jobs.Verify(webhookSecret, e.header, e.body, time.Now(), 5*time.Minute); err != nil {
			t.Fatal(err)
		}
		var ev struct {
			vigil.Event
			Data struct {
				JobID  int64 `json:"job_id"`
				Result struct{ Matched bool }
			} `json:"data"`
		}
		if err := json.Unmarshal(e.body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != vigil.EventJobCompleted || ev.ID != e.header.Get(jobs.HeaderEventID) || ev.Data.JobID != job.ID || !ev.Data.Result.Matched {
			t.Fatalf("event %s", e.body)
		}
	}
	if events[0].header.Get(jobs.HeaderEventID) != events[1].header.Get(jobs.HeaderEventID) {
		t.Fatal("a retry must carry the same event id")
	}
}

func TestJobsAPIErrors(t *testing.T) {
	ts := mustOpenJobServer(t, "http://127.0.0.1:1/unused")
	png := bytes.Repeat([]byte{1}, 10)
	for _, tc := range []struct {
		name        string
		role        vigil.Role
		method      string
		path        string
		contentType string
		body        io.Reader
		status      int
	}{
		{"no key", "", "POST", "/v1/jobs", "image/png", bytes.NewReader(png), 401},
		{"reviewer may not submit", vigil.RoleReviewer, "POST", "/v1/jobs", "image/png", bytes.NewReader(png), 403},
		{"reviewer may not read", vigil.RoleReviewer, "GET", "/v1/jobs/1", "", nil, 403},
		{"unknown webhook", vigil.RoleMatcher, "POST", "/v1/jobs?webhook=elsewhere", "image/png", bytes.NewReader(png), 404},
		{"bad option", vigil.RoleMatcher, "POST", "/v1/jobs?dihedral=maybe", "image/png", bytes.NewReader(png), 400},
		{"bad user id", vigil.RoleMatcher, "POST", "/v1/jobs?user_id=" + strings.Repeat("u", 300), "image/png", bytes.NewReader(png), 400},
		{"empty", vigil.RoleMatcher, "POST", "/v1/jobs", "image/png", bytes.NewReader(nil), 400},
		{"too large", vigil.RoleMatcher, "POST", "/v1/jobs", "application/octet-stream", bytes.NewReader(make([]byte, 4<<20+1)), 413},
		{"text", vigil.RoleMatcher, "POST", "/v1/jobs", "text/plain", bytes.NewReader([]byte("hello")), 415},
		{"missing job", vigil.RoleMatcher, "GET", "/v1/jobs/999", "", nil, 404},
		{"bad id", vigil.RoleMatcher, "GET", "/v1/jobs/x", "", nil, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code := ts.do(t, tc.role, tc.method, tc.path, tc.contentType, tc.body, nil); code != tc.status {
				t.Fatalf("status %d, want %d", code, tc.status)
			}
		})
	}
	// A webhook delivery is a job too, but not one the API shows.
	if err := ts.Notifier.Notify(context.Background(), "platform", vigil.Event{Type: vigil.EventRuleMatched}); err != nil {
		t.Fatal(err)
	}
	if code := ts.do(t, vigil.RoleMatcher, "GET", "/v1/jobs/1", "", nil, nil); code != 404 {
		t.Fatalf("webhook job shown: %d", code)
	}
}
