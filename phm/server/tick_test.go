package server

import (
	"context"
	"crypto/rand"
	"testing"

	vigil "github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
)

// storeCalls is what the service asked of its store, as tickStore counts
// it: write transactions, the rows they write (voucher changes, account
// rows, chaff rows) and those rows' data bytes (a voucher's data, an
// account's key, a chaff row's bytes), the audit records, and the reads.
type storeCalls struct {
	Tx, Rows, Bytes, Reads int
	// Audits is counted apart: a tick that reveals writes the reveal's
	// and the second check's records, which a dummy tick cannot fake.
	Audits int
}

// tickStore counts the store work of a service's batches and ticks. The
// rows and bytes of a batch are those ApplyPHMInbox's contract gives (an
// item that keeps something its voucher and account rows, any other two
// chaff rows as long; sqlite's TestPHMBatchStoreWork checks the SQL).
type tickStore struct {
	vigil.PHMService
	tally[storeCalls]
}

func dataBytes(a *vigil.PHMAccount) int {
	n := 0
	for _, c := range a.Changes {
		n += len(c.Data)
	}
	return n
}

func (s *tickStore) ApplyPHMInbox(ctx context.Context, items []vigil.PHMInboxUpdate) ([]vigil.PHMInboxApplied, error) {
	kept := make([]struct{ rows, bytes, audits int }, len(items))
	for i := range items {
		fn := items[i].Fn
		items[i].Fn = func(a *vigil.PHMAccount, keep bool) (*vigil.AuditRecord, error) {
			rec, err := fn(a, keep)
			kept[i].rows, kept[i].bytes, kept[i].audits = len(a.Changes)+1, dataBytes(a), 0 // a batch writes no key
			if rec != nil {
				kept[i].audits = 1
			}
			return rec, err
		}
	}
	out, err := s.PHMService.ApplyPHMInbox(ctx, items)
	s.add(func(c *storeCalls) {
		c.Tx++
		for i, a := range out {
			if a.Counted {
				c.Rows += kept[i].rows
				c.Bytes += kept[i].bytes
				c.Audits += kept[i].audits
			} else {
				c.Rows += 2
				c.Bytes += items[i].Pad
			}
		}
	})
	return out, err
}

func (s *tickStore) RecoverPHMAccount(ctx context.Context, account string, epoch uint32, fn func(a *vigil.PHMAccount) (*vigil.AuditRecord, error)) error {
	var rows, bytes, audits int
	err := s.PHMService.RecoverPHMAccount(ctx, account, epoch, func(a *vigil.PHMAccount) (*vigil.AuditRecord, error) {
		rec, err := fn(a)
		rows, bytes, audits = len(a.Changes)+1+len(a.Chaff), dataBytes(a)+len(a.Key), 0
		for _, n := range a.Chaff {
			bytes += n
		}
		if rec != nil {
			audits = 1
		}
		return rec, err
	})
	s.add(func(c *storeCalls) { c.Tx++; c.Rows += rows; c.Bytes += bytes; c.Audits += audits })
	return err
}

func (s *tickStore) MarkPHMHandled(ctx context.Context, account string, epoch uint32, ids [][vigil.PHMVoucherIDLen]byte, chaff []int) error {
	audits := 0
	if vigil.PendingAudit(ctx) != nil {
		audits = 1
	}
	err := s.PHMService.MarkPHMHandled(ctx, account, epoch, ids, chaff)
	// A mark keeps no data (its bytes are its key's, account and id);
	// the bytes counted are the chaff's alone, and compared as rows.
	s.add(func(c *storeCalls) { c.Tx++; c.Rows += len(ids) + len(chaff); c.Audits += audits })
	return err
}

func (s *tickStore) WritePHMChaff(ctx context.Context, sizes []int) error {
	err := s.PHMService.WritePHMChaff(ctx, sizes)
	s.add(func(c *storeCalls) {
		c.Tx++
		c.Rows += len(sizes)
		for _, n := range sizes {
			c.Bytes += n
		}
	})
	return err
}

func (s *tickStore) PHMDue(ctx context.Context, limit int) ([]vigil.PHMDueAccount, error) {
	s.add(func(c *storeCalls) { c.Reads++ })
	return s.PHMService.PHMDue(ctx, limit)
}

func (s *tickStore) PHMRevealed(ctx context.Context, limit int) ([]vigil.PHMRevealedVoucher, error) {
	s.add(func(c *storeCalls) { c.Reads++ })
	return s.PHMService.PHMRevealed(ctx, limit)
}

