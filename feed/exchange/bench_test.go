package exchange_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/banklist"
	"github.com/vigil-oss/vigil/feed/ncmec"
	"github.com/vigil-oss/vigil/feed/stopncii"
	"github.com/vigil-oss/vigil/feed/threatexchange"
	"github.com/vigil-oss/vigil/internal/cputime"
	"github.com/vigil-oss/vigil/sqlite"
)

// benchN is the entries of each fake feed and list: 100,000 unless
// VIGIL_BENCH_EXCHANGE_N says otherwise.
func benchN(b *testing.B) int {
	if v := os.Getenv("VIGIL_BENCH_EXCHANGE_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1000 {
			b.Fatalf("VIGIL_BENCH_EXCHANGE_N=%q", v)
		}
		return n
	}
	return 100000
}

func md5Hex(i int) string { return fmt.Sprintf("%032x", i+1) }

type benchStore struct {
	entries   vigil.EntryService
	exchanges vigil.ExchangeService
	bankID    int64
	close     func() error
}

func openBench(b *testing.B) *benchStore {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	bank := &vigil.Bank{Name: "bench"}
	if err := sqlite.NewBankService(db).CreateBank(ctx, bank); err != nil {
		b.Fatal(err)
	}
	return &benchStore{entries: sqlite.NewEntryService(db), exchanges: sqlite.NewExchangeService(db), bankID: bank.ID, close: db.Close}
}

// pagedServer serves pages[i] for ?page=i (the first without it).
func pagedServer(b *testing.B, pages [][]byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := 0
		for _, k := range []string{"page", "start", "nextPageToken"} {
			if v := r.URL.Query().Get(k); v != "" {
				i, _ = strconv.Atoi(v)
			}
		}
		if i < 0 || i >= len(pages) {
			http.Error(w, "no page", http.StatusBadRequest)
			return
		}
		w.Write(pages[i])
	}))
	b.Cleanup(srv.Close)
	return srv
}

func ncmecPages(n, per int) [][]byte {
	var pages [][]byte
	for start := 0; start < n; start += per {
		var sb strings.Builder
		sb.WriteString(`<?xml version="1.0" encoding="UTF-8"?><queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2"><images count="1000" maxTimestamp="2017-10-24T15:10:00Z">`)
		for i := start; i < min(n, start+per); i++ {
			fmt.Fprintf(&sb, `<image><member id="42">Example Member</member><timestamp>2017-10-24T15:00:00Z</timestamp><id>image%d</id><classification>A1</classification><fingerprints><md5>%s</md5><pdna>a1a1a1</pdna></fingerprints></image>`, i, md5Hex(i))
		}
		sb.WriteString(`</images>`)
		if start+per < n {
			fmt.Fprintf(&sb, `<paging><next>/v2/entries?from=x&amp;to=y&amp;start=%d&amp;size=1000&amp;max=%d</next></paging>`, len(pages)+1, n)
		}
		sb.WriteString(`</queryResult>`)
		pages = append(pages, []byte(sb.String()))
	}
	return pages
}

func tePages(base string, n, per int) [][]byte {
	var pages [][]byte
	for start := 0; start < n; start += per {
		var data []any
		for i := start; i < min(n, start+per); i++ {
			data = append(data, map[string]any{"id": strconv.Itoa(i + 1), "indicator": md5Hex(i), "type": "HASH_MD5", "last_updated": 1600000000 + i, "should_delete": false,
				"descriptors": map[string]any{"data": []any{map[string]any{"id": strconv.Itoa(i*10 + 1), "owner": map[string]any{"id": "5"}, "tags": []string{"csam"}, "status": "MALICIOUS"}}}})
		}
		body := map[string]any{"data": data}
		if start+per < n {
			body["paging"] = map[string]any{"next": fmt.Sprintf("%s/1/threat_updates/?page=%d", base, len(pages)+1)}
		}
		b, _ := json.Marshal(body)
		pages = append(pages, b)
	}
	return pages
}

func stopnciiPages(n, per int) [][]byte {
	var pages [][]byte
	for start := 0; start < n; start += per {
		p := stopncii.Page{NextSetTimestamp: 1700000000}
		for i := start; i < min(n, start+per); i++ {
			p.HashRecords = append(p.HashRecords, stopncii.Record{SignalType: "VideoMD5", HashValue: md5Hex(i), HashStatus: "Active"})
		}
		if start+per < n {
			p.HasMoreRecords, p.NextPageToken = true, strconv.Itoa(len(pages)+1)
		}
		p.Count = len(p.HashRecords)
		b, _ := json.Marshal(p)
		pages = append(pages, b)
	}
	return pages
}

