package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	vigil "github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/cputime"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
)

// BenchmarkInboxIntake measures the inbox worker's processing of one
// batch of 16 vouchers (drain: open, the store's transactions, the inbox
// rows deleted) in a fresh account, below the threshold, at the default
// parameters: 16 vouchers of unlisted pictures (miss), or 15 of them and
// one of a listed picture, the account's first positive (hit). It reports
// wall time and the process's CPU time per voucher, the drain alone on
// both clocks (the vouchers are made and stored off them). It uses only
// what main has too, so that the lead can build it against main and run
// both binaries in turns (docs/benchmarks.md, phm-slot).
func BenchmarkInboxIntake(b *testing.B) {
	p := phm.DefaultParams
	listed := pngBytes(b, picture(840, 96))
	f, s := newFixture(b, p, 0, sha256Key(b, listed))
	s.Inbox = NewInbox(s.Store.(vigil.PHMInbox), 0)
	hit := prepare(b, listed)
	var miss []*client.Content
	for i := range 4 {
		miss = append(miss, prepare(b, pngBytes(b, picture(850+i, 96))))
	}
	ctx := context.Background()
	const batch = 16
	n := 0
	for _, kind := range []string{"miss", "hit"} {
		b.Run(kind, func(b *testing.B) {
			var cpu, wall time.Duration
			for i := 0; i < b.N; i++ {
				vs := make([][]byte, batch)
				for j := range vs {
					c := miss[j%len(miss)]
					if kind == "hit" && j == i%batch {
						c = hit
					}
					vs[j] = f.voucher(b, s, c)
				}
				n++
				if err := s.Inbox.Store.AppendPHMInbox(ctx, fmt.Sprintf("%s-%d", kind, n), vs, 0); err != nil {
					b.Fatal(err)
				}
				start, c0 := time.Now(), cputime.Process()
				if _, err := s.drain(ctx); err != nil {
					b.Fatal(err)
				}
				cpu += cputime.Process() - c0
				wall += time.Since(start)
			}
			if d, _, err := s.Inbox.Store.PHMInboxDepth(ctx); err != nil || d != 0 {
				b.Fatalf("inbox depth %d after the drains, %v", d, err)
			}
			b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N*batch), "wall-ns/voucher")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*batch), "cpu-ns/voucher")
		})
	}
}