func (s *tickStore) PHMKeyedHashes(ctx context.Context, keyID string, ids []int64) (map[int64]vigil.PHMKeyedHash, error) {
	s.add(func(c *storeCalls) { c.Reads++ })
	return s.PHMService.PHMKeyedHashes(ctx, keyID, ids)
}

// stepWork is the work of one batch or one tick.
type stepWork struct {
	CPU   workCounts
	Store storeCalls
	Cases int // the detection flow's calls: reported, not compared
}

// tickWorld is a service with an inbox on a counting store, and two
// devices' vouchers: listed pictures for accounts "u" and "v", pictures
// not listed for both.
type tickWorld struct {
	p        phm.Params
	s        *Service
	store    *tickStore
	resp     *responder
	u, v     [][]byte // listed, from the devices of u and v
	uMiss    [][]byte // not listed, from u's device
	vMiss    []byte
	mk       func(a *client.Account, d []byte) []byte
	vDev     *client.Account
	listed   [][]byte // the listed pictures
	ctx      context.Context
	prevCase int
}

func newTickWorld(t *testing.T) *tickWorld {
	t.Helper()
	p := phm.Params{T: 2, S: 4}
	var data [][]byte
	var keys []phm.Key
	var known []pdq.Hash
	for i := range p.T + 6 {
		img := picture(1600+i, 128)
		data = append(data, pngBytes(t, img))
		keys = append(keys, sha256Key(t, data[i]))
		known = append(known, pdqOf(t, img))
	}
	f, s := newFixture(t, p, 0, keys...)
	s.Banks = &banks{list: known}
	w := &tickWorld{p: p, s: s, resp: &responder{}, ctx: context.Background()}
	w.store = &tickStore{PHMService: s.Store}
	s.Store = w.store
	s.Respond = w.resp
	s.Inbox = NewInbox(w.store.PHMService.(vigil.PHMInbox), 0)
	s.probe = &workProbe{}
	other := newAccount(t, p)
	mk := func(a *client.Account, d []byte) []byte {
		v, err := a.NewVoucher(f.tbl, s.Review.PublicKey(), prepare(t, d), "att", rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, d := range data {
		w.u = append(w.u, mk(f.acct, d))
		w.v = append(w.v, mk(other, d))
	}
	for i := range 3 {
		w.uMiss = append(w.uMiss, mk(f.acct, pngBytes(t, picture(1700+i, 96))))
	}
	w.vMiss = mk(other, pngBytes(t, picture(1710, 96)))
	w.mk, w.vDev, w.listed = mk, other, data
	return w
}

// batch receives vouchers of account and runs the worker's drain: one
// batch of the store.
func (w *tickWorld) batch(t *testing.T, account string, vs ...[]byte) stepWork {
	t.Helper()
	w.s.probe.take()
	w.store.take()
	if err := w.s.Receive(w.ctx, account, vs); err != nil {
		t.Fatal(err)
	}
	w.store.take() // the append is the intake's, alike for every voucher
	if _, err := w.s.drain(w.ctx); err != nil {
		t.Fatal(err)
	}
	return w.step()
}

// tick runs one tick of the hand-off grid.
func (w *tickWorld) tick(t *testing.T) stepWork {
	t.Helper()
	w.s.probe.take()
	w.store.take()
	if _, err := w.s.tick(w.ctx); err != nil {
		t.Fatal(err)
	}
	return w.step()
}

func (w *tickWorld) step() stepWork {
	out := stepWork{CPU: w.s.probe.take(), Store: w.store.take(), Cases: len(w.resp.refs) - w.prevCase}
	w.prevCase = len(w.resp.refs)
	return out
}

// alike fails t if a and b differ in anything but the audit records and
// the cases, which it logs.
func alike(t *testing.T, what string, a, b stepWork) {
	t.Helper()
	a2, b2 := a, b
	a2.Store.Audits, b2.Store.Audits, a2.Cases, b2.Cases = 0, 0, 0, 0
	if a2 != b2 {
		t.Errorf("%s differ:\n  %+v\n  %+v", what, a, b)
		return
	}
	t.Logf("%s alike: %+v (audit records %d / %d, cases %d / %d)", what, a2, a.Store.Audits, b.Store.Audits, a.Cases, b.Cases)
}

// TestTickWorkAlike drives the inbox's worker (its drain and the ticks of
// its hand-off grid) through (a) a batch that crosses an account's
// threshold, and the tick after it, (b) a recovered account's batch of a
// matching voucher and the tick after it, and (c) as many batches and
// ticks where nothing crosses or is revealed (a voucher that does not
// match in an account holding as many pending, and the ticks after), and
// checks that each step does the same work in each: the CPU steps counted
// (HPKE opens and seals, Shamir recoveries, detections and their points,
// trial and inner opens, payload opens, derivatives checked, lookups,
// keyed hashes, headers parsed and encoded) and the store's transactions,
// rows, bytes and reads. What a revealing tick does more is logged: its
// audit records and the detection flow's case. On main the crossing batch
// recovered and revealed in its transaction (the pending rows rewritten,
// an audit record), and only the ticks after a reveal did anything.
func TestTickWorkAlike(t *testing.T) {
	w := newTickWorld(t)
	T := w.p.T
	// Both accounts hold t pending positives, real ones: the next real
	// match crosses.
	for i := range T {
		w.batch(t, "u", w.u[i])
		w.batch(t, "v", w.v[i])
		w.tick(t)
	}
	if st, err := w.store.PHMAccount(w.ctx, "v", 0); err != nil || len(st.Pending) != T || st.Due {
		t.Fatalf("account v: %+v, %v", st, err)
	}
	// (c) then (a): the same account state, a voucher that does not
	// match and one that crosses.
	c1 := w.batch(t, "v", w.vMiss)
	c1t := w.tick(t)
	a1 := w.batch(t, "u", w.u[T])
	a1t := w.tick(t)
	alike(t, "a crossing's batch and a non-crossing one", a1, c1)
	alike(t, "the ticks after them", a1t, c1t)
	if a1t.Cases != 1 || c1t.Cases != 0 {
		t.Fatalf("cases at the ticks: %d after the crossing, %d after the other; want 1 and 0", a1t.Cases, c1t.Cases)
	}
	st, err := w.store.PHMAccount(w.ctx, "u", 0)
	if err != nil || st.Key == nil || len(st.Pending) != 0 || st.Due {
		t.Fatalf("account u after its crossing's tick: %v, %v", st != nil && st.Key != nil, err)
	}
	// (b) and (c): the recovered account's matching voucher, and one that
	// does not match, each with the tick after.
	b1 := w.batch(t, "u", w.u[T+1])
	b1t := w.tick(t)
	c2 := w.batch(t, "u", w.uMiss[0])
	c2t := w.tick(t)
	alike(t, "a recovered account's match and non-match batches", b1, c2)
	alike(t, "the ticks after them", b1t, c2t)
	// And a tick with nothing at all, after no batch.
	alike(t, "a revealing tick and an idle one", a1t, w.tick(t))
	if b1t.Cases != 1 {
		t.Fatalf("the recovered account's match opened %d cases at its tick, want 1", b1t.Cases)
	}
	rev, err := w.store.PHMRevealed(w.ctx, 100)
	if err != nil || len(rev) != 0 {
		t.Fatalf("revealed left after the ticks: %d, %v", len(rev), err)
	}
	if got := w.s.Inbox.Processed(); got != int64(2*T+4) {
		t.Fatalf("processed %d vouchers", got)
	}
}

// TestTickQuantumCarries checks that a tick recovers one due account and
// hands on at most its quantum of payloads, oldest first, carrying the
// rest to the next ticks, each tick alike in its work.
func TestTickQuantumCarries(t *testing.T) {
	w := newTickWorld(t)
	T := w.p.T
	for i := range T + 1 {
		w.batch(t, "u", w.u[i])
		w.batch(t, "v", w.v[i])
	}
	// Both due at once: one recovery slot a tick, the older first.
	first, second, third := w.tick(t), w.tick(t), w.tick(t)
	if first.Cases != 1 || second.Cases != 1 || third.Cases != 0 || w.resp.refs[0].UserID != "u" {
		t.Fatalf("cases at the ticks: %d, %d, %d; want 1, 1, 0, u's first", first.Cases, second.Cases, third.Cases)
	}
	alike(t, "a tick that recovers and the next", first, second)
	alike(t, "a tick that recovers and an idle one", first, third)
	// A recovered account brought more matches than a quantum (t + 1):
	// its slot reveals them all, the ticks hand on t + 1 at a time.
	more := w.u[T+1:]
	if len(more) <= T+1 {
		t.Fatalf("%d more matches, want more than %d", len(more), T+1)
	}
	w.batch(t, "u", more...)
	x, y := w.tick(t), w.tick(t)
	if got := w.resp.refs[len(w.resp.refs)-2:]; x.Cases != 1 || y.Cases != 1 || len(w.resp.results[len(w.resp.results)-2]) != T+1 || len(w.resp.results[len(w.resp.results)-1]) != len(more)-T-1 || got[0].UserID != "u" {
		t.Fatalf("the hand-off of %d matches: cases %d then %d", len(more), x.Cases, y.Cases)
	}
	// A slot that reveals more than t + 1 writes their bytes: the one
	// difference left, logged.
	t.Logf("bytes of the slot revealing %d: %d; of the next tick: %d", len(more), x.Store.Bytes, y.Store.Bytes)
	x.Store.Bytes = y.Store.Bytes
	alike(t, "a full quantum's tick and the carried one's, bytes aside", x, y)
	w.s.Inbox.Quantum = 1 // under t + 1: t + 1 it is
	if q := w.s.quantum(); q != T+1 {
		t.Fatalf("quantum %d, want %d", q, T+1)
	}
}

// TestBatchNewEpochAlike: the first positive of a new epoch does in its
// batch what a voucher that does not open does in the same account: both
// parse the latest epoch's pending headers and run the detection over
// them and one more point, and encode a header. On main the new epoch's
// positive was given an empty account and did neither (item 3 of the
// brief); its store work was already alike.
func TestBatchNewEpochAlike(t *testing.T) {
	w := newTickWorld(t)
	T := w.p.T
	for i := range T {
		w.batch(t, "v", w.v[i])
	}
	miss := w.batch(t, "v", w.vMiss)
	if err := w.vDev.Rotate(rand.Reader); err != nil {
		t.Fatal(err)
	}
	first := w.batch(t, "v", w.mk(w.vDev, w.listed[T]))
	alike(t, "a new epoch's first positive and a voucher that does not open", first, miss)
	if first.CPU.Parsed != T || first.CPU.Points != T+1 {
		t.Fatalf("the new epoch's positive parsed %d and detected over %d points, want %d and %d", first.CPU.Parsed, first.CPU.Points, T, T+1)
	}
	st, err := w.store.PHMAccount(w.ctx, "v", 1)
	if err != nil || st.Positives != 1 || len(st.Pending) != 1 || st.Due {
		t.Fatalf("account v/1: %+v, %v", st, err)
	}
	if st, err := w.store.PHMAccount(w.ctx, "v", 0); err != nil || len(st.Pending) != T {
		t.Fatalf("account v/0 changed: %+v, %v", st, err)
	}
}

// TestTickTakesPositivesWhileDue: an account whose batch crossed its
// threshold holds its t + s + 1 pending until the next tick; a match that
// arrives before that tick is counted all the same (the bound on pending
// positives is lifted for a due account), and revealed at the tick after.
// Without the lift it was dropped as past the bound, a real match lost.
func TestTickTakesPositivesWhileDue(t *testing.T) {
	w := newTickWorld(t)
	T, S := w.p.T, w.p.S
	dev, err := client.NewAccount(rand.Reader, w.p, 1) // its first s vouchers synthetic
	if err != nil {
		t.Fatal(err)
	}
	var batch [][]byte
	for i := range S {
		batch = append(batch, w.mk(dev, pngBytes(t, picture(1800+i, 96))))
	}
	for i := range T + 1 {
		batch = append(batch, w.mk(dev, w.listed[i]))
	}
	w.batch(t, "d", batch...)
	st, err := w.store.PHMAccount(w.ctx, "d", 0)
	if err != nil || len(st.Pending) != T+S+1 || !st.Due || st.Key != nil {
		t.Fatalf("after the crossing batch: %+v, %v; want %d pending, due", st, err, T+S+1)
	}
	w.batch(t, "d", w.mk(dev, w.listed[T+1]))
	if st, err := w.store.PHMAccount(w.ctx, "d", 0); err != nil || len(st.Pending) != T+S+2 {
		t.Fatalf("the match before the tick: %v pending, %v; want %d", len(st.Pending), err, T+S+2)
	}
	w.tick(t) // the slot: t + s + 1, oldest first
	w.tick(t) // the one left, with the key
	w.tick(t)
	n := 0
	for _, rs := range w.resp.results {
		n += len(rs)
	}
	if n != T+2 {
		t.Fatalf("%d matches in cases, want %d", n, T+2)
	}
	if st, err := w.store.PHMAccount(w.ctx, "d", 0); err != nil || len(st.Pending) != 0 || st.Due || st.Key == nil {
		t.Fatalf("after the ticks: %+v, %v", st, err)
	}
}
