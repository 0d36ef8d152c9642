package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/storetest"
)

// BenchmarkSpikeCheck measures the spike trigger's check when a case opens
// for an entry that matched 10000 cases of 1000 distinct items before the
// window. "cases" is the former count of the entry's rows, the in-run
// baseline; "busy" the check of distinct content when the window holds
// 100 distinct items (at least SpikeMin, so the history is counted too);
// "quiet" when it holds 5 (under SpikeMin, so it is not).
func BenchmarkSpikeCheck(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, b.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now.Add(-90 * 24 * time.Hour) }
	bank := &vigil.Bank{Name: "b", Enabled: true}
	if err := NewBankService(db).CreateBank(ctx, bank); err != nil {
		b.Fatal(err)
	}
	busy := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: storetest.PDQ(1)}
	quiet := &vigil.Entry{SignalType: vigil.SignalPDQ, Value: storetest.PDQ(2)}
	if _, err := NewEntryService(db).AddEntries(ctx, bank.ID, "curator", []*vigil.Entry{busy, quiet}); err != nil {
		b.Fatal(err)
	}
	// The rows alone are what the check reads; no cases behind them.
	if _, err := db.wdb.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		b.Fatal(err)
	}
	const history, distinct = 10000, 1000
	caseID := 0
	fill := func(tx *sql.Tx, e *vigil.Entry, n, distinct int, at time.Time) {
		for i := range n {
			caseID++
			if _, err := tx.ExecContext(ctx, `INSERT INTO case_entries (case_id, entry_id, bank_id, created_at, content_key)
				VALUES (?, ?, ?, ?, ?)`, caseID, e.ID, bank.ID, formatTime(at.Add(time.Duration(i)*time.Second)),
				fmt.Sprintf("sha256:%064x", i%distinct)); err != nil {
				b.Fatal(err)
			}
		}
	}
	tx, err := db.wdb.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range []*vigil.Entry{busy, quiet} {
		fill(tx, e, history, distinct, now.Add(-30*24*time.Hour))
	}
	fill(tx, busy, 100, 100, now.Add(-time.Hour))
	fill(tx, quiet, 5, 5, now.Add(-time.Hour))
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	// A factor no count reaches: the check never quarantines.
	s := NewCaseService(db)
	s.Policy = vigil.QuarantinePolicy{SpikeFactor: 1e9, SpikeMin: 20, Window: 24 * time.Hour}
	start := formatTime(now.Add(-s.Policy.Window))

	b.Run("cases", func(b *testing.B) {
		for b.Loop() {
			var recent, older int
			if err := db.rdb.QueryRowContext(ctx, `
				SELECT COUNT(*) FILTER (WHERE created_at > ?), COUNT(*) FILTER (WHERE created_at <= ?)
				FROM case_entries WHERE entry_id = ?`, start, start, busy.ID).Scan(&recent, &older); err != nil {
				b.Fatal(err)
			}
			if recent != 100 || older != history {
				b.Fatalf("counted %d, %d", recent, older)
			}
		}
	})
	for _, e := range []struct {
		name  string
		entry *vigil.Entry
	}{{"busy", busy}, {"quiet", quiet}} {
		b.Run(e.name, func(b *testing.B) {
			// On the write connection, where OpenCase runs the check and
			// where its statements are prepared (a read transaction
			// cannot use them); rolled back, so nothing is written.
			tx, err := db.wdb.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer tx.Rollback()
			for b.Loop() {
				if q, err := s.CheckSpike(ctx, tx, 1, e.entry.ID, math.MaxInt64, now); err != nil || q != nil {
					b.Fatal(q, err)
				}
			}
		})
	}
}
