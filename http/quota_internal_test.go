package http

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/cputime"
)

// memCounter is a vigil.LookupCounter in memory, shared by the quotas of
// several "replicas".
type memCounter struct {
	mu    sync.Mutex
	m     map[[2]any]int64
	beats map[string]time.Time
}

func (c *memCounter) BeatReplica(ctx context.Context, replica string, now time.Time, live time.Duration) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.beats == nil {
		c.beats = map[string]time.Time{}
	}
	c.beats[replica] = now
	n := 0
	for _, at := range c.beats {
		if at.After(now.Add(-live)) {
			n++
		}
	}
	return n, nil
}

func (c *memCounter) ForgetReplica(ctx context.Context, replica string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.beats, replica)
	return nil
}

func (c *memCounter) AddLookups(ctx context.Context, counts []vigil.LookupCount) ([]vigil.LookupCount, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[[2]any]int64{}
	}
	out := make([]vigil.LookupCount, len(counts))
	for i, n := range counts {
		k := [2]any{n.KeyID, n.Day}
		c.m[k] += n.Lookups
		out[i], out[i].Lookups = n, c.m[k]
	}
	return out, nil
}

func (c *memCounter) LookupCounts(ctx context.Context, from, to string, keyID int64) ([]vigil.LookupCount, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []vigil.LookupCount
	for k, n := range c.m {
		if id, day := k[0].(int64), k[1].(string); (keyID == 0 || id == keyID) && day >= from && day <= to {
			out = append(out, vigil.LookupCount{KeyID: id, Day: day, Lookups: n})
		}
	}
	return out, nil
}

func (c *memCounter) total(id int64, day string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[[2]any{id, day}]
}

func testQuotas(c vigil.LookupCounter, now *time.Time) *quotas {
	q := newQuotas(prometheus.NewRegistry())
	q.counter, q.now = c, func() time.Time { return *now }
	return q
}

// TestQuotaDayTurns: counts of a day that ended before a flush go to that
// day, the new day starts from zero, and Retry-After runs to midnight UTC.
func TestQuotaDayTurns(t *testing.T) {
	ctx := context.Background()
	c := &memCounter{}
	now := time.Date(2026, 12, 3, 23, 59, 50, 0, time.UTC)
	q := testQuotas(c, &now)
	k := &vigil.Key{ID: 7, Role: vigil.RoleLookup, Limits: &vigil.KeyLimits{Daily: 10}}
	if r := q.admit(ctx, k, 10); r != nil {
		t.Fatalf("10 of 10: %+v", r)
	}
	r := q.admit(ctx, k, 1)
	if r == nil || r.limit != "daily" || r.after != 10*time.Second {
		t.Fatalf("past the quota: %+v", r)
	}
	now = now.Add(15 * time.Second) // 2026-12-04 00:00:05
	if r := q.admit(ctx, k, 4); r != nil {
		t.Fatalf("the next day: %+v", r)
	}
	if err := q.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if a, b := c.total(7, "2026-12-03"), c.total(7, "2026-12-04"); a != 10 || b != 4 {
		t.Errorf("stored %d on the 3rd, %d on the 4th", a, b)
	}
	// Nothing is counted twice by a second flush.
	if err := q.flush(ctx); err != nil {
		t.Fatal(err)
	}
	if a := c.total(7, "2026-12-03"); a != 10 {
		t.Errorf("after a second flush: %d", a)
	}
	// A local time zone changes nothing: days are UTC.
	now = time.Date(2026, 12, 4, 1, 0, 0, 0, time.FixedZone("UTC-5", -5*3600)) // 06:00 UTC
	if r := q.admit(ctx, k, 7); r == nil || r.after != 18*time.Hour {
		t.Errorf("4 + 7 of 10 at 06:00 UTC: %+v", r)
	}
}

// TestQuotaReplicas: two replicas on one store share the daily count;
// each admits against the total it last read plus its own, so a key
// overshoots by at most what the other admitted since its last flush.
func TestQuotaReplicas(t *testing.T) {
	ctx := context.Background()
	c := &memCounter{}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	a, b := testQuotas(c, &now), testQuotas(c, &now)
	k := &vigil.Key{ID: 1, Role: vigil.RoleLookup}
	a.defaults = vigil.KeyLimits{Daily: 100}
	b.defaults = a.defaults
	if r := a.admit(ctx, k, 60); r != nil {
		t.Fatal(r)
	}
	must(t, a.flush(ctx))
	// B reads the store on its first lookup of the day: 60 are used.
	if r := b.admit(ctx, k, 50); r == nil {
		t.Fatal("B admitted 50 with 60 of 100 used at A")
	}
	if r := b.admit(ctx, k, 40); r != nil {
		t.Fatal(r)
	}
	// Unflushed, A cannot see B's 40: the overshoot the README bounds.
	if r := a.admit(ctx, k, 30); r != nil {
		t.Fatal(r)
	}
	must(t, a.flush(ctx))
	must(t, b.flush(ctx))
	if n := c.total(1, "2026-12-03"); n != 130 {
		t.Fatalf("total %d", n)
	}
	// A's next flush reads B's 40 though A counted nothing since: then
	// both refuse.
	must(t, a.flush(ctx))
	if a.admit(ctx, k, 1) == nil || b.admit(ctx, k, 1) == nil {
		t.Error("a replica admitted past the flushed total")
	}
}

