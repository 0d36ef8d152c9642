package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/cputime"
	"github.com/vigil-oss/vigil/sqlstore"
	"github.com/vigil-oss/vigil/storetest"
)

// bulkFixture is a store with n cases made in one statement, and what
// their figures must be, computed case by case in Go.
type bulkFixture struct {
	db       *DB
	from, to time.Time
	want     vigil.Transparency
}

// newBulkFixture stores n cases 10 s apart from 2026-01-01: every tenth a
// conversation, every twentieth (from the first) undecided, the rest
// decided within a day of opening (7919·i mod 86400 seconds later),
// every thirteenth a false positive; each match case matched one of two
// entries in two banks (with sources "ncmec" and "own"), by parity.
func newBulkFixture(tb testing.TB, n int) *bulkFixture {
	tb.Helper()
	ctx := context.Background()
	db, err := Open(ctx, tb.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	cases := NewCaseService(db)
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}); err != nil {
		tb.Fatal(err)
	}
	var entries [2]*vigil.Entry
	for i, name := range []string{"even", "odd"} {
		b := &vigil.Bank{Name: name, Enabled: true}
		if err := NewBankService(db).CreateBank(ctx, b); err != nil {
			tb.Fatal(err)
		}
		entries[i] = &vigil.Entry{SignalType: vigil.SignalPDQ, Value: storetest.PDQ(i + 1), Source: []string{"ncmec", "own"}[i]}
		if _, err := NewEntryService(db).AddEntries(ctx, b.ID, "curator", []*vigil.Entry{entries[i]}); err != nil {
			tb.Fatal(err)
		}
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const ts = `strftime('%Y-%m-%dT%H:%M:%S.000000000Z', ?, 'unixepoch')`
	start := time.Now()
	err = db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
			INSERT INTO cases (id, queue_id, kind, state, priority, rule, content, created_at, updated_at, retain_until, review_verdict, decided_at)
			SELECT i, (SELECT id FROM queues WHERE name = 'q'),
				CASE WHEN i % 10 = 0 THEN 'conversation' ELSE 'match' END,
				CASE WHEN i % 20 = 1 THEN 'open' ELSE 'decided' END, 0, '', '{}',
				strftime('%Y-%m-%dT%H:%M:%S.000000000Z', ? + i * 10, 'unixepoch'),
				strftime('%Y-%m-%dT%H:%M:%S.000000000Z', ? + i * 10, 'unixepoch'), `+ts+`,
				CASE WHEN i % 20 = 1 THEN NULL WHEN i % 13 = 0 THEN 'false_positive' ELSE 'confirmed' END,
				CASE WHEN i % 20 = 1 THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%S.000000000Z', ? + i * 10 + (i * 7919) % 86400, 'unixepoch') END
			FROM n`, n, base.Unix(), base.Unix(), base.AddDate(1, 0, 0).Unix(), base.Unix()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
			INSERT INTO case_entries (case_id, entry_id, bank_id, created_at)
			SELECT id, CASE WHEN id % 2 = 0 THEN ? ELSE ? END, CASE WHEN id % 2 = 0 THEN ? ELSE ? END, created_at
			FROM cases WHERE kind = 'match'`, entries[0].ID, entries[1].ID, entries[0].BankID, entries[1].BankID)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Logf("%d cases stored in %s", n, time.Since(start).Round(time.Millisecond))

	f := &bulkFixture{db: db, from: base, to: base.Add(time.Duration(n)*10*time.Second + 48*time.Hour)}
	w := &f.want
	var opened [2]int64 // conversation, match
	var decided [2]int64
	var rates [2][2]int64 // bank (even, odd) × confirmed, false positive
	var groom [2]int64
	var matched [2]int64 // even, odd
	durations := make([]float64, 0, n)
	for i := 1; i <= n; i++ {
		conv := i%10 == 0
		if conv {
			opened[0]++
		} else {
			opened[1]++
			matched[i%2]++
		}
		if i%20 == 1 {
			continue
		}
		fp := 0
		if i%13 == 0 {
			fp = 1
		}
		decided[fp]++
		durations = append(durations, float64((i*7919)%86400))
		if conv {
			groom[fp]++
		} else {
			rates[i%2][fp]++
		}
	}
	slices.Sort(durations)
	w.CasesOpened = []vigil.Count{{Name: "conversation", N: opened[0]}, {Name: "match", N: opened[1]}}
	w.CasesDecided = []vigil.Count{{Name: "confirmed", N: decided[0]}, {Name: "false_positive", N: decided[1]}}
	w.MatchesByBank = []vigil.Count{{Name: "even", N: matched[0]}, {Name: "odd", N: matched[1]}}
	w.RatesByBank = []vigil.Rate{vigil.NewRate("even", rates[0][0], rates[0][1]), vigil.NewRate("odd", rates[1][0], rates[1][1])}
	w.RatesBySource = []vigil.Rate{vigil.NewRate("ncmec", rates[0][0], rates[0][1]), vigil.NewRate("own", rates[1][0], rates[1][1])}
	m := int64(len(durations))
	w.ToDecision = vigil.Durations{N: m, MedianSeconds: durations[vigil.NearestRank(0.5, m)], P90Seconds: durations[vigil.NearestRank(0.9, m)]}
	w.GroomingDetections = opened[0]
	w.Grooming = vigil.NewRate("grooming", groom[0], groom[1])
	return f
}

