package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"iter"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/pdq"
)

// BenchmarkLookupLoad is the load test of POST /v1/lookup: a bank of
// VIGIL_LOAD_ENTRIES random PDQ hashes (default 1,000,000), then
// VIGIL_LOAD_CLIENTS concurrent keep-alive clients (default 8) on loopback,
// each sending one-signal lookups for VIGIL_LOAD_SECONDS (default 10); one
// query in ten is within 10 bits of a stored entry. It reports lookups/s
// and latency percentiles. The load generator runs in the same process as
// the server, so both share the machine's cores, as the goal asks.
//
// It is skipped unless VIGIL_BENCH_LARGE=1:
//
//	VIGIL_BENCH_LARGE=1 go test -run XXX -bench LookupLoad -benchtime 1x ./http/
func BenchmarkLookupLoad(b *testing.B) {
	if os.Getenv("VIGIL_BENCH_LARGE") == "" {
		b.Skip("set VIGIL_BENCH_LARGE=1 to run the load test")
	}
	n := envInt("VIGIL_LOAD_ENTRIES", 1_000_000)
	clients := envInt("VIGIL_LOAD_CLIENTS", 8)
	seconds := envInt("VIGIL_LOAD_SECONDS", 10)

	ts := mustOpenServer(b)
	ctx := context.Background()
	bank := &vigil.Bank{Name: "load", Enabled: true}
	if err := ts.Banks.CreateBank(ctx, bank); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 9))
	stored := make([]pdq.Hash, n)
	for i := range stored {
		for j := range stored[i] {
			stored[i][j] = byte(r.Uint32())
		}
	}
	start := time.Now()
	seq := func(yield func(*vigil.Entry, error) bool) {
		for _, h := range stored {
			if !yield(&vigil.Entry{SignalType: vigil.SignalPDQ, Value: h.String(), Source: "load"}, nil) {
				return
			}
		}
	}
	if _, err := ts.Entries.ImportEntries(ctx, bank.ID, "bench", iter.Seq2[*vigil.Entry, error](seq)); err != nil {
		b.Fatal(err)
	}
	b.Logf("imported %d entries in %v", n, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := ts.Matcher.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	// A server's background compactor folds a big delta into the MIH
	// segment soon after an import; do it now rather than wait.
	ts.Matcher.(interface{ Compact() }).Compact()
	b.Logf("index refreshed and compacted in %v: %+v", time.Since(start).Round(time.Millisecond), ts.Matcher.Status().Types[vigil.SignalPDQ])

	// Pre-encode request bodies so the generator spends little CPU.
	bodies := make([][]byte, 4096)
	for i := range bodies {
		var q pdq.Hash
		if i%10 == 0 {
			q = stored[r.IntN(n)]
			for k := range 10 {
				q[k] ^= 1 << (k % 8)
			}
		} else {
			for j := range q {
				q[j] = byte(r.Uint32())
			}
		}
		bodies[i], _ = json.Marshal(map[string]any{"signals": []map[string]string{{"type": "pdq", "value": q.String()}}})
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	url := ts.URL() + "/v1/lookup"
	auth := "Bearer " + ts.keys[vigil.RoleMatcher]
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	var mu sync.Mutex
	var lat []time.Duration
	var matched, failed int
	b.ResetTimer()
	var wg sync.WaitGroup
	t0 := time.Now()
	for c := range clients {
		wg.Go(func() {
			var mine []time.Duration
			m, f := 0, 0
			for i := c; time.Now().Before(deadline); i += clients {
				req, _ := http.NewRequest("POST", url, bytes.NewReader(bodies[i%len(bodies)]))
				req.Header.Set("Authorization", auth)
				req.Header.Set("Content-Type", "application/json")
				s := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					f++
					continue
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(s))
				if resp.StatusCode != 200 {
					f++
				} else if bytes.Contains(data, []byte(`"entry_id"`)) {
					m++
				}
			}
			mu.Lock()
			lat, matched, failed = append(lat, mine...), matched+m, failed+f
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(t0)
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "lookups/s")
	b.ReportMetric(float64(pct(0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(pct(0.99).Microseconds()), "p99-µs")
	b.Logf("%d lookups by %d clients in %v: %.0f/s, p50 %v, p99 %v, max %v; %d matched, %d failed",
		len(lat), clients, elapsed.Round(time.Millisecond), float64(len(lat))/elapsed.Seconds(), pct(0.5), pct(0.99), lat[len(lat)-1], matched, failed)
	if failed > 0 {
		b.Errorf("%d requests failed", failed)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
