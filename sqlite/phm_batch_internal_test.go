package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
	"github.com/vigil-oss/vigil/storetest"
)

// storeWork is the SQL a store's transactions ran, as countingDB sees it.
type storeWork struct {
	Tx, Reads, Writes int
	Rows              int64 // rows the writes changed
	Bytes             int   // bytes of the writes' arguments
}

// countingDB counts the transactions of the PHM service and the SQL run
// in them.
type countingDB struct {
	shared
	work storeWork
}

func (c *countingDB) WriteAudited(ctx context.Context, rec *vigil.AuditRecord, fn func(tx sqlstore.Querier) error) error {
	c.work.Tx++
	return c.shared.WriteAudited(ctx, rec, func(tx sqlstore.Querier) error { return fn(countingTx{tx, &c.work}) })
}

func (c *countingDB) WriteSecureDelete(ctx context.Context, fn func(tx sqlstore.Querier) error) error {
	c.work.Tx++
	return c.shared.WriteSecureDelete(ctx, func(tx sqlstore.Querier) error { return fn(countingTx{tx, &c.work}) })
}

type countingTx struct {
	q    sqlstore.Querier
	work *storeWork
}

// argBytes is the length of a string or byte argument, 8 for a number,
// 0 for NULL (counted here, not with sqlstore.ArgBytes, which sizes the
// chaff).
func argBytes(args []any) int {
	n := 0
	for _, a := range args {
		switch v := a.(type) {
		case string:
			n += len(v)
		case []byte:
			n += len(v)
		case int, int64, uint32:
			n += 8
		case nil:
		default:
			panic(fmt.Sprintf("argument of type %T", a))
		}
	}
	return n
}

func (c countingTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c.work.Writes++
	c.work.Bytes += argBytes(args)
	r, err := c.q.ExecContext(ctx, query, args...)
	if err == nil {
		n, _ := r.RowsAffected()
		c.work.Rows += n
	}
	return r, err
}

func (c countingTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	c.work.Reads++
	return c.q.QueryContext(ctx, query, args...)
}

func (c countingTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	c.work.Reads++
	return c.q.QueryRowContext(ctx, query, args...)
}

