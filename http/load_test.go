package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"iter"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/loadgen"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/rules"
)

// BenchmarkLookupLoad is the load test of POST /v1/lookup, the go test
// form of `vigil bench lookup` (both send their load with
// internal/loadgen): a bank of VIGIL_LOAD_ENTRIES random PDQ hashes
// (default 1,000,000), then VIGIL_LOAD_CLIENTS concurrent keep-alive
// clients (default 8) on loopback sending one-signal lookups, at most
// VIGIL_LOAD_REQUESTS of them (default 100,000) for at most
// VIGIL_LOAD_SECONDS (default 10); a share VIGIL_LOAD_MATCH_PCT percent
// (default 50) is within 8 bits of a stored entry. With VIGIL_LOAD_RULES=
// default the server runs the default rules, which open a case at every
// match. It reports lookups/s, latency percentiles and the process's CPU
// per lookup. The load generator runs in the same process as the server,
// so both share the machine's cores, as the goal asks.
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
	requests := envInt("VIGIL_LOAD_REQUESTS", 100_000)
	seconds := envInt("VIGIL_LOAD_SECONDS", 10)
	matchPct := envInt("VIGIL_LOAD_MATCH_PCT", 50)

	ts := mustOpenServer(b)
	ctx := context.Background()
	if os.Getenv("VIGIL_LOAD_RULES") == "default" {
		if err := ts.Cases.CreateQueue(ctx, &vigil.Queue{Name: rules.DefaultQueue}); err != nil {
			b.Fatal(err)
		}
		if err := ts.Rules.ReplaceFileRules(ctx, rules.Default()); err != nil {
			b.Fatal(err)
		}
	}
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

	// Pre-encoded request bodies, so that the generator spends little CPU.
	bodies := make([][]byte, 4096)
	for i := range bodies {
		var q pdq.Hash
		if r.IntN(100) < matchPct {
			q = stored[r.IntN(n)]
			for _, bit := range r.Perm(256)[:8] {
				q[bit/8] ^= 1 << (bit % 8)
			}
		} else {
			for j := range q {
				q[j] = byte(r.Uint32())
			}
		}
		bodies[i], _ = json.Marshal(map[string]any{"signals": []map[string]string{{"type": "pdq", "value": q.String()}}})
	}
	cfg := loadgen.Config{
		URL:     ts.URL() + "/v1/lookup",
		Header:  http.Header{"Authorization": {"Bearer " + ts.keys[vigil.RoleMatcher]}, "Content-Type": {"application/json"}},
		Bodies:  bodies,
		Clients: clients,
		Check:   func(body []byte) bool { return bytes.Contains(body, []byte(`"entry_id"`)) },
	}
	warm := cfg
	warm.Requests, warm.Duration = 1000, time.Minute
	if _, err := loadgen.Run(ctx, warm); err != nil {
		b.Fatal(err)
	}
	cfg.Requests, cfg.Duration = requests, time.Duration(seconds)*time.Second
	b.ResetTimer()
	res, err := loadgen.Run(ctx, cfg)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(res.PerSecond(), "lookups/s")
	b.ReportMetric(float64(res.P50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(res.P90.Microseconds()), "p90-µs")
	b.ReportMetric(float64(res.P99.Microseconds()), "p99-µs")
	b.ReportMetric(float64(res.CPUPerRequest().Nanoseconds())/1000, "cpu-µs/lookup")
	b.Logf("%d clients: %v", clients, res)
	if res.Failed > 0 {
		b.Errorf("%d requests failed; first: %v", res.Failed, res.FirstError)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
