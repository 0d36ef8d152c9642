package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/banklist"
	"github.com/vigil-oss/vigil/internal/peakmem"
)

// writePDQList writes a text list of random PDQ hashes of about size
// bytes and returns its path.
func writePDQList(tb testing.TB, size int64) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "pdq.txt")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	rng := rand.New(rand.NewPCG(3, 4))
	for n := int64(0); n < size; n += 65 {
		fmt.Fprintf(w, "%016x%016x%016x%016x\n", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkImportMemory imports generated PDQ lists of 10 MB (the
// baseline) and 30 MB (about 480,000 hashes) into an empty bank, store
// only, and reports the peak Go heap in use and the peak resident set:
// equal peaks at both sizes mean the import streams.
//
//	go test -run '^$' -bench BenchmarkImportMemory -benchtime 1x ./sqlite/
func BenchmarkImportMemory(b *testing.B) {
	for _, size := range []int64{10 << 20, 30 << 20} {
		b.Run(fmt.Sprintf("MB=%d", size>>20), func(b *testing.B) {
			path := writePDQList(b, size)
			ctx := context.Background()
			for range b.N {
				db, err := Open(ctx, b.TempDir(), nil)
				if err != nil {
					b.Fatal(err)
				}
				bank := &vigil.Bank{Name: "bench"}
				if err := NewBankService(db).CreateBank(ctx, bank); err != nil {
					b.Fatal(err)
				}
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				var res vigil.ImportResult
				peak := peakmem.Measure(0, func() {
					r := banklist.NewReader(f, banklist.Options{SignalType: vigil.SignalPDQ})
					res, err = NewEntryService(db).ImportEntries(ctx, bank.ID, "bench", r.All())
				})
				f.Close()
				db.Close()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(res.Added), "entries")
				b.ReportMetric(float64(peak.HeapInuse)/(1<<20), "heap-MiB")
				b.ReportMetric(float64(peak.RSS)/(1<<20), "rss-MiB")
			}
		})
	}
}