// TestPHMBatchStoreWork: below the threshold a batch's item costs the
// store the same whatever it opened to: one transaction, the same reads,
// the same statements, rows and argument bytes, for a voucher that did
// not open, the first positive of an epoch (the account row inserted), a
// later positive, a replayed positive, one past its account's bound, and
// bytes that are not a voucher. On main a voucher that did not open made
// no transaction, a positive one, and the inbox's deletion one more.
func TestPHMBatchStoreWork(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := &countingDB{shared: db.shared()}
	s := sqlstore.NewPHMService(c)
	const pad = 5320 // a header at t = 3, s = 4
	id := func(b byte) [vigil.PHMVoucherIDLen]byte { return [vigil.PHMVoucherIDLen]byte{b, 7, b} }
	// fn is the service's update below the threshold: a positive adds its
	// header when told to keep it; capped adds nothing.
	fn := func(v [vigil.PHMVoucherIDLen]byte, capped bool) func(a *vigil.PHMAccount, keep bool) (*vigil.AuditRecord, error) {
		return func(a *vigil.PHMAccount, keep bool) (*vigil.AuditRecord, error) {
			if keep && !capped {
				a.Positives++
				a.Changes = append(a.Changes, vigil.PHMVoucher{ID: v, State: vigil.PHMPending, Data: bytes.Repeat([]byte{v[0]}, pad), N: a.Positives})
			}
			return nil, nil
		}
	}
	var walBytes int64
	apply := func(u vigil.PHMInboxUpdate) (storeWork, vigil.PHMInboxApplied) {
		t.Helper()
		if err := s.AppendPHMInbox(ctx, u.Account, [][]byte{[]byte("v")}, 0); err != nil {
			t.Fatal(err)
		}
		items, err := s.PHMInboxNext(ctx, time.Now(), 1)
		if err != nil || len(items) != 1 {
			t.Fatalf("%d inbox items, %v", len(items), err)
		}
		u.ID, u.Pad = items[0].ID, pad
		// The log emptied first, so that what the batch adds to it is its
		// pages: reported, not compared (see the end).
		if _, err := db.wdb.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			t.Fatal(err)
		}
		c.work = storeWork{}
		out, err := s.ApplyPHMInbox(ctx, []vigil.PHMInboxUpdate{u})
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(db.Path() + "-wal"); err == nil {
			walBytes = fi.Size()
		}
		return c.work, out[0]
	}
	// Account a holds one positive in epoch 0.
	if _, o := apply(vigil.PHMInboxUpdate{Account: "a", Opened: true, Voucher: id(1), Fn: fn(id(1), false)}); !o.Counted {
		t.Fatal("the first positive was not counted")
	}
	cases := []struct {
		name    string
		u       vigil.PHMInboxUpdate
		counted bool
	}{
		{"not opened", vigil.PHMInboxUpdate{Account: "a", Voucher: id(9), Fn: fn(id(9), false)}, false},
		{"first of an epoch", vigil.PHMInboxUpdate{Account: "b", Opened: true, Epoch: 4, Voucher: id(2), Fn: fn(id(2), false)}, true},
		{"later positive", vigil.PHMInboxUpdate{Account: "a", Opened: true, Voucher: id(3), Fn: fn(id(3), false)}, true},
		{"replayed positive", vigil.PHMInboxUpdate{Account: "a", Opened: true, Voucher: id(1), Fn: fn(id(1), false)}, false},
		{"capped", vigil.PHMInboxUpdate{Account: "a", Opened: true, Voucher: id(4), Fn: fn(id(4), true)}, false},
		{"not a voucher", vigil.PHMInboxUpdate{Account: "b", Fn: fn([vigil.PHMVoucherIDLen]byte{}, false)}, false},
	}
	var first storeWork
	for i, tc := range cases {
		w, o := apply(tc.u)
		if o.Counted != tc.counted || o.Err != nil {
			t.Fatalf("%s: %+v, want counted %v", tc.name, o, tc.counted)
		}
		t.Logf("%s: %d bytes of write-ahead log", tc.name, walBytes)
		if w.Tx != 1 {
			t.Errorf("%s: %d transactions, want 1", tc.name, w.Tx)
		}
		if i == 0 {
			first = w
			continue
		}
		if w != first {
			t.Errorf("store work differs: %s %+v, %s %+v", cases[0].name, first, tc.name, w)
		}
	}
	// What the SQL asks is alike; the pages SQLite writes for it are not
	// quite (a voucher row's own B-tree and the account row's, against
	// the chaff ring's): the log's bytes above say by how much.
	t.Logf("every item: %+v", first)
}

