package http_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/phmtest"
)

// tickWindow is how long after the hand-off grid's tick
// BenchmarkPHMTickAnswers keeps timing answers, and tickLead how long
// before it it starts.
const (
	tickWindow = 300 * time.Millisecond
	tickLead   = 30 * time.Millisecond
	// tickSpacing is the pause between two of those answers.
	tickSpacing = 10 * time.Millisecond
)

// BenchmarkPHMTickAnswers measures what a client can time of the worker's
// tick after a batch that crosses its account's threshold: per op, a
// fresh account holds t pending positives (posted and settled off the
// clock), then posts one voucher, of a listed picture (pos: the crossing;
// the next tick recovers, reveals, second-checks and opens the case) or
// of an unlisted one (neg: nothing crosses; the tick is a dummy one), and
// then posts vouchers of unlisted pictures one by one from tickLead
// before the grid's next tick (benchGrid, on the
// clock) to tickWindow after it, tickSpacing apart, timing each answer on the server's side
// (request to flush) and the client's. Ops alternate pos and neg. It
// reports per kind the mean sum and the mean slowest of the answers in
// the window, and the lean (pos − neg) with its standard error. It uses
// only what main has too (on main the crossing's work is in the batch,
// and the tick after it hands on, while after neg nothing runs), so that
// the lead can build it against main and run both binaries in turns; run
// it with -benchtime=Nx, N even.
// benchGrid is the hand-off grid of the server the benchmark times: the
// phm world's testGrid (a constant of its own, so that this file builds
// in older trees too, whose inbox ticked at 1 s by default).
const benchGrid = time.Second

func BenchmarkPHMTickAnswers(b *testing.B) {
	w := &phmWorld{p: phm.DefaultParams, review: phmtest.ReviewKey(b), dir: b.TempDir()}
	for i := range w.p.T + 1 {
		w.real = append(w.real, pngOf(b, 80+i, 128))
	}
	var keys []phm.Key
	var listed []*client.Content
	for _, d := range w.real {
		k, err := client.Keys(d)
		if err != nil {
			b.Fatal(err)
		}
		keys = append(keys, k[0])
		listed = append(listed, prepareB(b, d))
	}
	w.tbl = phmtest.NewTable(b, keys...)
	var unlisted []*client.Content
	for i := range 8 {
		unlisted = append(unlisted, prepareB(b, pngOf(b, 500+i, 128)))
	}
	g := newGate()
	close(g.release)
	ctx, cancel := context.WithCancel(context.Background())
	r := w.startWith(b, ctx, cancel, 1<<30, g)
	f := newFront(b, r)
	bw := &benchWorld{phmWorld: w}
	grid := benchGrid
	// afterTick waits, off the clock, past the grid's next tick and its
	// work.
	afterTick := func() {
		next := time.Now().Truncate(grid).Add(grid)
		time.Sleep(time.Until(next) + tickWindow)
	}
	var sum, slow, cli [2][]float64 // by kind (0 neg, 1 pos), µs
	cases := r.caseCount(b)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		pos := i % 2
		acct, err := client.NewAccount(rand.Reader, w.p, 0)
		if err != nil {
			b.Fatal(err)
		}
		user := fmt.Sprintf("tick-%d", i)
		var below [][]byte
		for _, c := range listed[:w.p.T] {
			below = append(below, bw.voucher(b, acct, c))
		}
		probe := bw.voucher(b, acct, unlisted[i%len(unlisted)])
		if pos == 1 {
			probe = bw.voucher(b, acct, listed[w.p.T])
		}
		var follow [][]byte
		for j := range 64 {
			follow = append(follow, bw.voucher(b, acct, unlisted[(j+3)%len(unlisted)]))
		}
		for len(below) > 0 { // in batches of 16: the route's body limit
			k := min(len(below), 16)
			if err := postAs(f.ts.URL, r.key, user, below[:k]...); err != nil {
				b.Fatal(err)
			}
			<-f.took
			below = below[k:]
		}
		r.drain(b)
		afterTick()
		if err := postAs(f.ts.URL, r.key, user, probe); err != nil {
			b.Fatal(err)
		}
		<-f.took
		r.drain(b)
		tick := time.Now().Truncate(grid).Add(grid)
		if time.Until(tick) < tickLead {
			tick = tick.Add(grid) // too close: time the tick after
		}
		time.Sleep(time.Until(tick) - tickLead)
		b.StartTimer()
		var s, c, m time.Duration
		for j := 0; time.Now().Before(tick.Add(tickWindow)); j++ {
			if j == len(follow) {
				b.Fatalf("more than %d answers in the window", len(follow))
			}
			start := time.Now()
			if err := postAs(f.ts.URL, r.key, user, follow[j]); err != nil {
				b.Fatal(err)
			}
			c += time.Since(start)
			took := <-f.took
			s += took
			m = max(m, took)
			time.Sleep(tickSpacing)
		}
		b.StopTimer()
		sum[pos] = append(sum[pos], float64(s.Microseconds()))
		slow[pos] = append(slow[pos], float64(m.Microseconds()))
		cli[pos] = append(cli[pos], float64(c.Microseconds()))
		r.drain(b)
		afterTick()
		if got := r.caseCount(b); got != cases+pos {
			b.Fatalf("op %d (pos %d): %d cases, want %d", i, pos, got, cases+pos)
		}
		cases += pos
		b.StartTimer()
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		d    [2][]float64
	}{{"srv-sum", sum}, {"srv-max", slow}, {"cli-sum", cli}} {
		mn, sn := meanSE(m.d[0])
		mp, sp := meanSE(m.d[1])
		b.ReportMetric(mn, m.name+"-neg-µs")
		b.ReportMetric(mp, m.name+"-pos-µs")
		b.ReportMetric(mp-mn, m.name+"-lean-µs")
		b.ReportMetric(math.Sqrt(sn*sn+sp*sp), m.name+"-lean-se-µs")
		b.ReportMetric(median(m.d[1])-median(m.d[0]), m.name+"-lean-p50-µs")
	}
}
