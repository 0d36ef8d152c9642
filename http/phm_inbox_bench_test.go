package http_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/internal/cputime"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/phmtest"
)

// benchWorld is newPHMWorld at the default parameters (t = 30, s = 60:
// vouchers of 17,069 bytes) with the pictures prepared once: t+1 listed
// ones to recover an account, benchMatches more for the matches after
// (a device vouchers a picture once: a repeat opens nothing).
type benchWorld struct {
	*phmWorld
	real, unlisted []*client.Content
}

// benchRounds is the rounds of each mode BenchmarkPHMVouchers/answer runs.
const benchRounds = 5

// benchMatches bounds the ops of BenchmarkPHMVouchers/answer (one new
// listed picture each, in every round of a mode): run it with -benchtime
// of at most 40x.
const benchMatches = benchRounds * 41

func newBenchWorld(b *testing.B) *benchWorld {
	w := &phmWorld{p: phm.DefaultParams, review: phmtest.ReviewKey(b), dir: b.TempDir()}
	bw := &benchWorld{phmWorld: w}
	var keys []phm.Key
	for i := range w.p.T + 1 + benchMatches {
		w.real = append(w.real, pngOf(b, 80+i, 128))
		k, err := client.Keys(w.real[i])
		if err != nil {
			b.Fatal(err)
		}
		keys = append(keys, k[0])
		bw.real = append(bw.real, prepareB(b, w.real[i]))
	}
	for i := range 8 {
		bw.unlisted = append(bw.unlisted, prepareB(b, pngOf(b, 500+i, 128)))
	}
	w.tbl = phmtest.NewTable(b, keys...)
	return bw
}

