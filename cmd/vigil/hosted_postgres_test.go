package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/pgtest"
)

// TestLookupQuotaReplicasPostgres runs two `vigil serve` replicas on one
// PostgreSQL database: a lookup key's daily quota used up through A is
// refused through B, once A has flushed its count, and both replicas'
// counts add up in GET /v1/lookups.
func TestLookupQuotaReplicasPostgres(t *testing.T) {
	url := pgtest.SchemaURL(t)
	a := startServe(t, "--db", url, "--lookup-daily", "5")
	b := startServe(t, "--db", url, "--lookup-daily", "5")
	b.key = a.key
	var created struct {
		Key    vigil.Key
		Secret string
	}
	code, body := a.call("POST", "/v1/keys", "application/json", strings.NewReader(`{"name":"partner","role":"lookup"}`))
	if err := json.Unmarshal(body, &created); code != 201 || err != nil {
		t.Fatalf("create key: %d %s", code, body)
	}
	lookup := func(srv *served, n int) int {
		t.Helper()
		sigs := strings.TrimSuffix(strings.Repeat(`{"type":"md5","value":"0123456789abcdef0123456789abcdef"},`, n), ",")
		req, _ := http.NewRequest("POST", srv.base+"/v1/lookup", strings.NewReader(`{"signals":[`+sigs+`]}`))
		req.Header.Set("Authorization", "Bearer "+created.Secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	total := func() int64 {
		_, body := b.call("GET", "/v1/lookups?key_id="+jsonInt(created.Key.ID), "", nil)
		var got struct{ Counts []vigil.LookupCount }
		json.Unmarshal(body, &got)
		if len(got.Counts) != 1 {
			return 0
		}
		return got.Counts[0].Lookups
	}
	if code := lookup(b, 3); code != 200 {
		t.Fatalf("3 through B: %d", code)
	}
	waitFor(t, "B's count in the store", func() bool { return total() == 3 })
	// A's first lookup of the day reads the store: 3 of 5 are used.
	if code := lookup(a, 3); code != 429 {
		t.Errorf("3 more through A with 3 of 5 used at B: %d", code)
	}
	if code := lookup(a, 2); code != 200 {
		t.Errorf("the last 2 through A: %d", code)
	}
	waitFor(t, "A's count in the store", func() bool { return total() == 5 })
	// B learns A's 2 at its next flush; until then it may admit what the
	// README's bound allows. Each probe is one signal.
	over := 0
	waitFor(t, "B to refuse", func() bool {
		if lookup(b, 1) == 429 {
			return true
		}
		over++
		return false
	})
	// How many depends on the machine's speed within one flush interval
	// (the waitFor polls every 20 ms): logged, not asserted.
	t.Logf("B admitted %d signal(s) past the quota before its flush read A's count", over)
}

// TestLookupRateReplicasPostgres runs two `vigil serve` replicas on one
// PostgreSQL database and loads one rate-limited lookup key through both
// at once: together they admit no more than the key's rate over the
// window plus its burst, as one replica would. Each replica takes its
// share of the rate from the replicas live in the store.
func TestLookupRateReplicasPostgres(t *testing.T) {
	const rate, burst = 20, 4
	url := pgtest.SchemaURL(t)
	args := []string{"--db", url, "--lookup-rate", strconv.Itoa(rate), "--lookup-burst", strconv.Itoa(burst)}
	a := startServe(t, args...)
	b := startServe(t, args...)
	b.key = a.key
	var created struct {
		Key    vigil.Key
		Secret string
	}
	code, body := a.call("POST", "/v1/keys", "application/json", strings.NewReader(`{"name":"partner","role":"lookup"}`))
	if err := json.Unmarshal(body, &created); code != 201 || err != nil {
		t.Fatalf("create key: %d %s", code, body)
	}
	// Both replicas count each other once each has flushed after the
	// other started (one flush interval).
	for _, srv := range []*served{a, b} {
		waitFor(t, "two live replicas", func() bool {
			_, body := srv.call("GET", "/metrics", "", nil)
			return strings.Contains(string(body), "\nvigil_lookup_replicas 2\n")
		})
	}
	lookup := func(srv *served) int {
		req, _ := http.NewRequest("POST", srv.base+"/v1/lookup",
			strings.NewReader(`{"signals":[{"type":"md5","value":"0123456789abcdef0123456789abcdef"}]}`))
		req.Header.Set("Authorization", "Bearer "+created.Secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// Four clients, two on each replica, for the window. Every admission
	// happens between start and the end of the last request, so the
	// window measured covers them all however slow the machine.
	var admitted, refused atomic.Int64
	start := time.Now()
	stop := start.Add(2 * time.Second)
	var wg sync.WaitGroup
	for i := range 4 {
		srv := []*served{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				switch lookup(srv) {
				case 200:
					admitted.Add(1)
				case 429:
					refused.Add(1)
				default:
					t.Error("lookup neither admitted nor refused")
					return
				}
			}
		}()
	}
	wg.Wait()
	window := time.Since(start).Seconds()
	// The buckets may hold the burst between them when the window opens
	// (each its half) and refill at half the rate each within it; one
	// more for the rounding down of rate × window.
	limit := int64(rate*window) + burst + 1
	t.Logf("admitted %d, refused %d in %.2fs through two replicas; the bound is %d", admitted.Load(), refused.Load(), window, limit)
	if admitted.Load() > limit {
		t.Errorf("two replicas admitted %d lookups in %.2fs for a key of rate %d, burst %d: more than %d", admitted.Load(), window, rate, burst, limit)
	}
	if refused.Load() == 0 {
		t.Error("no lookup refused: the load did not reach the rate")
	}
}