// TestQuotaRate: a burst, then one request per 1/rate, with Retry-After
// the time to the next token.
func TestQuotaRate(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	q := testQuotas(nil, &now)
	k := &vigil.Key{ID: 2, Role: vigil.RoleMatcher, Limits: &vigil.KeyLimits{Rate: 4, Burst: 2}}
	for i := range 2 {
		if r := q.admit(ctx, k, 1); r != nil {
			t.Fatalf("burst %d: %+v", i, r)
		}
	}
	if r := q.admit(ctx, k, 0); r == nil || r.limit != "rate" || r.after != 250*time.Millisecond {
		t.Fatalf("empty bucket: %+v", r)
	}
	now = now.Add(100 * time.Millisecond)
	if r := q.admit(ctx, k, 1); r == nil || r.after != 150*time.Millisecond {
		t.Fatalf("0.4 tokens: %+v", r)
	}
	now = now.Add(150 * time.Millisecond)
	if r := q.admit(ctx, k, 1); r != nil {
		t.Fatalf("a token back: %+v", r)
	}
	// Unlimited keys are counted, never refused.
	free := &vigil.Key{ID: 3, Role: vigil.RoleMatcher}
	for range 1000 {
		if r := q.admit(ctx, free, 1000); r != nil {
			t.Fatal(r)
		}
	}
}

// TestQuotaRateReplicas: replicas on one store divide a key's rate and
// burst among those that beat within the live window, so that together
// they admit what one would; one that stops beating is forgotten.
func TestQuotaRateReplicas(t *testing.T) {
	ctx := context.Background()
	c := &memCounter{}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	a, b := testQuotas(c, &now), testQuotas(c, &now)
	k := &vigil.Key{ID: 4, Role: vigil.RoleLookup, Limits: &vigil.KeyLimits{Rate: 10, Burst: 6}}
	must(t, a.flush(ctx))
	must(t, b.flush(ctx))
	must(t, a.flush(ctx)) // A learns of B
	if a.share() != 2 || b.share() != 2 {
		t.Fatalf("shares %d and %d, want 2", a.share(), b.share())
	}
	// Both hammered every 10 ms for 10 s: at most 10/s and a burst of 6
	// between them, each taking its half.
	admitted := [2]int{}
	for range 1000 {
		for i, q := range []*quotas{a, b} {
			if q.admit(ctx, k, 1) == nil {
				admitted[i]++
			}
		}
		now = now.Add(10 * time.Millisecond)
	}
	if got := admitted[0] + admitted[1]; got > 10*10+6 || got < 10*10 {
		t.Errorf("two replicas admitted %v in 10 s of a 10/s burst 6 key", admitted)
	}
	if admitted[0] != admitted[1] {
		t.Errorf("uneven shares %v", admitted)
	}
	// A retry after the refusal's Retry-After finds a token at B's share.
	r := b.admit(ctx, k, 1)
	for ; r == nil; r = b.admit(ctx, k, 1) {
	}
	if r.after > 200*time.Millisecond || r.after <= 0 {
		t.Fatalf("empty bucket at half of 10/s: %+v", r)
	}
	now = now.Add(r.after + time.Microsecond) // after is truncated to the ns
	if r := b.admit(ctx, k, 1); r != nil {
		t.Errorf("after Retry-After: %+v", r)
	}
	// A stops: B counts it until it has been silent for the live window,
	// then takes the whole rate.
	must(t, a.flush(ctx))
	now = now.Add(b.live - time.Millisecond)
	must(t, b.flush(ctx))
	if b.share() != 2 {
		t.Errorf("A silent within the window: share %d", b.share())
	}
	now = now.Add(2 * time.Millisecond)
	must(t, b.flush(ctx))
	if b.share() != 1 {
		t.Errorf("A silent past the window: share %d", b.share())
	}
	n := 0
	for range 100 {
		if b.admit(ctx, k, 1) == nil {
			n++
		}
		now = now.Add(10 * time.Millisecond)
	}
	if n < 10 || n > 10+6 {
		t.Errorf("alone for 1 s, B admitted %d of a 10/s burst 6 key", n)
	}
	// A back, then stopping: B takes the whole rate at its next flush.
	must(t, a.flush(ctx))
	must(t, b.flush(ctx))
	if b.share() != 2 {
		t.Fatalf("A back: share %d", b.share())
	}
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	a.run(stopped, time.Hour) // its last flush, then it leaves
	must(t, b.flush(ctx))
	if b.share() != 1 {
		t.Errorf("A stopped: share %d", b.share())
	}
}

// BenchmarkQuotaAdmit measures the quota check of one lookup request
// (the pre-check and the admission), against an unlimited key's
// counting, from parallel clients on one key; limited-3-replicas
// divides the rate as a replica with two others live does. The limits
// are far above what the benchmark can reach: it measures the check, not
// refusals.
func BenchmarkQuotaAdmit(b *testing.B) {
	ctx := context.Background()
	limited := &vigil.KeyLimits{Rate: 1e12, Burst: 1 << 40, Daily: 1 << 50}
	for _, tc := range []struct {
		name     string
		key      *vigil.Key
		replicas int64
	}{
		{"counted", &vigil.Key{ID: 1, Role: vigil.RoleMatcher}, 0},
		{"limited", &vigil.Key{ID: 2, Role: vigil.RoleLookup, Limits: limited}, 0},
		{"limited-3-replicas", &vigil.Key{ID: 2, Role: vigil.RoleLookup, Limits: limited}, 3},
	} {
		b.Run(tc.name, func(b *testing.B) {
			q := newQuotas(prometheus.NewRegistry())
			q.replicas.Store(tc.replicas)
			b.ReportAllocs()
			cpu := cputime.Process()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if q.admit(ctx, tc.key, 0) != nil || q.admit(ctx, tc.key, 1) != nil {
						panic("refused")
					}
				}
			})
			if cpu > 0 {
				b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
