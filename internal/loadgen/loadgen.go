// Package loadgen sends a bounded load of HTTP requests over keep-alive
// connections and measures throughput, latency percentiles and the CPU the
// process spent per request. Its client is HTTP/1.1 over TCP (or TLS),
// with every request built before the load and written in one Write, and
// each response parsed into a reused buffer (client.go): it shares the
// cores of the server it loads, so it takes as little of them as it can. `vigil bench lookup` and the http package's
// load benchmark share it, so that their figures mean the same thing.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-oss/vigil/internal/cputime"
)

// Config is one load: Clients connections, each sending Bodies in turn
// until Requests have been sent in all or Duration has passed, whichever
// comes first.
type Config struct {
	URL string
	// URLs, if set, replaces URL with several targets (replicas of one
	// service): client i sends to URLs[i%len(URLs)], keeping its
	// connection, as a load balancer with connection affinity would.
	URLs    []string
	Header  http.Header // sent with every request (Authorization, Content-Type)
	Bodies  [][]byte    // request bodies, taken round-robin across clients
	Clients int
	// Requests bounds the count, Duration the time; at least one must be
	// set. Requests still in flight at Duration are waited for.
	Requests int
	Duration time.Duration
	// Check, if set, sees every 200 response body and says whether it
	// counts as matched; any other status is a failure.
	Check func(body []byte) (matched bool)
}

// Result is what a load measured. CPU is the whole process's: in-process
// servers and the load generator both count, as they share the machine.
type Result struct {
	Requests, Failed, Matched int
	Elapsed                   time.Duration
	CPU                       time.Duration
	P50, P90, P99, Max        time.Duration
	// FirstError is the first failure seen, for the report.
	FirstError error
}

// PerSecond is the throughput: requests answered per second of wall time.
func (r Result) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// CPUPerRequest is the process's CPU time per request.
func (r Result) CPUPerRequest() time.Duration {
	if r.Requests == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Requests)
}

// String is the result in one line.
func (r Result) String() string {
	return fmt.Sprintf("%d requests in %v: %.0f/s, p50 %v, p90 %v, p99 %v, max %v, CPU %v/request; %d matched, %d failed",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.PerSecond(), r.P50.Round(time.Microsecond), r.P90.Round(time.Microsecond),
		r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond), r.CPUPerRequest().Round(100*time.Nanosecond), r.Matched, r.Failed)
}

// Run sends the load and measures it. It stops early, with what it has,
// when ctx is done.
func Run(ctx context.Context, c Config) (Result, error) {
	if c.Clients <= 0 || len(c.Bodies) == 0 || c.Requests <= 0 && c.Duration <= 0 {
		return Result{}, errors.New("loadgen: needs clients, bodies and a bound in requests or time")
	}
	if c.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Duration)
		defer cancel()
	}
	urls := c.URLs
	if len(urls) == 0 {
		urls = []string{c.URL}
	}
	targets := make([]*target, len(urls))
	for i, u := range urls {
		t, err := newTarget(u, c.Header, c.Bodies)
		if err != nil {
			return Result{}, err
		}
		targets[i] = t
	}
	var next atomic.Int64 // requests handed out
	var mu sync.Mutex
	var res Result
	lat := make([]time.Duration, 0, max(c.Requests, 1024))
	var wg sync.WaitGroup
	cpu0, t0 := cputime.Process(), time.Now()
	for n := range c.Clients {
		cl := &client{t: targets[n%len(targets)]}
		wg.Go(func() {
			defer cl.close()
			mine := make([]time.Duration, 0, 1024)
			var failed, matched int
			var first error
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if c.Requests > 0 && i >= int64(c.Requests) {
					break
				}
				// The request is not bound to ctx: one in flight at the
				// deadline is answered and counted, not cut off.
				start := time.Now()
				status, body, err := cl.do(context.WithoutCancel(ctx), int(i%int64(len(c.Bodies))))
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("status %d: %.200s", status, body)
				}
				mine = append(mine, time.Since(start))
				if err != nil {
					failed++
					if first == nil {
						first = err
					}
				} else if c.Check != nil && c.Check(body) {
					matched++
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			res.Failed += failed
			res.Matched += matched
			if res.FirstError == nil {
				res.FirstError = first
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Elapsed, res.CPU = time.Since(t0), cputime.Process()-cpu0
	res.Requests = len(lat)
	if len(lat) > 0 {
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
		res.P50, res.P90, res.P99, res.Max = pct(0.50), pct(0.90), pct(0.99), lat[len(lat)-1]
	}
	return res, nil
}
