package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/jobs"
)

// syncBuffer is a bytes.Buffer safe to write from the serving goroutine
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls fn until it returns true; the deadline only keeps a broken
// test from hanging.
func waitFor(tb testing.TB, what string, fn func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(60 * time.Second); !fn(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up waiting for %s", what)
		}
	}
}

// served is a `vigil serve` running for a test: its base URL and the
// bootstrap admin key it printed.
type served struct {
	tb        testing.TB
	base, key string
}

// startServe runs `vigil serve` with a fresh data directory (unless args
// give one), a free port and args, waits until it serves, and stops it
// at the end of the test (register cleanups it must outlive, such as a
// webhook receiver's, before calling).
func startServe(tb testing.TB, args ...string) *served {
	tb.Helper()
	var stdout, logs syncBuffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: io.Discard, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- m.Run(ctx, append([]string{"serve", "--data", tb.TempDir(), "--addr", "127.0.0.1:0"}, args...))
	}()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("serve: %v", err)
		}
	})
	urlRE, keyRE := regexp.MustCompile(`url=(http://\S+)`), regexp.MustCompile(`(?m)^\s+(\S+)$`)
	waitFor(tb, "serving", func() bool {
		select {
		case err := <-done:
			done <- err // for the cleanup
			tb.Fatalf("serve ended before serving: %v", err)
		default:
		}
		return urlRE.MatchString(logs.String())
	})
	srv := &served{tb: tb, base: urlRE.FindStringSubmatch(logs.String())[1]}
	// It serves while its indexes load; lookups wait for ready.
	waitFor(tb, "ready", func() bool {
		resp, err := http.Get(srv.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// Only the first start of a store prints a key (a second replica on
	// one PostgreSQL store does not).
	if k := keyRE.FindStringSubmatch(stdout.String()); k != nil {
		srv.key = k[1]
	}
	return srv
}

// call sends a request with the admin key and returns the status and body.
func (s *served) call(method, path, contentType string, body io.Reader) (int, []byte) {
	s.tb.Helper()
	req, err := http.NewRequest(method, s.base+path, body)
	if err != nil {
		s.tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.tb.Fatal(err)
	}
	return resp.StatusCode, b
}

// waitJob polls job until it has finished, updating it.
func (s *served) waitJob(job *vigil.Job) {
	s.tb.Helper()
	waitFor(s.tb, "the job", func() bool {
		_, body := s.call("GET", "/v1/jobs/"+strconv.FormatInt(job.ID, 10), "", nil)
		json.Unmarshal(body, job)
		return job.State.Finished()
	})
}

// TestServeJobsAndWebhooks runs `vigil serve` with a webhook and checks
// the wiring: an upload to /v1/jobs completes and its signed event
// arrives; an entry added later raises a signed retroactive-match event.
func TestServeJobsAndWebhooks(t *testing.T) {
	secret := "serve-test-secret-0123456789abcd"
	t.Setenv("VIGIL_WEBHOOK_SECRET_PLATFORM", secret)
	var mu sync.Mutex
	events := map[string]json.RawMessage{} // type: data
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err := jobs.Verify([]byte(secret), r.Header, body, time.Now(), time.Minute); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev vigil.Event
		json.Unmarshal(body, &ev)
		mu.Lock()
		events[ev.Type] = ev.Data
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	event := func(typ string) json.RawMessage {
		mu.Lock()
		defer mu.Unlock()
		return events[typ]
	}

	data := t.TempDir()
	srv := startServe(t, "--data", data, "--webhook", "platform="+hook.URL, "--rematch-webhook", "platform", "--keep-signals", "1h")

	img, err := os.ReadFile(filepath.Join(testImages, "synthetic/synth-smooth-rgb-129x300.png"))
	if err != nil {
		t.Fatal(err)
	}
	var job vigil.Job
	code, body := srv.call("POST", "/v1/jobs?webhook=platform", "image/png", bytes.NewReader(img))
	if json.Unmarshal(body, &job); code != 202 {
		t.Fatalf("submit: %d", code)
	}
	srv.waitJob(&job)
	if job.State != vigil.JobCompleted {
		t.Fatalf("job %+v", job)
	}
	waitFor(t, "job.completed", func() bool { return event(vigil.EventJobCompleted) != nil })

	// The job kept the upload's signals: an entry added now matches it.
	srv.call("POST", "/v1/banks", "application/json", strings.NewReader(`{"name":"later"}`))
	if code, _ := srv.call("POST", "/v1/banks/later/entries", "application/json",
		strings.NewReader(`{"entries":[{"signal_type":"pdq","value":"`+scanImgPDQ+`"}]}`)); code != 201 {
		t.Fatalf("add entry: %d", code)
	}
	waitFor(t, "match.retroactive", func() bool { return event(vigil.EventRetroactiveMatch) != nil })
	var rm struct {
		ContentSHA256 string `json:"content_sha256"`
	}
	if json.Unmarshal(event(vigil.EventRetroactiveMatch), &rm); rm.ContentSHA256 != job.ContentSHA256 {
		t.Fatalf("retroactive event %s, job %+v", event(vigil.EventRetroactiveMatch), job)
	}
	if des, _ := os.ReadDir(filepath.Join(data, "spool")); len(des) != 0 {
		t.Fatalf("spool holds %d files", len(des))
	}
}

func TestServeRefusesWebhookWithoutSecret(t *testing.T) {
	_, _, err := runMain(t, "", "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--webhook", "unsigned-hook=https://example.org/")
	if err == nil || !strings.Contains(err.Error(), "no secret") {
		t.Fatalf("serve with an unsigned webhook: %v", err)
	}
}

// TestServeChecksRematchWebhookFirst checks that a --rematch-webhook that
// cannot work is refused before anything is opened or written.
func TestServeChecksRematchWebhookFirst(t *testing.T) {
	t.Setenv("VIGIL_WEBHOOK_SECRET_PLATFORM", "serve-test-secret-0123456789abcd")
	for _, args := range [][]string{
		{"--rematch-webhook", "platform", "--keep-signals", "1h"},
		{"--rematch-webhook", "platform", "--webhook", "platform=https://example.org/"},
	} {
		data := t.TempDir()
		_, _, err := runMain(t, "", append([]string{"serve", "--data", data, "--addr", "127.0.0.1:0"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "needs --webhook") {
			t.Fatalf("serve %q: %v", args, err)
		}
		if des, _ := os.ReadDir(data); len(des) != 0 {
			t.Fatalf("serve %q wrote %d files before refusing", args, len(des))
		}
	}
}

// A --c2pa-trust file that holds no certificate is refused before
// anything is opened or written.
func TestServeChecksC2PATrustFirst(t *testing.T) {
	data, bad := t.TempDir(), filepath.Join(t.TempDir(), "trust.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o644)
	for _, file := range []string{bad, filepath.Join(t.TempDir(), "missing.pem")} {
		_, _, err := runMain(t, "", "serve", "--data", data, "--addr", "127.0.0.1:0", "--c2pa-trust", file)
		if err == nil || !strings.Contains(err.Error(), "c2pa trust anchors") {
			t.Fatalf("serve --c2pa-trust %s: %v", file, err)
		}
		if des, _ := os.ReadDir(data); len(des) != 0 {
			t.Fatalf("serve wrote %d files before refusing", len(des))
		}
	}
}
