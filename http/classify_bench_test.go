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
// without classifiers, with a local classifier that answers after 5 ms,
// and with that classifier down and its breaker open. A classifier rule
// is present in every case (its floor is above the score, so no case
// opens). Eight keep-alive clients; it reports requests/s, p50 and p99.
//
//	go test -run XXX -bench MatchClassifier -benchtime 2000x -count 3 ./http/
func BenchmarkMatchClassifier(b *testing.B) {
	var down atomic.Bool
	cls := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(5 * time.Millisecond)
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"model":"bench","results":[{"label":"csam","score":0.1}]}`)
	}))
	defer cls.Close()
	img := testImage(b)
	for _, bc := range []struct {
		name string
		opts []func(*vhttp.Server)
		down bool
	}{
		{"without", nil, false},
		{"with-5ms", []func(*vhttp.Server){withClassifier(cls.URL, vigil.PrecisionFloor{})}, false},
		{"breaker-open", []func(*vhttp.Server){withClassifier(cls.URL, vigil.PrecisionFloor{})}, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			down.Store(bc.down)
			ts := mustOpenServer(b, bc.opts...)
			if code := ts.do(b, vigil.RoleAdmin, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "default"}), nil); code != 201 {
				b.Fatal("create queue")
			}
			rule := map[string]any{"name": "model-review", "when": map[string]any{"kind": "classifier", "classifier": "fake", "min_score": 0.8},
				"action": map[string]any{"type": "case", "queue": "default"}}
			if code := ts.do(b, vigil.RoleCurator, "POST", "/v1/rules", "", jsonBody(rule), nil); code != 201 {
				b.Fatal("create rule")
			}
			if bc.down {
				// One failure opens the breaker (withClassifier: failures 1).
				ts.do(b, vigil.RoleMatcher, "POST", "/v1/match", "", bytes.NewReader(img), nil)
			}
			const clients = 8
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
			url, auth := ts.URL()+"/v1/match", "Bearer "+ts.keys[vigil.RoleMatcher]
			var next atomic.Int64
			var mu sync.Mutex
			var lat []time.Duration
			failed := atomic.Int64{}
			b.ResetTimer()
			t0 := time.Now()
			var wg sync.WaitGroup
			for range clients {
				wg.Go(func() {
					var mine []time.Duration
					for next.Add(1) <= int64(b.N) {
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
					lat = append(lat, mine...)
					mu.Unlock()
				})
			}
			wg.Wait()
			elapsed := time.Since(t0)
			b.StopTimer()
			if failed.Load() > 0 || len(lat) == 0 {
				b.Fatalf("%d requests failed", failed.Load())
			}
			slices.Sort(lat)
			pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(pct(0.50).Microseconds()), "p50-µs")
			b.ReportMetric(float64(pct(0.99).Microseconds()), "p99-µs")
		})
	}
}