func prepareB(b *testing.B, data []byte) *client.Content {
	c, err := client.Prepare(data, hashing.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// voucher is a voucher of c from acct, an account that makes no
// synthetic vouchers.
func (w *benchWorld) voucher(b *testing.B, acct *client.Account, c *client.Content) []byte {
	v, err := acct.NewVoucher(w.tbl, w.review.PublicKey(), c, "att", rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// post sends a batch and fails b unless it is taken.
func (r *phmRun) post(b *testing.B, vouchers ...[]byte) {
	if err := r.postErr(vouchers...); err != nil {
		b.Fatal(err)
	}
}

func (r *phmRun) postErr(vouchers ...[]byte) error { return r.postTo(r.srv.URL(), vouchers...) }

func (r *phmRun) postTo(base string, vouchers ...[]byte) error {
	return postAs(base, r.key, "user-7", vouchers...)
}

// front serves a run's server behind a handler that times, per request,
// the server's side alone: from the request to the answer's flush (or
// the handler's end, where it does not flush), without the client.
type front struct {
	ts   *httptest.Server
	took chan time.Duration
}

func newFront(b *testing.B, r *phmRun) *front {
	f := &front{took: make(chan time.Duration, 1)}
	f.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ft := &flushTimer{ResponseWriter: w, start: time.Now()}
		r.srv.ServeHTTP(ft, req)
		if ft.at.IsZero() {
			ft.at = time.Now()
		}
		f.took <- ft.at.Sub(ft.start)
	}))
	b.Cleanup(f.ts.Close)
	return f
}

type flushTimer struct {
	http.ResponseWriter
	start, at time.Time
}

func (f *flushTimer) Flush() {
	if f.at.IsZero() {
		f.at = time.Now()
	}
	if fl, ok := f.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

func (r *phmRun) caseCount(b *testing.B) int {
	cs, err := r.cases.ListCases(context.Background(), vigil.CaseFilter{})
	if err != nil {
		b.Fatal(err)
	}
	return len(cs)
}

// drain waits, off the clock, until the worker has processed all the
// inbox holds (nothing to wait for without an inbox).
func (r *phmRun) drain(b *testing.B) {
	if r.srv.PHM.Inbox == nil {
		return
	}
	for r.depth(b) > 0 {
		time.Sleep(time.Millisecond)
	}
	// The worker's last commit is visible before it is done with the
	// store (SQLite checkpoints the log after a commit, on the writer):
	// let it finish, so that the next answer does not wait for it.
	time.Sleep(settle)
}

// settle is the wait after the inbox empties, off the clock.
const settle = 30 * time.Millisecond

func quantile(d []time.Duration, q float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[int(q*float64(len(s)-1))].Microseconds())
}

// BenchmarkPHMVouchers measures POST /v1/phm/vouchers against an account
// already past its threshold, sync being the route without an inbox
// (each voucher processed before the answer, as on main) and inbox the
// route that answers once the batch is stored.
//
// answer posts, per op, one voucher of a listed picture (it opens, is
// revealed, second-checked and handed to the detection flow) and one of
// an unlisted one (it opens nothing), in alternating order, and reports
// each kind's answer time (p50, p90). The worker's processing is waited
// for, off the clock, after each answer, so that it does not slow the
// next one.
//
// ingest posts batches of 16 vouchers of unlisted pictures from many
// clients at once and reports vouchers/s; for inbox the worker is
// stopped, so that the figure is the inbox's intake alone.
func BenchmarkPHMVouchers(b *testing.B) {
	w := newBenchWorld(b)
	// One store per mode, each recovered the same way.
	runs := map[string]*phmRun{}
	fronts := map[string]*front{}
	accts := map[string]*client.Account{}
	for _, mode := range []string{"sync", "inbox"} {
		acct, err := client.NewAccount(rand.Reader, w.p, 0)
		if err != nil {
			b.Fatal(err)
		}
		accts[mode] = acct
		ww := *w.phmWorld
		ww.dir = b.TempDir()
		max := -1
		if mode == "inbox" {
			max = 1 << 30
		}
		g := newGate()
		close(g.release)
		ctx, cancel := context.WithCancel(context.Background())
		r := ww.startWith(b, ctx, cancel, max, g)
		for _, c := range w.real[:w.p.T+1] {
			r.post(b, w.voucher(b, acct, c))
		}
		r.drain(b)
		// The case is opened on the worker's hand-off grid, after the
		// batch (phm/server's HandOffEvery).
		for deadline := time.Now().Add(time.Minute); r.caseCount(b) == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if n := r.caseCount(b); n != 1 {
			b.Fatalf("%s: %d cases after recovery", mode, n)
		}
		runs[mode] = r
		fronts[mode] = newFront(b, r)
	}
	// Rounds of the two modes in turn, so that both see the same load.
	next := map[string]int{"sync": w.p.T + 1, "inbox": w.p.T + 1} // the next listed picture not vouchered yet
	for round := range benchRounds {
		for _, mode := range []string{"sync", "inbox"} {
			r, f := runs[mode], fronts[mode]
			b.Run(fmt.Sprintf("answer/%s/round%d", mode, round+1), func(b *testing.B) {
				if next[mode]+b.N > len(w.real) {
					b.Fatalf("%d ops: more than the %d listed pictures left", b.N, len(w.real)-next[mode])
				}
				var match, other, matchCPU, otherCPU, matchSrv, otherSrv []time.Duration
				for i := range b.N {
					b.StopTimer()
					mv, ov := w.voucher(b, accts[mode], w.real[next[mode]]), w.voucher(b, accts[mode], w.unlisted[i%len(w.unlisted)])
					next[mode]++
					b.StartTimer()
					for j := range 2 {
						v, into, cpu, srv := mv, &match, &matchCPU, &matchSrv
						if (i+j)%2 == 1 {
							v, into, cpu, srv = ov, &other, &otherCPU, &otherSrv
						}
						start, c0 := time.Now(), cputime.Process()
						if err := r.postTo(f.ts.URL, v); err != nil {
							b.Fatal(err)
						}
						*into = append(*into, time.Since(start))
						*cpu = append(*cpu, cputime.Process()-c0)
						*srv = append(*srv, <-f.took)
						b.StopTimer()
						r.drain(b)
						b.StartTimer()
					}
				}
				b.ReportMetric(quantile(match, 0.5), "match-p50-µs")
				b.ReportMetric(quantile(match, 0.9), "match-p90-µs")
				b.ReportMetric(quantile(other, 0.5), "nomatch-p50-µs")
				b.ReportMetric(quantile(other, 0.9), "nomatch-p90-µs")
				b.ReportMetric(quantile(matchCPU, 0.5), "match-cpu-p50-µs")
				b.ReportMetric(quantile(otherCPU, 0.5), "nomatch-cpu-p50-µs")
				b.ReportMetric(quantile(matchSrv, 0.5), "match-srv-p50-µs")
				b.ReportMetric(quantile(matchSrv, 0.9), "match-srv-p90-µs")
				b.ReportMetric(quantile(otherSrv, 0.5), "nomatch-srv-p50-µs")
				b.ReportMetric(quantile(otherSrv, 0.9), "nomatch-srv-p90-µs")
			})
		}
	}
	batch := make([][]byte, 16)
	for i := range batch {
		batch[i] = w.voucher(b, accts["sync"], w.unlisted[i%len(w.unlisted)])
	}
	for round := range 3 {
		for _, mode := range []string{"sync", "inbox"} {
			b.Run(fmt.Sprintf("ingest/%s/round%d", mode, round+1), func(b *testing.B) {
				r := runs[mode]
				if mode == "inbox" {
					// A run of its own, its worker stopped once started.
					ww := *w.phmWorld
					ww.dir = b.TempDir()
					ctx, cancel := context.WithCancel(context.Background())
					g := newGate()
					close(g.release)
					r = ww.startWith(b, ctx, cancel, 1<<30, g)
					cancel()
				}
				b.SetParallelism(4)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := r.postErr(batch...); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "vouchers/s")
			})
		}
	}
}
