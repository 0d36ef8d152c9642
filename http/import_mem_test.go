package http_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/peakmem"
)

// BenchmarkImportMemory posts a generated 30 MB PDQ list (about 480,000
// hashes) to POST /v1/banks/{name}/import, the index refresh after it
// included, and reports the peak Go heap in use and the peak resident set
// of the process (client and server).
//
//	go test -run '^$' -bench BenchmarkImportMemory -benchtime 1x ./http/
func BenchmarkImportMemory(b *testing.B) {
	const size = 30 << 20
	path := filepath.Join(b.TempDir(), "pdq.txt")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	rng := rand.New(rand.NewPCG(3, 4))
	n := 0
	for ; n*65 < size; n++ {
		fmt.Fprintf(w, "%016x%016x%016x%016x\n", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	for range b.N {
		ts := mustOpenServer(b)
		if code := ts.do(b, vigil.RoleCurator, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": "big"}), nil); code != 201 {
			b.Fatalf("create bank %d", code)
		}
		body, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		var res vigil.ImportResult
		var code int
		peak := peakmem.Measure(0, func() {
			code = ts.do(b, vigil.RoleCurator, "POST", "/v1/banks/big/import?signal_type=pdq", "text/plain", body, &res)
		})
		body.Close()
		if code != 200 || res.Added != n {
			b.Fatalf("import: status %d, %+v, want %d added", code, res, n)
		}
		b.ReportMetric(float64(res.Added), "entries")
		b.ReportMetric(float64(peak.HeapInuse)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(peak.RSS)/(1<<20), "rss-MiB")
		// What the PDQ index itself holds after the import, for scale.
		b.ReportMetric(float64(ts.Matcher.Status().Types[vigil.SignalPDQ].Bytes)/(1<<20), "index-MiB")
	}
}
