package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/banklist"
	"github.com/vigil-oss/vigil/internal/cputime"
)

// benchEntries is the size of the list BenchmarkImport imports:
// VIGIL_BENCH_ENTRIES, or a million.
func benchEntries(b *testing.B) int {
	if s := os.Getenv("VIGIL_BENCH_ENTRIES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 1_000_000
}

var benchList struct {
	once sync.Once
	path string
	err  error
}

// benchListFile writes, once per run, a text list of n random PDQ hashes.
func benchListFile(b *testing.B, n int) string {
	benchList.once.Do(func() {
		dir, err := os.MkdirTemp("", "vigil-bench")
		if err != nil {
			benchList.err = err
			return
		}
		benchList.path = filepath.Join(dir, "pdq.txt")
		f, err := os.Create(benchList.path)
		if err != nil {
			benchList.err = err
			return
		}
		defer f.Close()
		w := bufio.NewWriter(f)
		rng := rand.New(rand.NewPCG(1, 2))
		fmt.Fprintln(w, "# benchmark list: random PDQ hashes")
		for range n {
			fmt.Fprintf(w, "%016x%016x%016x%016x\n", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())
		}
		benchList.err = w.Flush()
	})
	if benchList.err != nil {
		b.Fatal(benchList.err)
	}
	return benchList.path
}

// BenchmarkImport imports a text list of random PDQ hashes into an empty
// bank, parsing included, with the store's multi-row batches and, as the
// baseline, with one row per INSERT (still one transaction and a prepared
// statement). It reports entries/s.
//
//	go test -run '^$' -bench BenchmarkImport -benchtime 1x ./sqlite/
func BenchmarkImport(b *testing.B) {
	n := benchEntries(b)
	path := benchListFile(b, n)
	for _, bc := range []struct {
		name  string
		batch int
	}{
		{"rowwise", 1},
		{"batch=64", 64},
		{fmt.Sprintf("batch=%d", defaultImportBatch), defaultImportBatch},
		{"batch=1024", 1024},
	} {
		b.Run(fmt.Sprintf("entries=%d/%s", n, bc.name), func(b *testing.B) {
			ctx := context.Background()
			var cpu time.Duration
			for range b.N {
				b.StopTimer()
				db, err := Open(ctx, b.TempDir(), nil)
				if err != nil {
					b.Fatal(err)
				}
				db.importBatch = bc.batch
				bank := &vigil.Bank{Name: "bench"}
				if err := NewBankService(db).CreateBank(ctx, bank); err != nil {
					b.Fatal(err)
				}
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				cpu0 := cputime.Process()

				r := banklist.NewReader(f, banklist.Options{SignalType: vigil.SignalPDQ, Source: "bench"})
				res, err := NewEntryService(db).ImportEntries(ctx, bank.ID, "bench", r.All())
				if err != nil {
					b.Fatal(err)
				}
				if res.Added != n {
					b.Fatalf("added %d of %d", res.Added, n)
				}

				cpu += cputime.Process() - cpu0
				b.StopTimer()
				f.Close()
				db.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			if cpu > 0 {
				b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "entries/cpu-s")
			}
		})
	}
}

// BenchmarkForEachActiveEntry measures how fast a matcher can load its
// index from the store.
func BenchmarkForEachActiveEntry(b *testing.B) {
	n := benchEntries(b)
	ctx := context.Background()
	db, err := Open(ctx, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	bank := &vigil.Bank{Name: "bench"}
	if err := NewBankService(db).CreateBank(ctx, bank); err != nil {
		b.Fatal(err)
	}
	entries := NewEntryService(db)
	if _, err := entries.ImportEntries(ctx, bank.ID, "bench", pdqEntries(0, n)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		seen := 0
		if _, err := entries.ForEachActiveEntry(ctx, vigil.SignalPDQ, func(*vigil.Entry) error {
			seen++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if seen != n {
			b.Fatalf("saw %d of %d", seen, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