// TestPHMChaffBound: 10,000 vouchers that did not open, claiming 10,000
// epochs, leave no account or voucher row, and the chaff ring at its
// PHMChaffSlots rows: the store does not grow with what clients send.
func TestPHMChaffBound(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 items")
	}
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const n = 10000
	storetest.PHMChaffStorm(t, NewPHMService(db), n)
	var chaff, accounts, vouchers int
	if err := db.rdb.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM phm_chaff), (SELECT COUNT(*) FROM phm_accounts), (SELECT COUNT(*) FROM phm_vouchers)`).Scan(&chaff, &accounts, &vouchers); err != nil {
		t.Fatal(err)
	}
	if chaff > vigil.PHMChaffSlots || accounts != 0 || vouchers != 0 {
		t.Fatalf("after %d vouchers that did not open: %d chaff rows (bound %d), %d account rows, %d voucher rows", n, chaff, vigil.PHMChaffSlots, accounts, vouchers)
	}
}

// BenchmarkPHMBatchWAL measures the pages a batch of 16 inbox items
// writes to the write-ahead log (checkpointed before each), for 16 items
// that keep nothing (miss) and for 15 of them and one first positive of
// its account (hit), the inbox rows 17,069 bytes each as at the default
// parameters; the two kinds alternate. TestPHMBatchStoreWork shows the
// SQL alike; this is what SQLite makes of it.
func BenchmarkPHMBatchWAL(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := NewPHMService(db)
	fn := func(v [vigil.PHMVoucherIDLen]byte) func(a *vigil.PHMAccount, keep bool) (*vigil.AuditRecord, error) {
		return func(a *vigil.PHMAccount, keep bool) (*vigil.AuditRecord, error) {
			if keep {
				a.Positives++
				a.Changes = append(a.Changes, vigil.PHMVoucher{ID: v, State: vigil.PHMPending, Data: bytes.Repeat([]byte{v[0]}, 5320), N: a.Positives})
			}
			return nil, nil
		}
	}
	k, round := 0, 0
	batch := func(hit bool) int64 {
		round++
		vs := make([][]byte, 16)
		for i := range vs {
			vs[i] = bytes.Repeat([]byte{byte(i)}, 17069)
		}
		acct := fmt.Sprintf("acct-%d", round)
		if err := s.AppendPHMInbox(ctx, acct, vs, 0); err != nil {
			b.Fatal(err)
		}
		items, err := s.PHMInboxNext(ctx, time.Now(), 16)
		if err != nil || len(items) != 16 {
			b.Fatalf("%d items, %v", len(items), err)
		}
		ups := make([]vigil.PHMInboxUpdate, 16)
		for i := range ups {
			k++
			id := [vigil.PHMVoucherIDLen]byte{byte(k), byte(k >> 8), byte(k >> 16)}
			ups[i] = vigil.PHMInboxUpdate{ID: items[i].ID, Account: acct, Voucher: id, Pad: 5320, Fn: fn(id), Opened: hit && i == round%16}
		}
		if _, err := db.wdb.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
			b.Fatal(err)
		}
		if _, err := s.ApplyPHMInbox(ctx, ups); err != nil {
			b.Fatal(err)
		}
		fi, err := os.Stat(db.Path() + "-wal")
		if err != nil {
			b.Fatal(err)
		}
		var page int64
		if err := db.wdb.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&page); err != nil {
			b.Fatal(err)
		}
		return (fi.Size() - 32) / (page + 24)
	}
	// The chaff ring and the tables warmed first.
	for i := range 40 {
		batch(i%2 == 1)
	}
	var pages [2]int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pages[i%2] += batch(i%2 == 1)
	}
	n := int64(b.N)
	b.ReportMetric(float64(pages[0])/float64((n+1)/2), "miss-pages/batch")
	if n > 1 {
		b.ReportMetric(float64(pages[1])/float64(n/2), "hit-pages/batch")
	}
}

// BenchmarkPHMBatchHold measures how long a batch of 16 inbox items holds
// SQLite's writer, which the inbox's appends (the answers) wait for:
// ApplyPHMInbox of 16 items that keep nothing (apply) against
// DeletePHMInbox of 16 rows (delete), what main's worker held it for
// after a batch of non-positives, in the same run, alternating.
func BenchmarkPHMBatchHold(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := NewPHMService(db)
	idle := func(*vigil.PHMAccount, bool) (*vigil.AuditRecord, error) { return nil, nil }
	fill := func(acct string) []vigil.PHMInboxItem {
		vs := make([][]byte, 16)
		for i := range vs {
			vs[i] = bytes.Repeat([]byte{byte(i)}, 17069)
		}
		if err := s.AppendPHMInbox(ctx, acct, vs, 0); err != nil {
			b.Fatal(err)
		}
		items, err := s.PHMInboxNext(ctx, time.Now(), 16)
		if err != nil || len(items) != 16 {
			b.Fatalf("%d items, %v", len(items), err)
		}
		return items
	}
	var took [2]time.Duration
	for i := range 20 + b.N*2 {
		acct := fmt.Sprintf("acct-%d", i)
		items := fill(acct)
		start := time.Now()
		if i%2 == 0 {
			ups := make([]vigil.PHMInboxUpdate, len(items))
			for j, it := range items {
				ups[j] = vigil.PHMInboxUpdate{ID: it.ID, Account: acct, Voucher: [vigil.PHMVoucherIDLen]byte{byte(j), byte(i)}, Pad: 5320, Fn: idle}
			}
			if _, err := s.ApplyPHMInbox(ctx, ups); err != nil {
				b.Fatal(err)
			}
		} else if err := s.DeletePHMInbox(ctx, ids(items)); err != nil {
			b.Fatal(err)
		}
		if i >= 20 { // warmed
			took[i%2] += time.Since(start)
		}
	}
	b.ReportMetric(float64(took[0].Microseconds())/float64(b.N), "apply-µs")
	b.ReportMetric(float64(took[1].Microseconds())/float64(b.N), "delete-µs")
}

func ids(items []vigil.PHMInboxItem) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}