// listFile writes a list of n MD5 entries in a format.
func listFile(b *testing.B, format string, n int) string {
	var sb strings.Builder
	switch format {
	case "text":
		for i := range n {
			sb.WriteString(md5Hex(i) + "\n")
		}
	case "csv":
		sb.WriteString("signal_type,value,source,source_entry_id,category\n")
		for i := range n {
			fmt.Fprintf(&sb, "md5,%s,ncmec,42-image%d,A1\n", md5Hex(i), i)
		}
	case "hma":
		sb.WriteString("signal_type,signal_str,collab,category,tags\n")
		for i := range n {
			fmt.Fprintf(&sb, "video_md5,%s,TX Collab,POSITIVE_CLASS,csam\n", md5Hex(i))
		}
	}
	path := b.TempDir() + "/list." + format
	if err := os.WriteFile(path, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkExchanges measures entries/s parsed and applied into an empty
// SQLite bank from a fake feed of each exchange over loopback HTTP, and
// from each list format; the baseline is `vigil bank import` of a text
// list and of a CSV list (banklist → ImportEntries) in the same run.
//
//	go test -run '^$' -bench BenchmarkExchanges -benchtime 1x ./feed/exchange/
func BenchmarkExchanges(b *testing.B) {
	n := benchN(b)
	ctx := context.Background()
	fast := func(context.Context, time.Duration) error { return nil }
	// The fake servers run in this process, so CPU time counts both ends
	// of the HTTP exchange: entries/cpu-s is the fairer comparison on a
	// loaded machine, and the wall rate the one a user sees.
	run := func(b *testing.B, entries int, fn func(s *benchStore) int) {
		var cpu time.Duration
		for range b.N {
			b.StopTimer()
			s := openBench(b)
			b.StartTimer()
			cpu0 := cputime.Process()
			if got := fn(s); got != entries {
				b.Fatalf("applied %d of %d", got, entries)
			}
			cpu += cputime.Process() - cpu0
			b.StopTimer()
			s.close()
			b.StartTimer()
		}
		b.ReportMetric(float64(entries)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		if cpu > 0 {
			b.ReportMetric(float64(entries)*float64(b.N)/cpu.Seconds(), "entries/cpu-s")
		}
	}
	for _, format := range []string{"text", "csv", "hma"} {
		path := listFile(b, format, n)
		name := "import/" + format
		if format != "hma" {
			name += "(baseline)"
		}
		b.Run(name, func(b *testing.B) {
			run(b, n, func(s *benchStore) int {
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				res, err := s.entries.ImportEntries(ctx, s.bankID, "bench", banklist.NewReader(f, banklist.Options{SignalType: vigil.SignalMD5}).All())
				if err != nil {
					b.Fatal(err)
				}
				return res.Added
			})
		})
	}
	b.Run("import/vpdq-files", func(b *testing.B) {
		// n/100 videos of 100 frames each, one file per video.
		videos := n / 100
		files := make([]string, videos)
		for v := range videos {
			var sb strings.Builder
			for f := range 100 {
				fmt.Fprintf(&sb, "%d,100,%064x,%.3f\n", f, v*100+f+1, float64(f))
			}
			files[v] = sb.String()
		}
		run(b, videos, func(s *benchStore) int {
			added := 0
			for i, file := range files {
				r := banklist.NewReader(io.NopCloser(strings.NewReader(file)), banklist.Options{SourceEntryID: strconv.Itoa(i)})
				res, err := s.entries.ImportEntries(ctx, s.bankID, "bench", r.All())
				if err != nil {
					b.Fatal(err)
				}
				added += res.Added
			}
			return added
		})
	})
	b.Run("sync/ncmec", func(b *testing.B) {
		srv := pagedServer(b, ncmecPages(n, 1000))
		c := &ncmec.Client{BaseURL: srv.URL, Username: "u", Password: "p", Sleep: fast}
		run(b, n, func(s *benchStore) int {
			res, err := ncmec.Sync(ctx, c, s.entries, s.exchanges, s.bankID, ncmec.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return res.Added
		})
	})
	b.Run("sync/threatexchange", func(b *testing.B) {
		var pages [][]byte
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			i, _ := strconv.Atoi(r.URL.Query().Get("page"))
			w.Write(pages[i])
		}))
		defer srv.Close()
		pages = tePages(srv.URL, n, threatexchange.PageSize)
		c := &threatexchange.Client{BaseURL: srv.URL, Token: "1|t", Sleep: fast}
		run(b, n, func(s *benchStore) int {
			res, err := threatexchange.Sync(ctx, c, s.entries, s.exchanges, s.bankID, "1", threatexchange.Options{})
			if err != nil {
				b.Fatal(err)
			}
			return res.Added
		})
	})
	b.Run("sync/stopncii", func(b *testing.B) {
		srv := pagedServer(b, stopnciiPages(n, stopncii.DefaultPage))
		c := &stopncii.Client{BaseURL: srv.URL, SubscriptionKey: "s", FetchKey: "f", Sleep: fast}
		run(b, n, func(s *benchStore) int {
			res, err := stopncii.Sync(ctx, c, s.entries, s.exchanges, s.bankID, "bench")
			if err != nil {
				b.Fatal(err)
			}
			return res.Added
		})
	})
	b.Run("parse/ncmec-page", func(b *testing.B) {
		page := ncmecPages(1000, 1000)[0]
		cpu0 := cputime.Process()
		for range b.N {
			if _, err := ncmec.ParsePage(page); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(1000*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		if cpu := cputime.Process() - cpu0; cpu > 0 {
			b.ReportMetric(1000*float64(b.N)/cpu.Seconds(), "entries/cpu-s")
		}
	})
	b.Run("parse/threatexchange-page", func(b *testing.B) {
		page := tePages("http://x", 500, 500)[0]
		cpu0 := cputime.Process()
		for range b.N {
			if _, err := threatexchange.ParsePage(page); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(500*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		if cpu := cputime.Process() - cpu0; cpu > 0 {
			b.ReportMetric(500*float64(b.N)/cpu.Seconds(), "entries/cpu-s")
		}
	})
}
