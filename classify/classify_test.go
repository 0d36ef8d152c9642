package classify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// image is benign test content: the PNG signature and a few bytes. The
// classifiers under test never decode it.
var image = Content{Data: []byte("\x89PNG\r\n\x1a\nnot really an image"), MediaType: "image/png", Source: "match", SHA256: "ab"}

// uniformServer answers the uniform contract with reply, after checking
// the request's shape.
func uniformServer(t *testing.T, reply func(w http.ResponseWriter, req uniformRequest)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req uniformRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		reply(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPContract(t *testing.T) {
	var got uniformRequest
	var auth string
	srv := uniformServer(t, func(w http.ResponseWriter, req uniformRequest) {
		got = req
		io.WriteString(w, `{"model":"m-1","results":[{"label":"csam","score":0.93},{"label":"adult","score":0.1}],"extra":true}`)
	})
	srv.Config.Handler = wrapAuth(srv.Config.Handler, &auth)
	h := &HTTP{URL: srv.URL, Model: "m-1", Token: "s3cret"}
	res, err := h.Classify(context.Background(), image)
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != "m-1" || !strings.HasPrefix(got.Input.MediaURL, "data:image/png;base64,") || got.Input.Text != "" {
		t.Errorf("request = %+v", got)
	}
	if auth != "Bearer s3cret" {
		t.Errorf("authorization = %q", auth)
	}
	if res.ModelVersion != "m-1" || len(res.Labels) != 2 || res.Labels[0] != (Label{"csam", 0.93}) {
		t.Errorf("result = %+v", res)
	}
	// Text goes as text.
	if _, err := h.Classify(context.Background(), Content{Data: []byte("hello"), MediaType: "text/plain"}); err != nil || got.Input.Text != "hello" || got.Input.MediaURL != "" {
		t.Errorf("text request = %+v, %v", got, err)
	}
}

func wrapAuth(h http.Handler, auth *string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*auth = r.Header.Get("Authorization")
		h.ServeHTTP(w, r)
	})
}

func TestGoogleContract(t *testing.T) {
	var key string
	var body map[string][]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key = r.Header.Get("X-Goog-Api-Key")
		json.NewDecoder(r.Body).Decode(&body)
		if r.URL.RawQuery != "" {
			t.Errorf("query %q: the key must not travel in the url", r.URL.RawQuery)
		}
		io.WriteString(w, `{"reviewPriorities":["HIGH"],"model_version":"cs-2"}`)
	}))
	defer srv.Close()
	g := &Google{URL: srv.URL, Key: "k"}
	res, err := g.Classify(context.Background(), image)
	if err != nil {
		t.Fatal(err)
	}
	if key != "k" || len(body["images"]) != 1 {
		t.Errorf("key %q, body %v", key, body)
	}
	if res.ModelVersion != "cs-2" || len(res.Labels) != 1 || res.Labels[0] != (Label{GoogleLabel, 0.7}) {
		t.Errorf("result = %+v", res)
	}
	if _, err := g.Classify(context.Background(), Content{Data: []byte("x"), MediaType: "text/plain"}); err == nil {
		t.Error("text sent to an image api")
	}
}

func TestParseReplyRefusesLies(t *testing.T) {
	for _, tc := range []string{
		``, `not json`, `[]`, `{"results":null}`, `{}`, `{"results":[{"label":"a"}]}`,
		`{"results":[{"score":0.5}]}`, `{"results":[{"label":"a","score":1.5}]}`,
		`{"results":[{"label":"a","score":-0.1}]}`, `{"results":[{"label":"a","score":"0.5"}]}`,
		`{"results":[{"label":"a","score":0.5},{"label":"a","score":0.6}]}`,
		`{"results":[{"label":"","score":0.5}]}`, `{"results":[{"label":"a\u0000","score":0.5}]}`,
		`{"results":[]} {"results":[]}`,
		`{"results":[{"label":"` + strings.Repeat("x", 200) + `","score":0.5}]}`,
		`{"results":[` + strings.Repeat(`{"label":"a","score":0.5},`, 100) + `{"label":"b","score":0.5}]}`,
	} {
		if _, err := ParseReply([]byte(tc)); !errors.Is(err, ErrBadReply) {
			t.Errorf("ParseReply(%.60q) = %v, want a bad reply", tc, err)
		}
	}
	for _, tc := range []string{``, `{}`, `{"reviewPriorities":[]}`, `{"reviewPriorities":["HIGH","LOW"]}`, `{"reviewPriorities":["EXTREME"]}`} {
		if _, err := ParseGoogleReply([]byte(tc)); !errors.Is(err, ErrBadReply) {
			t.Errorf("ParseGoogleReply(%q) = %v, want a bad reply", tc, err)
		}
	}
	if r, err := ParseReply([]byte(`{"results":[]}`)); err != nil || len(r.Labels) != 0 {
		t.Errorf("empty results = %+v, %v", r, err)
	}
}

