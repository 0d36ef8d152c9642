package http_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
)

// BenchmarkMatchClassifier measures what the classifier path adds to
// POST /v1/match: the same upload (a benign 129×300 PNG, no bank entries)
// to three servers, one without classifiers (the baseline), one with a
// local classifier that answers after 5 ms, and one with that classifier
// down and its breaker open. A classifier rule is present on all three
// (its floor is above the score, so no case opens). The servers take
// turns, ten rounds of b.N/10 requests each by eight keep-alive clients,
// so that a noisy machine weighs on all three alike; it reports each
// one's requests/s, p50 and p99.
//
//	go test -run XXX -bench MatchClassifier -benchtime 1000x -count 3 ./http/
func BenchmarkMatchClassifier(b *testing.B) {
	cls := slowClassifier(b, "csam")
	img := testImage(b)
	type target struct {
		name    string
		ts      *testServer
		lat     []time.Duration
		elapsed time.Duration
	}
	var targets []*target
	for _, tc := range []struct {
		name string
		opts []func(*vhttp.Server)
	}{
		{"without", nil},
		{"with", []func(*vhttp.Server){withClassifier(cls.URL+"/up", vigil.PrecisionFloor{})}},
		{"open", []func(*vhttp.Server){withClassifier(cls.URL+"/down", vigil.PrecisionFloor{})}},
	} {
		ts := mustOpenServer(b, tc.opts...)
		if code := ts.do(b, vigil.RoleAdmin, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "default"}), nil); code != 201 {
			b.Fatal("create queue")
		}
		rule := map[string]any{"name": "model-review", "when": map[string]any{"kind": "classifier", "classifier": "fake", "min_score": 0.8},
			"action": map[string]any{"type": "case", "queue": "default"}}
		if code := ts.do(b, vigil.RoleCurator, "POST", "/v1/rules", "", jsonBody(rule), nil); code != 201 {
			b.Fatal("create rule")
		}
		// Warm up; on "open", the failure opens the breaker (failures 1).
		ts.do(b, vigil.RoleMatcher, "POST", "/v1/match", "", bytes.NewReader(img), nil)
		targets = append(targets, &target{name: tc.name, ts: ts})
	}
	const clients, rounds = 8, 10
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var failed atomic.Int64
	run := func(t *target, n int) {
		url, auth := t.ts.URL()+"/v1/match", "Bearer "+t.ts.keys[vigil.RoleMatcher]
		var next atomic.Int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		t0 := time.Now()
		for range clients {
			wg.Go(func() {
				var mine []time.Duration
				for next.Add(1) <= int64(n) {
					req, _ := http.NewRequest("POST", url, bytes.NewReader(img))
					req.Header.Set("Authorization", auth)
					s := time.Now()
					resp, err := client.Do(req)
					if err != nil {
						failed.Add(1)
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mine = append(mine, time.Since(s))
					if resp.StatusCode != 200 {
						failed.Add(1)
					}
				}
				mu.Lock()
				t.lat = append(t.lat, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		t.elapsed += time.Since(t0)
	}
	b.ResetTimer()
	for range rounds {
		for _, t := range targets {
			run(t, max(b.N/rounds, 1))
		}
	}
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d requests failed", failed.Load())
	}
	for _, t := range targets {
		slices.Sort(t.lat)
		pct := func(p float64) time.Duration { return t.lat[min(len(t.lat)-1, int(p*float64(len(t.lat))))] }
		b.ReportMetric(float64(len(t.lat))/t.elapsed.Seconds(), t.name+"-req/s")
		b.ReportMetric(float64(pct(0.50).Microseconds()), t.name+"-p50-µs")
		b.ReportMetric(float64(pct(0.99).Microseconds()), t.name+"-p99-µs")
	}
	b.ReportMetric(0, "ns/op")
}

// slowClassifier is a local classifier of the uniform contract that
// answers label with score 0.1 after 5 ms, and 503 on /down; it closes
// when the benchmark ends.
func slowClassifier(b *testing.B, label string) *httptest.Server {
	cls := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(5 * time.Millisecond)
		if r.URL.Path == "/down" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"model":"bench","results":[{"label":"`+label+`","score":0.1}]}`)
	}))
	b.Cleanup(cls.Close)
	return cls
}
