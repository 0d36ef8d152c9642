package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/report"
)

// TestCentreProvider: a provider registered from the command line gets a
// key shown once, is listed, and its registration is audited.
func TestCentreProvider(t *testing.T) {
	data := newDataDir(t)
	out, _, err := runMain(t, "", "centre", "provider", "add", "--data", data, "example-chat")
	if err != nil || !strings.Contains(out, "vgl_") || !strings.Contains(out, `provider 1 "example-chat"`) {
		t.Fatalf("add: %q %v", out, err)
	}
	if _, _, err := runMain(t, "", "centre", "provider", "add", "--data", data, "example-chat"); err == nil {
		t.Fatal("a second provider of one name was registered")
	}
	out, _, err = runMain(t, "", "centre", "provider", "list", "--data", data)
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"name":"example-chat"`) || strings.Contains(out, "vgl_") && !strings.Contains(out, `"hint":"vgl_`) {
		t.Fatalf("list: %q %v", out, err)
	}
	out, _, _ = runMain(t, "", "audit", "list", "--data", data)
	if !strings.Contains(out, `"action":"centre.provider.add","target":"provider:1:example-chat"`) {
		t.Fatalf("audit: %s", out)
	}

	// Revoked from the command line: refused at once, audited; then
	// reinstated with a new key.
	out, _, err = runMain(t, "", "centre", "provider", "revoke", "--data", data, "example-chat")
	if err != nil || !strings.Contains(out, `Revoked provider 1 "example-chat"`) {
		t.Fatalf("revoke: %q %v", out, err)
	}
	if _, _, err := runMain(t, "", "centre", "provider", "revoke", "--data", data, "example-chat"); err == nil || !strings.Contains(err.Error(), "was revoked") {
		t.Errorf("revoke twice: %v", err)
	}
	if _, _, err := runMain(t, "", "centre", "provider", "revoke", "--data", data, "nobody"); err == nil || !strings.Contains(err.Error(), `no provider named "nobody"`) {
		t.Errorf("revoke an unknown provider: %v", err)
	}
	out, _, err = runMain(t, "", "centre", "provider", "list", "--data", data)
	if err != nil || !strings.Contains(out, `"revoked_at":`) {
		t.Fatalf("list after revoke: %q %v", out, err)
	}
	out, _, err = runMain(t, "", "centre", "provider", "reinstate", "--data", data, "example-chat")
	if err != nil || !strings.Contains(out, "vgl_") || !strings.Contains(out, `Reinstated provider 1 "example-chat"`) {
		t.Fatalf("reinstate: %q %v", out, err)
	}
	out, _, _ = runMain(t, "", "audit", "list", "--data", data)
	for _, a := range []string{"centre.provider.revoke", "centre.provider.reinstate"} {
		if !strings.Contains(out, `"actor":"cli","action":"`+a+`","target":"provider:1:example-chat"`) {
			t.Errorf("audit lacks %s: %s", a, out)
		}
	}
	if _, _, err := runMain(t, "", "centre", "provider", "remove", "--data", data, "x"); err == nil {
		t.Error("unknown provider subcommand accepted")
	}
	t.Setenv(envCentreKey, "")
	if _, _, err := runMain(t, "", "centre", "status", "--data", data, "--centre-url", "http://127.0.0.1:9"); err == nil || !strings.Contains(err.Error(), envCentreKey) {
		t.Errorf("status without a key: %v", err)
	}
	t.Setenv(envCentreKey, "vgl_example")
	if out, _, err := runMain(t, "", "centre", "status", "--data", data, "--centre-url", "http://127.0.0.1:9"); err != nil || out != "" {
		t.Errorf("status with nothing sent: %q %v", out, err)
	}
}

func TestServeCentreFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--centre-forward", "police"},
		{"--centre", "--centre-forward", "police"},
		{"--centre-url", "http://127.0.0.1:9"},
		{"--centre-name", "eu"},
		{"--centre", "--centre-name", "not a name!"},
	} {
		_, _, err := runMain(t, "", append([]string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0"}, args...)...)
		if err == nil || !strings.Contains(err.Error(), "centre") {
			t.Errorf("serve %v: %v, want a refusal naming the centre flag", args, err)
		}
	}
}

// TestServeCentreForward checks serve's wiring of a forward: the decision
// queues it, the forward job delivers it (signed with the webhook's
// secret) and retries after a 503, under one key, and the report shows
// both attempts.
func TestServeCentreForward(t *testing.T) {
	secret := "serve-test-police-0123456789abcd"
	t.Setenv("VIGIL_WEBHOOK_SECRET_POLICE", secret)
	var mu sync.Mutex
	var keys []string
	filed := map[string]bool{}
	le := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err := report.VerifyWebhook(r.Header, body, time.Now(), time.Minute, []byte(secret), nil); err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		key := r.Header.Get(report.HeaderIdempotencyKey)
		keys = append(keys, key)
		if len(keys) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		filed[key] = true
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(le.Close)
	srv := startServe(t, "--centre", "--webhook", "police="+le.URL, "--centre-forward", "police", "--centre-name", "eu")

	code, body := srv.call("POST", "/v1/centre/providers", "application/json", strings.NewReader(`{"name":"example-chat"}`))
	var prov struct {
		Key string `json:"key"`
	}
	if json.Unmarshal(body, &prov); code != 201 || prov.Key == "" {
		t.Fatalf("provider: %d %s", code, body)
	}
	eu, err := os.ReadFile("../../report/testdata/golden/imagery.eu.json")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", srv.base+"/v1/centre/reports", bytes.NewReader(eu))
	req.Header.Set("Authorization", "Bearer "+prov.Key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "incident-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var fb vigil.CentreFeedback
	json.NewDecoder(resp.Body).Decode(&fb)
	resp.Body.Close()
	if resp.StatusCode != 201 || fb.ID == 0 {
		t.Fatalf("receive: %d %+v", resp.StatusCode, fb)
	}
	path := "/v1/centre/reports/" + strconv.FormatInt(fb.ID, 10)
	if code, body := srv.call("POST", path+"/decision", "application/json", strings.NewReader(`{"status":"forwarded","forward_to":"police"}`)); code != 200 {
		t.Fatalf("forward: %d %s", code, body)
	}
	var got vigil.CentreReport
	waitFor(t, "the forward's delivery", func() bool {
		_, body := srv.call("GET", path, "", nil)
		json.Unmarshal(body, &got)
		return got.Forward != vigil.ForwardPending
	})
	mu.Lock()
	defer mu.Unlock()
	if got.Forward != vigil.ForwardDelivered || len(got.ForwardAttempts) != 2 || got.ForwardAttempts[0].HTTPStatus != 503 ||
		got.ForwardAttempts[1].HTTPStatus != 202 || len(filed) != 1 || !filed[got.ForwardKey] || keys[0] != keys[1] {
		t.Fatalf("forward %+v; receiver filed %v from keys %v", got, filed, keys)
	}
}
