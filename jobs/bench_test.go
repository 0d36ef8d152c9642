package jobs_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
)

// BenchmarkContentJob measures small images end to end through the
// queue: spool, insert, fetch, hash, match, record the result, delete the
// spool file. Its baseline, BenchmarkContentDirect, hashes and matches the
// same image in the calling goroutine, as POST /v1/match does.
func BenchmarkContentJob(b *testing.B) {
	e := mustOpenEnv(b)
	img := gradientPNG(b, 1)
	e.listImage(b, img)
	cfg := e.config(nil)
	cfg.PollInterval = 10 * time.Millisecond
	c := mustOpenClient(b, cfg, true)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	ids := make([]int64, 0, b.N)
	for range b.N {
		j, err := c.SubmitContent(ctx, bytes.NewReader(img), vigil.ContentJobOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	for _, id := range ids {
		if j := waitJob(b, c, id); j.State != vigil.JobCompleted {
			b.Fatalf("job %+v", j)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

func BenchmarkContentDirect(b *testing.B) {
	e := mustOpenEnv(b)
	img := gradientPNG(b, 1)
	e.listImage(b, img)
	ctx := context.Background()
	h := hashing.NewHasher(hashing.Options{Limits: hashing.Limits{MaxBytes: 1 << 20}})
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		res, err := h.HashReader(bytes.NewReader(img))
		if err != nil {
			b.Fatal(err)
		}
		results, err := e.matcher.Lookup(ctx, res.Signals(), vigil.MatchOptions{})
		if err != nil || len(results[0].Matches) != 1 {
			b.Fatalf("%v %v", results, err)
		}
		if err := vigil.KeepSeen(ctx, e.signals, res.Signals(), time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