// TestGuardLyingAndHugeReplies: a classifier that lies (garbage, scores
// out of range) or sends a huge body gives no scores, is not retried and
// counts towards the breaker.
func TestGuardLyingAndHugeReplies(t *testing.T) {
	for name, body := range map[string]string{
		"garbage":      `<html>oops</html>`,
		"out of range": `{"results":[{"label":"csam","score":7}]}`,
		"huge":         `{"results":[],"pad":"` + strings.Repeat("x", MaxReplyBytes) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			srv := uniformServer(t, func(w http.ResponseWriter, req uniformRequest) {
				calls.Add(1)
				io.WriteString(w, body)
			})
			g := NewGuard("lying", KindHTTP, srv.URL, &HTTP{URL: srv.URL}, GuardOptions{Retries: 2, BreakerFailures: 2})
			for range 2 {
				if scores, _, err := g.Classify(context.Background(), image); !errors.Is(err, ErrBadReply) || scores != nil {
					t.Fatalf("Classify = %v, %v; want a bad reply", scores, err)
				}
			}
			if calls.Load() != 2 {
				t.Errorf("%d calls, want 2 (a bad reply is not retried)", calls.Load())
			}
			if !g.BreakerOpen() {
				t.Error("breaker closed after 2 bad replies")
			}
		})
	}
}

