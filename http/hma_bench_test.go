package http_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// BenchmarkHMALookup measures PDQ lookups through the HMA routes
// (/m/raw_lookup, /m/lookup by signal) against /v1/lookup, the in-run
// baseline, over a real listener on one bank of $VIGIL_BENCH_ENTRIES
// random PDQ entries (default 100000). Each query is an entry with 8 bits
// flipped, so every lookup matches. It reports, per route, requests/s and
// the p99 latency of one client sending requests back to back.
func BenchmarkHMALookup(b *testing.B) {
	n := 100000
	if v := os.Getenv("VIGIL_BENCH_ENTRIES"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	ts := mustOpenHMA(b)
	ctx := context.Background()
	bank := &vigil.Bank{Name: "bench", Enabled: true}
	if err := ts.Banks.CreateBank(ctx, bank); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	hashes := make([][32]byte, n)
	for i := range hashes {
		for j := range hashes[i] {
			hashes[i][j] = byte(rng.Uint32())
		}
	}
	seq := iter.Seq2[*vigil.Entry, error](func(yield func(*vigil.Entry, error) bool) {
		for i := range hashes {
			if !yield(&vigil.Entry{SignalType: vigil.SignalPDQ, Value: hex.EncodeToString(hashes[i][:])}, nil) {
				return
			}
		}
	})
	if _, err := ts.Entries.ImportEntries(ctx, bank.ID, "bench", seq); err != nil {
		b.Fatal(err)
	}
	if err := ts.Matcher.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	queries := make([]string, 1024)
	for i := range queries {
		h := hashes[rng.IntN(n)]
		for k := 0; k < 8; k++ {
			bit := rng.IntN(256)
			h[bit/8] ^= 1 << (bit % 8)
		}
		queries[i] = hex.EncodeToString(h[:])
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	key := "Bearer " + ts.keys[vigil.RoleMatcher]
	send := func(b *testing.B, req *http.Request) {
		req.Header.Set("Authorization", key)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(body, []byte("distance")) && !bytes.Contains(body, []byte("matches")) {
			b.Fatalf("status %d body %q", resp.StatusCode, body)
		}
	}
	routes := []struct {
		name string
		req  func(q string) *http.Request
	}{
		{"v1_lookup", func(q string) *http.Request {
			r, _ := http.NewRequest("POST", ts.URL()+"/v1/lookup", strings.NewReader(`{"signals":[{"type":"pdq","value":"`+q+`"}]}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
		{"hma_raw_lookup", func(q string) *http.Request {
			r, _ := http.NewRequest("GET", ts.URL()+"/m/raw_lookup?include_distance=true&signal_type=pdq&signal="+q, nil)
			return r
		}},
		{"hma_lookup", func(q string) *http.Request {
			r, _ := http.NewRequest("GET", ts.URL()+"/m/lookup?signal_type=pdq&signal="+q, nil)
			return r
		}},
	}
	// The routes take turns within each iteration, so that they share
	// whatever else the machine is doing; each route's requests/s is
	// 1 / its mean latency.
	b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
		lat := make([][]time.Duration, len(routes))
		for i := 0; i < b.N; i++ {
			for k := range routes {
				rt := routes[(i+k)%len(routes)]
				t0 := time.Now()
				send(b, rt.req(queries[i%len(queries)]))
				lat[(i+k)%len(routes)] = append(lat[(i+k)%len(routes)], time.Since(t0))
			}
		}
		for k, rt := range routes {
			l := lat[k]
			var sum time.Duration
			for _, d := range l {
				sum += d
			}
			slices.Sort(l)
			b.ReportMetric(float64(len(l))/sum.Seconds(), rt.name+"-req/s")
			b.ReportMetric(float64(l[len(l)*99/100].Microseconds()), rt.name+"-p99-µs")
		}
	})
}