// peakRSS is the process's peak resident memory (VmHWM), in KiB; 0 where
// /proc is not there.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

// TestTransparencyMillionCases computes the figures of a million cases and
// checks them against the fixture's own count; the Go heap allocated by
// the computation stays a few hundred KB whatever the number of cases
// (SQLite sorts and aggregates in its own bounded cache and temp store).
func TestTransparencyMillionCases(t *testing.T) {
	if testing.Short() {
		t.Skip("a million cases: skipped in -short mode")
	}
	f := newBulkFixture(t, 1_000_000)
	s := NewTransparencyService(f.db)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rssBefore := peakRSS()
	start := time.Now()
	got, err := s.Transparency(context.Background(), f.from, f.to)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("transparency of 1M cases: %s; Go heap allocated %d KiB; peak RSS %d → %d KiB", took.Round(time.Millisecond), alloc>>10, rssBefore, peakRSS())
	// Loading the rows would allocate at least a string per case: tens of
	// MB for a million. The bound is a size, not a time.
	if alloc > 8<<20 {
		t.Errorf("the computation allocated %d MiB of Go heap: rows were loaded into Go", alloc>>20)
	}
	w := f.want
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"cases opened", got.CasesOpened, w.CasesOpened},
		{"cases decided", got.CasesDecided, w.CasesDecided},
		{"matches by bank", got.MatchesByBank, w.MatchesByBank},
		{"rates by bank", got.RatesByBank, w.RatesByBank},
		{"rates by source", got.RatesBySource, w.RatesBySource},
		{"to decision", got.ToDecision, w.ToDecision},
		{"grooming detections", got.GroomingDetections, w.GroomingDetections},
		{"grooming", got.Grooming, w.Grooming},
	} {
		if !equalJSONish(c.got, c.want) {
			t.Errorf("%s = %+v, want %+v", c.what, c.got, c.want)
		}
	}
}

func equalJSONish(a, b any) bool { return fmt.Sprintf("%+v", a) == fmt.Sprintf("%+v", b) }

// BenchmarkTransparency measures the figures of a million cases: the
// whole report, and its percentiles two ways, as the store computes them
// (one window query returning the two ranked rows) and, the baseline,
// loading every duration into Go to sort them there.
func BenchmarkTransparency(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("VIGIL_TRANSPARENCY_CASES")); err == nil && v > 0 {
		n = v
	}
	f := newBulkFixture(b, n)
	s := NewTransparencyService(f.db)
	ctx := context.Background()
	b.Run("report", func(b *testing.B) {
		cputime.PerOp(b, func() {
			if _, err := s.Transparency(ctx, f.from, f.to); err != nil {
				b.Fatal(err)
			}
		})
	})
	query := `SELECT ` + secondsBetween("decided_at", "created_at") + ` AS d FROM cases WHERE decided_at >= ? AND decided_at < ?`
	args := []any{formatTime(f.from), formatTime(f.to)}
	b.Run("percentiles/ranked", func(b *testing.B) {
		cputime.PerOp(b, func() {
			if _, err := sqlstore.Durations(ctx, f.db.rdb, query, args...); err != nil {
				b.Fatal(err)
			}
		})
	})
	// The former way: a count, then each percentile as one ordered row at
	// its offset (two sorts).
	b.Run("percentiles/offset", func(b *testing.B) {
		cputime.PerOp(b, func() {
			var n int64
			if err := f.db.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+query+`) x WHERE d IS NOT NULL`, args...).Scan(&n); err != nil {
				b.Fatal(err)
			}
			for _, q := range []float64{0.5, 0.9} {
				var d float64
				if err := f.db.rdb.QueryRowContext(ctx, `SELECT d FROM (`+query+`) x WHERE d IS NOT NULL ORDER BY d LIMIT 1 OFFSET ?`,
					append(args, vigil.NearestRank(q, n))...).Scan(&d); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("percentiles/load-all-baseline", func(b *testing.B) {
		cputime.PerOp(b, func() {
			rows, err := f.db.rdb.QueryContext(ctx, query, args...)
			if err != nil {
				b.Fatal(err)
			}
			var ds []float64
			for rows.Next() {
				var d float64
				if err := rows.Scan(&d); err != nil {
					b.Fatal(err)
				}
				ds = append(ds, d)
			}
			rows.Close()
			slices.Sort(ds)
			_ = ds[vigil.NearestRank(0.9, int64(len(ds)))]
		})
	})
}