// TestGuardBreaker: a failing classifier is retried, then its breaker
// opens and keeps calls away until the cooldown, after which one trial
// call goes through; its success closes the breaker.
func TestGuardBreaker(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	var calls atomic.Int32
	srv := uniformServer(t, func(w http.ResponseWriter, req uniformRequest) {
		calls.Add(1)
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"model":"m","results":[{"label":"x","score":0.5}]}`)
	})
	now := time.Unix(1e9, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	var logs bytes.Buffer
	g := NewGuard("flaky", KindHTTP, srv.URL, &HTTP{URL: srv.URL}, GuardOptions{
		Retries: 1, BreakerFailures: 3, BreakerCooldown: time.Minute, Now: clock, Metrics: m,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	for i := range 3 {
		if _, _, err := g.Classify(context.Background(), image); err == nil || errors.Is(err, ErrOpen) {
			t.Fatalf("call %d: %v, want the classifier's failure", i, err)
		}
	}
	if calls.Load() != 6 {
		t.Errorf("%d calls, want 6 (each failure retried once)", calls.Load())
	}
	if _, _, err := g.Classify(context.Background(), image); !errors.Is(err, ErrOpen) {
		t.Fatalf("after 3 failures: %v, want breaker open", err)
	}
	if calls.Load() != 6 {
		t.Error("breaker open, yet the classifier was called")
	}
	if v := metric(t, reg, "vigil_classifier_breaker_open", "flaky", ""); v != 1 {
		t.Errorf("breaker gauge = %v", v)
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	failing.Store(false)
	if scores, _, err := g.Classify(context.Background(), image); err != nil || len(scores) != 1 || scores[0].Classifier != "flaky" || scores[0].ModelVersion != "m" {
		t.Fatalf("trial call = %v, %v", scores, err)
	}
	if g.BreakerOpen() || metric(t, reg, "vigil_classifier_breaker_open", "flaky", "") != 0 {
		t.Error("breaker still open after a successful trial")
	}
	if n := metric(t, reg, "vigil_classifier_calls_total", "flaky", "breaker_open"); n != 1 {
		t.Errorf("breaker_open calls = %v", n)
	}
	// Every call is access-logged, with the content digest and no secret.
	if n := strings.Count(logs.String(), `"msg":"classify"`); n != 5 {
		t.Errorf("%d access-log lines, want 5:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `"content_sha256":"ab"`) {
		t.Errorf("access log lacks the digest:\n%s", logs.String())
	}
}

// TestGuardSlow: a classifier slower than the timeout gives no score
// within the timeout, and a trial after the breaker opened is one call.
func TestGuardSlow(t *testing.T) {
	release := make(chan struct{})
	srv := uniformServer(t, func(w http.ResponseWriter, req uniformRequest) {
		<-release
		io.WriteString(w, `{"results":[]}`)
	})
	defer close(release)
	g := NewGuard("slow", KindHTTP, srv.URL, &HTTP{URL: srv.URL}, GuardOptions{Timeout: 50 * time.Millisecond, BreakerFailures: 1})
	_, _, err := g.Classify(context.Background(), image)
	if !errors.Is(err, context.DeadlineExceeded) || callerError(err) != "timed out" {
		t.Fatalf("slow classifier: %v", err)
	}
	if _, _, err := g.Classify(context.Background(), image); !errors.Is(err, ErrOpen) {
		t.Fatalf("after a timeout with failures 1: %v", err)
	}
}

// TestGuardConcurrency: calls past the limit wait for a slot, within
// their time bound, and are refused as busy past it without counting
// against the breaker.
func TestGuardConcurrency(t *testing.T) {
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	srv := uniformServer(t, func(w http.ResponseWriter, req uniformRequest) {
		entered <- struct{}{}
		<-release
		io.WriteString(w, `{"results":[]}`)
	})
	g := NewGuard("limited", KindHTTP, srv.URL, &HTTP{URL: srv.URL}, GuardOptions{Concurrency: 2, Timeout: time.Minute})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); g.Classify(context.Background(), image) }()
	}
	<-entered
	<-entered
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := g.Classify(short, image); !errors.Is(err, ErrBusy) {
		t.Errorf("third call = %v, want busy", err)
	}
	// A call that waits gets the slot the first two free.
	third := make(chan error, 1)
	go func() { _, _, err := g.Classify(context.Background(), image); third <- err }()
	close(release)
	if err := <-third; err != nil {
		t.Errorf("waiting call = %v", err)
	}
	wg.Wait()
	if g.BreakerOpen() {
		t.Error("busy counted against the breaker")
	}
}

func TestPolicy(t *testing.T) {
	for _, tc := range []struct {
		p    Policy
		c    Content
		want bool
	}{
		{Policy{}, image, true},
		{Policy{}, Content{MediaType: "text/plain", Source: "match"}, false},
		{Policy{}, Content{MediaType: "video/mp4", Source: "match"}, false},
		{Policy{MediaTypes: []string{"image/jpeg"}}, image, false},
		{Policy{MediaTypes: []string{"image/png"}}, image, true},
		{Policy{MediaTypes: []string{"text/*"}}, Content{MediaType: "text/plain; charset=utf-8"}, true},
		{Policy{Sources: []string{"cli"}}, image, false},
		{Policy{Sources: []string{"cli", "match"}}, image, true},
		{Policy{}, Content{MediaType: "garbage"}, false},
	} {
		if got := tc.p.Allows(tc.c); got != tc.want {
			t.Errorf("%+v allows %q from %q = %v", tc.p, tc.c.MediaType, tc.c.Source, got)
		}
	}
	var calls atomic.Int32
	srv := uniformServer(t, func(w http.ResponseWriter, req uniformRequest) { calls.Add(1); io.WriteString(w, `{"results":[]}`) })
	set := NewSet(NewGuard("cli-only", KindHTTP, srv.URL, &HTTP{URL: srv.URL}, GuardOptions{Policy: Policy{Sources: []string{"cli"}}}))
	if outs := set.Classify(context.Background(), image); len(outs) != 0 || calls.Load() != 0 {
		t.Errorf("content the policy keeps away was sent: %+v", outs)
	}
}

// TestSetKeepsAnsweringWhenOneFails: one dead classifier gives an outcome
// with an error; the others' scores come back.
func TestSetKeepsAnsweringWhenOneFails(t *testing.T) {
	good := uniformServer(t, func(w http.ResponseWriter, req uniformRequest) {
		io.WriteString(w, `{"model":"g","results":[{"label":"x","score":0.8}]}`)
	})
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	set := NewSet(
		NewGuard("good", KindHTTP, good.URL, &HTTP{URL: good.URL}, GuardOptions{}),
		NewGuard("dead", KindHTTP, dead.URL, &HTTP{URL: dead.URL}, GuardOptions{}),
	)
	outs := set.Classify(context.Background(), image)
	if len(outs) != 2 || outs[0].Error != "" || len(outs[0].Scores) != 1 || outs[1].Error != "failed" || outs[1].Scores != nil {
		t.Fatalf("outcomes = %+v", outs)
	}
	if s := Scores(outs); len(s) != 1 || s[0].Score != 0.8 {
		t.Errorf("scores = %+v", s)
	}
}

// helperMode, set in the environment of the test binary run as a
// classifier command, says how it behaves.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("VIGIL_MEDIA_TYPE") == "" {
		return
	}
	mode := os.Args[len(os.Args)-1]
	in, _ := io.ReadAll(os.Stdin)
	switch mode {
	case "ok":
		fmt.Printf(`{"version":"proc-1","results":[{"label":"bytes","score":%g}]}`, float64(len(in)%10)/10)
	case "sleep":
		time.Sleep(time.Minute)
	case "flood":
		for {
			os.Stdout.Write(bytes.Repeat([]byte("x"), 64<<10))
		}
	case "exit":
		os.Exit(3)
	case "env":
		fmt.Printf(`{"results":[{"label":"env","score":%d}]}`, len(os.Environ())-1)
	}
	os.Exit(0)
}

func helper(mode string) *Process {
	return &Process{Command: []string{os.Args[0], "-test.run=^TestHelperProcess$", "--", mode}}
}

func TestProcess(t *testing.T) {
	ctx := context.Background()
	res, err := helper("ok").Classify(ctx, image)
	if err != nil || res.ModelVersion != "proc-1" || len(res.Labels) != 1 || res.Labels[0].Label != "bytes" {
		t.Fatalf("ok: %+v, %v", res, err)
	}
	// The command inherits no environment (no secrets of the server).
	if res, err := helper("env").Classify(ctx, image); err != nil || res.Labels[0].Score != 0 {
		t.Errorf("env: %+v, %v", res, err)
	}
	if _, err := helper("flood").Classify(ctx, image); !errors.Is(err, ErrBadReply) {
		t.Errorf("flood: %v, want bad reply", err)
	}
	if _, err := helper("exit").Classify(ctx, image); err == nil || !Retryable(err) {
		t.Errorf("exit: %v", err)
	}
	g := NewGuard("sleepy", KindProcess, "helper", helper("sleep"), GuardOptions{Timeout: 200 * time.Millisecond})
	if _, _, err := g.Classify(ctx, image); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("sleep: %v, want killed on timeout", err)
	}
}

func TestConfig(t *testing.T) {
	c, err := ParseFlag("pigeon=http:http://127.0.0.1:8900/v1/classify")
	if err != nil || c.Kind != KindHTTP || c.URL != "http://127.0.0.1:8900/v1/classify" || c.Secret.Env != "VIGIL_CLASSIFIER_SECRET_PIGEON" {
		t.Errorf("ParseFlag = %+v, %v", c, err)
	}
	if c, err := ParseFlag("local=process:/usr/bin/true"); err != nil || c.Command[0] != "/usr/bin/true" {
		t.Errorf("process flag = %+v, %v", c, err)
	}
	if c, err := ParseFlag("cs=google:"); err != nil || c.Kind != KindGoogle || c.URL != "" {
		t.Errorf("google flag = %+v, %v", c, err)
	}
	for _, bad := range []string{"nope", "x=http", "x=ftp:u", "X=http:http://a", "x=http:", "x=http:http://a/?key=s", "x=http:http://u:p@a/", "x=process:"} {
		if _, err := ParseFlag(bad); err == nil {
			t.Errorf("ParseFlag(%q) accepted", bad)
		}
	}
	dir := t.TempDir()
	os.WriteFile(dir+"/tok", []byte("file-secret\n"), 0o600)
	cfgs, err := ParseConfig(strings.NewReader(`
classifiers:
  - name: a
    kind: http
    url: http://a.example/v1/classify
    model: shieldgemma
    secret: {file: ` + dir + `/tok}
    timeout: 1500ms
    retries: 2
    breaker: {failures: 3, cooldown: 10s}
    policy: {media_types: [image/*, text/plain], sources: [match]}
    precision_floor: {min_score: 0.5, min_decisions: 10, min_precision: 0.4}
  - name: b
    kind: google
    secret: {env: B_KEY}
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfgs[0].Timeout != 1500*time.Millisecond || cfgs[0].Breaker.Failures != 3 || cfgs[0].Floor.MinDecisions != 10 {
		t.Errorf("config = %+v", cfgs[0])
	}
	set, err := Build(cfgs, Deps{Getenv: func(k string) string { return map[string]string{"B_KEY": "env-secret"}[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if h := set.Guards()[0].c.(*HTTP); h.Token != "file-secret" || h.Model != "shieldgemma" {
		t.Errorf("http adapter = %+v", h)
	}
	if g := set.Guards()[1].c.(*Google); g.Key != "env-secret" || set.Guards()[1].Endpoint() != GoogleURL {
		t.Errorf("google adapter = %+v", g)
	}
	flagged, _ := ParseFlag("pigeon-gw=http:http://a/v1/classify")
	env := map[string]string{"VIGIL_CLASSIFIER_SECRET_PIGEON_GW_FILE": dir + "/tok"}
	if set, err := Build([]Config{flagged}, Deps{Getenv: func(k string) string { return env[k] }}); err != nil || set.Guards()[0].c.(*HTTP).Token != "file-secret" {
		t.Errorf("flag classifier secret from _FILE: %v", err)
	}
	if _, err := Build(cfgs, Deps{Getenv: func(string) string { return "" }}); err == nil {
		t.Error("a named environment variable that is unset was accepted")
	}
	for _, bad := range []string{
		"classifiers:\n  - name: a\n    kind: http\n    url: http://a\n    bogus: 1\n",
		"classifiers:\n  - name: a\n    kind: http\n    url: http://a\n    secret: {env: A, file: /x}\n",
		"classifiers:\n  - name: a\n    kind: http\n    url: http://a\n    timeout: 2h\n",
		"classifiers:\n  - name: a\n    kind: http\n    url: http://a\n    policy: {media_types: [image]}\n",
		"",
	} {
		if _, err := ParseConfig(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseConfig(%q) accepted", bad)
		}
	}
	if _, err := Build([]Config{{Name: "a", Kind: KindHTTP, URL: "http://a"}, {Name: "a", Kind: KindHTTP, URL: "http://b"}}, Deps{}); err == nil {
		t.Error("a name configured twice was accepted")
	}
}

// metric returns the value of a gauge or counter of reg for a classifier
// (and outcome, if given).
func metric(t *testing.T, reg *prometheus.Registry, name, classifier, outcome string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "classifier" && l.GetValue() != classifier || l.GetName() == "outcome" && l.GetValue() != outcome {
					continue next
				}
			}
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return 0
}

// TestHTTPRequestEncoding: the hand-built media request is the JSON the
// encoder would make.
func TestHTTPRequestEncoding(t *testing.T) {
	h := &HTTP{Model: `m"1<`}
	got, err := h.request(Content{Data: []byte{0, 1, 2, 250, 251}, MediaType: "image/png"})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(uniformRequest{Model: h.Model, Input: uniformInput{MediaURL: "data:image/png;base64,AAEC+vs="}})
	if string(got) != string(want) {
		t.Errorf("request\n%s\nwant\n%s", got, want)
	}
}
