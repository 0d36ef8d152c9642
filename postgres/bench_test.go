package postgres_test

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/postgres"
	"github.com/vigil-oss/vigil/sqlite"
)

// benchEntries is the number of entries the benchmarks import:
// VIGIL_BENCH_ENTRIES, or 100 000.
func benchEntries(b *testing.B) int {
	if s := os.Getenv("VIGIL_BENCH_ENTRIES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 100_000
}

// pdqEntries yields n random PDQ entries, the same ones for every seed.
func pdqEntries(seed uint64, n int) iter.Seq2[*vigil.Entry, error] {
	return func(yield func(*vigil.Entry, error) bool) {
		rng := rand.New(rand.NewPCG(seed, 2))
		for i := range n {
			e := &vigil.Entry{SignalType: vigil.SignalPDQ, Source: "bench", SourceEntryID: strconv.Itoa(i),
				Value: fmt.Sprintf("%016x%016x%016x%016x", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())}
			if !yield(e, nil) {
				return
			}
		}
	}
}

// benchStore is a store's bank, entry and feed services.
type benchStore struct {
	banks   vigil.BankService
	entries vigil.EntryService
	subs    vigil.SubscriptionService
}

// openBench opens an empty store: SQLite in a temporary directory (the
// baseline) or PostgreSQL in a fresh schema.
func openBench(b *testing.B, kind string) benchStore {
	ctx := context.Background()
	if kind == "sqlite" {
		db, err := sqlite.Open(ctx, b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return benchStore{sqlite.NewBankService(db), sqlite.NewEntryService(db), sqlite.NewFeedService(db)}
	}
	db := MustOpenDB(b)
	return benchStore{postgres.NewBankService(db), postgres.NewEntryService(db), postgres.NewFeedService(db)}
}

// BenchmarkImport imports random PDQ entries into an empty bank: SQLite's
// multi-row INSERTs as the baseline, PostgreSQL's COPY. Both are one
// transaction. It reports entries/s.
//
//	scripts/with-postgres go test -run '^$' -bench BenchmarkImport -benchtime 1x ./postgres/
func BenchmarkImport(b *testing.B) {
	n := benchEntries(b)
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(fmt.Sprintf("entries=%d/%s", n, kind), func(b *testing.B) {
			ctx := context.Background()
			for range b.N {
				b.StopTimer()
				s := openBench(b, kind)
				bank := &vigil.Bank{Name: "bench"}
				if err := s.banks.CreateBank(ctx, bank); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res, err := s.entries.ImportEntries(ctx, bank.ID, "bench", pdqEntries(1, n))
				if err != nil {
					b.Fatal(err)
				}
				if res.Added != n {
					b.Fatalf("added %d of %d", res.Added, n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkCatchUp measures a replica whose index holds base entries
// catching up on n more that another replica imported: Refresh, which
// applies the changed entries only, against the baseline of a full Load
// of a new index (what a replica that reloads on change would do). base
// is VIGIL_BENCH_BASE, or 4n.
//
//	scripts/with-postgres go test -run '^$' -bench BenchmarkCatchUp -benchtime 1x ./postgres/
func BenchmarkCatchUp(b *testing.B) {
	n, base := benchEntries(b), 4*benchEntries(b)
	if s := os.Getenv("VIGIL_BENCH_BASE"); s != "" {
		var err error
		if base, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	logger := slog.New(slog.DiscardHandler)
	for _, how := range []string{"reload", "refresh"} {
		b.Run(fmt.Sprintf("base=%d/changes=%d/%s", base, n, how), func(b *testing.B) {
			ctx := context.Background()
			for range b.N {
				b.StopTimer()
				url := MustSchemaURL(b)
				a, r := MustOpen(b, url), MustOpen(b, url)
				bank := &vigil.Bank{Name: "bench", Enabled: true}
				if err := postgres.NewBankService(a).CreateBank(ctx, bank); err != nil {
					b.Fatal(err)
				}
				if _, err := postgres.NewEntryService(a).ImportEntries(ctx, bank.ID, "bench", pdqEntries(3, base)); err != nil {
					b.Fatal(err)
				}
				m := matcher.New(postgres.NewBankService(r), postgres.NewEntryService(r), logger)
				if err := m.Load(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := postgres.NewEntryService(a).ImportEntries(ctx, bank.ID, "bench", pdqEntries(1, n)); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if how == "refresh" {
					if err := m.Refresh(ctx); err != nil {
						b.Fatal(err)
					}
				} else {
					m = matcher.New(postgres.NewBankService(r), postgres.NewEntryService(r), logger)
					if err := m.Load(ctx); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if got := m.Status().Types[vigil.SignalPDQ].Entries; got != base+n {
					b.Fatalf("index holds %d of %d", got, base+n)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/catch-up")
		})
	}
}

// BenchmarkFindKeyBySecret is the store lookup of every authenticated
// request, SQLite (the baseline) against PostgreSQL over loopback.
//
//	scripts/with-postgres go test -run '^$' -bench BenchmarkFindKeyBySecret ./postgres/
func BenchmarkFindKeyBySecret(b *testing.B) {
	ctx := context.Background()
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			var keys vigil.KeyService
			if kind == "sqlite" {
				db, err := sqlite.Open(ctx, b.TempDir(), nil)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { db.Close() })
				keys = sqlite.NewKeyService(db)
			} else {
				keys = postgres.NewKeyService(MustOpenDB(b))
			}
			secret, err := keys.CreateKey(ctx, &vigil.Key{Name: "bench", Role: vigil.RoleMatcher})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := keys.FindKeyBySecret(ctx, secret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyBatch is a subscriber applying a feed batch of 5,000
// additions (ApplyBatch: per change, the mapping lookup, the INSERT and
// the mapping INSERT), on SQLite and on PostgreSQL, each against the
// baseline of AddEntries of the same entries on the same store. It
// reports entries/s.
//
//	scripts/with-postgres go test -run '^$' -bench BenchmarkApplyBatch -benchtime 10x ./postgres/
func BenchmarkApplyBatch(b *testing.B) {
	const batch = 5000
	for _, kind := range []string{"sqlite", "postgres"} {
		for _, op := range []string{"AddEntries", "ApplyBatch"} {
			b.Run(kind+"/"+op, func(b *testing.B) {
				ctx := context.Background()
				s := openBench(b, kind)
				bank := &vigil.Bank{Name: "bench", Enabled: true}
				if err := s.banks.CreateBank(ctx, bank); err != nil {
					b.Fatal(err)
				}
				sub := &vigil.Subscription{URL: "http://publisher/v1/feeds/bench", Feed: "bench", Key: "k", BankID: bank.ID}
				if err := s.subs.CreateSubscription(ctx, sub); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := range b.N {
					b.StopTimer()
					changes := make([]vigil.FeedChange, batch)
					entries := make([]*vigil.Entry, batch)
					for j := range changes {
						id := int64(i*batch + j + 1)
						v := fmt.Sprintf("%032x", id)
						changes[j] = vigil.FeedChange{Op: vigil.FeedAdd, Bank: "bench", ID: id, SignalType: vigil.SignalMD5, Value: v}
						entries[j] = &vigil.Entry{SignalType: vigil.SignalMD5, Value: v, Source: "feed:bench", SourceEntryID: strconv.FormatInt(id, 10)}
					}
					b.StartTimer()
					var res vigil.ImportResult
					var err error
					if op == "ApplyBatch" {
						res, err = s.subs.ApplyBatch(ctx, sub.ID, int64(i+1), "h", changes)
					} else {
						res, err = s.entries.AddEntries(ctx, bank.ID, "bench", entries)
					}
					if err != nil {
						b.Fatal(err)
					}
					if res.Added != batch {
						b.Fatalf("added %d of %d", res.Added, batch)
					}
				}
				b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			})
		}
	}
}

// rssBytes returns the process's resident set size, from /proc, after
// giving freed memory back to the OS.
func rssBytes(b *testing.B) int64 {
	runtime.GC()
	debug.FreeOSMemory()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status:", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// BenchmarkReplicaLoad imports n random PDQ entries (VIGIL_BENCH_ENTRIES)
// through replica A with COPY, then starts replica B's index on them: it
// reports the import's entries/s, B's load time and its resident memory
// before (the baseline: the process with no index) and after the load.
// Meanwhile A adds one entry every 100 ms, and the slowest of those adds
// is reported: B's load must not hold A's writes up. B's load progress
// (what /readyz shows) is logged every 10 s.
//
//	PG_DURABLE=1 VIGIL_BENCH_ENTRIES=10000000 scripts/with-postgres \
//	    go test -run '^$' -bench BenchmarkReplicaLoad -benchtime 1x -timeout 2h -v ./postgres/
func BenchmarkReplicaLoad(b *testing.B) {
	n := benchEntries(b)
	logger := slog.New(slog.DiscardHandler)
	b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
		ctx := context.Background()
		for range b.N {
			b.StopTimer()
			url := MustSchemaURL(b)
			a := MustOpen(b, url)
			bank := &vigil.Bank{Name: "bench", Enabled: true}
			if err := postgres.NewBankService(a).CreateBank(ctx, bank); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if _, err := postgres.NewEntryService(a).ImportEntries(ctx, bank.ID, "bench", pdqEntries(7, n)); err != nil {
				b.Fatal(err)
			}
			imported := time.Since(start)
			b.ReportMetric(float64(n)/imported.Seconds(), "import-entries/s")
			b.Logf("imported %d entries with COPY in %v", n, imported.Round(time.Millisecond))

			r := MustOpen(b, url)
			before := rssBytes(b)
			m := matcher.New(postgres.NewBankService(r), postgres.NewEntryService(r), logger)
			done := make(chan struct{})
			var slowest time.Duration
			var adds int
			var wg sync.WaitGroup
			wg.Go(func() {
				es := postgres.NewEntryService(a)
				rng := rand.New(rand.NewPCG(11, 11))
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-done:
						return
					case <-tick.C:
					}
					e := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: fmt.Sprintf("%016x%016x%016x%016x", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())}
					t0 := time.Now()
					if _, err := es.AddEntries(ctx, bank.ID, "bench", []*vigil.Entry{e}); err != nil {
						b.Error(err)
						return
					}
					slowest = max(slowest, time.Since(t0))
					adds++
				}
			})
			wg.Go(func() {
				tick := time.NewTicker(10 * time.Second)
				defer tick.Stop()
				for {
					select {
					case <-done:
						return
					case <-tick.C:
						if l := m.Status().Loading; l != nil {
							b.Logf("loading: %d of about %d entries", l.EntriesLoaded, l.EntriesTotal)
						}
					}
				}
			})
			start = time.Now()
			b.StartTimer()
			err := m.Load(ctx)
			b.StopTimer()
			loadTook := time.Since(start)
			close(done)
			wg.Wait()
			if err != nil {
				b.Fatal(err)
			}
			after := rssBytes(b)
			st := m.Status().Types[vigil.SignalPDQ]
			// The adds that committed before the load's final catch-up are
			// in; the rest come with the next refresh.
			if err := m.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
			if got := m.Status().Types[vigil.SignalPDQ].Entries; got != n+adds {
				b.Fatalf("index holds %d entries, want %d imported + %d added during the load", got, n, adds)
			}
			b.ReportMetric(loadTook.Seconds(), "load-s")
			b.ReportMetric(float64(before)/(1<<20), "rss-before-MiB")
			b.ReportMetric(float64(after)/(1<<20), "rss-after-MiB")
			b.ReportMetric(float64(st.Bytes)/(1<<20), "index-MiB")
			b.ReportMetric(float64(slowest.Milliseconds()), "slowest-add-during-load-ms")
			b.Logf("load %v; RSS %d MiB before, %d MiB after; %d adds through A during the load, slowest %v",
				loadTook.Round(time.Millisecond), before>>20, after>>20, adds, slowest)
		}
	})
}
