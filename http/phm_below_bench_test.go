package http_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/phmtest"
)

// belowFollow is the answers BenchmarkPHMVouchersBelow times after each
// batch.
const belowFollow = 8

// BenchmarkPHMVouchersBelow measures what a client can time of the
// server's work on a batch below its threshold: per op, a fresh account
// posts one batch of 16 vouchers holding either one voucher of a listed
// picture (pos: it opens, and is the account's first positive) or none
// (neg: an unlisted picture's in its place), all else equal, and then,
// while the worker processes the batch, posts belowFollow more vouchers
// of unlisted pictures one by one; those answers are timed on the server's
// side (from the request to the answer's flush) and the client's. Ops
// alternate pos and neg. It reports per kind the mean of the follow-up
// answers' sum, and the lean (pos − neg) of the means with its standard
// error and of the medians, both clocks. It uses only what main has too, so that the lead can build it
// against main and run both binaries in turns (docs/benchmarks.md,
// phm-slot); run it with -benchtime=Nx, N even.
func BenchmarkPHMVouchersBelow(b *testing.B) {
	w := &phmWorld{p: phm.DefaultParams, review: phmtest.ReviewKey(b), dir: b.TempDir()}
	w.real = append(w.real, pngOf(b, 80, 128))
	k, err := client.Keys(w.real[0])
	if err != nil {
		b.Fatal(err)
	}
	w.tbl = phmtest.NewTable(b, k[0])
	listed := prepareB(b, w.real[0])
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
	var srv, cli [2][]float64 // by kind (0 neg, 1 pos): µs of the follow-ups' answers, summed per op
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		pos := i % 2
		acct, err := client.NewAccount(rand.Reader, w.p, 0)
		if err != nil {
			b.Fatal(err)
		}
		batch := make([][]byte, 16)
		at := (i / 2) % len(batch)
		for j := range batch {
			c := unlisted[j%len(unlisted)]
			if j == at {
				c = unlisted[(j+1)%len(unlisted)]
				if pos == 1 {
					c = listed
				}
			}
			batch[j] = bw.voucher(b, acct, c)
		}
		follow := make([][]byte, belowFollow)
		for j := range follow {
			follow[j] = bw.voucher(b, acct, unlisted[(j+3)%len(unlisted)])
		}
		user := fmt.Sprintf("below-%d", i)
		b.StartTimer()
		if err := postAs(f.ts.URL, r.key, user, batch...); err != nil {
			b.Fatal(err)
		}
		<-f.took
		var s, c time.Duration
		for _, v := range follow {
			start := time.Now()
			if err := postAs(f.ts.URL, r.key, user, v); err != nil {
				b.Fatal(err)
			}
			c += time.Since(start)
			s += <-f.took
		}
		b.StopTimer()
		srv[pos] = append(srv[pos], float64(s.Microseconds()))
		cli[pos] = append(cli[pos], float64(c.Microseconds()))
		r.drain(b)
		b.StartTimer()
	}
	b.StopTimer()
	for _, m := range []struct {
		name string
		d    [2][]float64
	}{{"srv", srv}, {"cli", cli}} {
		mn, sn := meanSE(m.d[0])
		mp, sp := meanSE(m.d[1])
		b.ReportMetric(mn, m.name+"-neg-µs")
		b.ReportMetric(mp, m.name+"-pos-µs")
		b.ReportMetric(mp-mn, m.name+"-lean-µs")
		b.ReportMetric(math.Sqrt(sn*sn+sp*sp), m.name+"-lean-se-µs")
		// Medians too: the sums have a long tail on a loaded host.
		b.ReportMetric(median(m.d[1])-median(m.d[0]), m.name+"-lean-p50-µs")
	}
}

// median is the middle of xs (the mean of the two middle ones).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}

// meanSE is the mean of xs and its standard error.
func meanSE(xs []float64) (mean, se float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	if len(xs) < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(xs)-1) / float64(len(xs)))
}

// postAs sends a batch of user's with key and fails unless it is taken.
func postAs(base, key, user string, vouchers ...[]byte) error {
	req, err := http.NewRequest("POST", base+"/v1/phm/vouchers?user_id="+user, bytes.NewReader(bytes.Join(vouchers, nil)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := benchClient.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST: %d", resp.StatusCode)
	}
	return nil
}
