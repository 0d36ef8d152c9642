package postgres_test

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

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
