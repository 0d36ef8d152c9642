package server

import (
	"bytes"
	"context"
	"crypto/hpke"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	vigil "github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/dhf"

	"github.com/cloudflare/circl/group"
)

// The hand-off grid (issue 16). A batch of vouchers never recovers a key
// or reveals a match: it marks the account due (a column every account
// row writes alike) and does what any positive below the threshold does.
// Every tick of the grid (Run, every HandOffEvery on the clock) then does
// one fixed quantum of work, whether anything is due or not:
//
//   - one recovery slot: the longest-waiting due account's key recovered
//     (detection, Shamir, the trial opens of its inner layers, the key
//     sealed to the review key) or, once recovered, its stored key opened
//     and its new positives' inner layers opened; in one transaction of
//     the store (RecoverPHMAccount) with the reveal's audit record. What
//     a real slot does not need, it does on the service's dummy account,
//     and a slot with nothing due does all of it on the dummy account and
//     writes chaff of the same rows into the ring (WritePHMChaff);
//   - Quantum payload slots: up to Quantum revealed payloads, oldest
//     first (more wait for the next ticks), each opened with the review
//     key, decoded, PDQ-hashed, re-encoded, keyed-hashed and looked up
//     (handle); the slots left are filled with dummy payloads (a picture
//     made in code, sealed to the review key at start) that go through
//     the same steps, their results dropped; and one store transaction:
//     the handled marks and the second check's audit record, or chaff.
//
// What the quantum does not cover: the case work of the detection flow
// (respond: the case, its media, notifications), which a real tick does
// and a dummy one cannot fake into the store; docs/benchmarks.md,
// "phm-tick (session 13)", measures it.

// workCounts are the work of the service's steps, as workProbe counts it.
type workCounts struct {
	// Batch side.
	Parsed, Headers int
	// Both.
	Detections, Points int
	// Grid side.
	KeyOpens, KeySeals, Shamir, TrialOpens, InnerOpens    int
	PayloadOpens, Derivatives, Lookups, Keyed, KeyedReads int
	Sheets                                                int // case media made
}

// tally is counts of type T that goroutines add to under a lock.
type tally[T any] struct {
	mu sync.Mutex
	c  T
}

func (t *tally[T]) add(f func(*T)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f(&t.c)
}

// take returns the counts so far and zeroes them.
func (t *tally[T]) take() T {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.c
	var zero T
	t.c = zero
	return out
}

// workProbe counts the work of the service's steps, for the tests that
// check it has one shape (nil: nothing counted).
type workProbe struct{ tally[workCounts] }

func (p *workProbe) add(f func(*workCounts)) {
	if p != nil {
		p.tally.add(f)
	}
}

// quantum is the payload slots of a tick: Inbox.Quantum, at least t + 1
// (what a crossing reveals at the least).
func (s *Service) quantum() int {
	q := s.Opener.params.T + 1
	if s.Inbox != nil && s.Inbox.Quantum > q {
		q = s.Inbox.Quantum
	}
	return q
}

// dummies are what a tick works on where nothing real is due: an account
// of t + 1 real positives of a key of its own, that key sealed to the
// review key, and a payload sealed to the review key.
type dummies struct {
	positives []*Positive
	key       []byte
	sealedKey []byte
	payload   Sealed
	// chaff are the row sizes of a recovery slot's transaction and of a
	// hand-off's marks.
	recoverRows, markRows []int
	payloadLen            int
	// derivs are Quantum derivatives of the dummy picture, for the case
	// media a tick that opens no case makes all the same (Sheet).
	derivs [][]byte
}

// sheetsKey is the context key of a tick's count of the case media the
// detection flow asked for (respond).
type sheetsKey struct{}

// slotChaff is the chaff that pads a recovery slot's transaction of
// changes to the rows and bytes of a crossing's (recoverRows): a row for
// each of the t + s + 1 pending vouchers a slot may change, with the
// bytes of t + 1 revealed payloads. A slot that reveals more writes more.
func (d *dummies) slotChaff(changes []vigil.PHMVoucher) []int {
	rows := len(d.recoverRows) - 1 - len(changes)
	if rows <= 0 {
		return nil
	}
	want := 0
	for _, n := range d.recoverRows[:len(d.recoverRows)-1] {
		want += n
	}
	for _, c := range changes {
		want -= len(c.Data)
	}
	out := make([]int, rows)
	for i := range out {
		out[i] = min(max(want, 0), d.payloadLen)
		want -= out[i]
	}
	return out
}

const dummyAccount = "phm-dummy"

// tickDummies makes the dummies once.
func (s *Service) tickDummies() (*dummies, error) {
	if s.dummy == nil {
		d, err := s.makeDummies(rand.Reader)
		if err != nil {
			return nil, err
		}
		s.dummy = d
	}
	return s.dummy, nil
}

func (s *Service) makeDummies(rng io.Reader) (*dummies, error) {
	p := s.Opener.params
	d := &dummies{}
	// The key's polynomial of degree t − 1, as a device's.
	poly := make([]group.Scalar, p.T)
	for i := range poly {
		poly[i] = phm.Group.RandomScalar(rng)
	}
	kb, err := poly[0].MarshalBinary()
	if err != nil {
		return nil, err
	}
	d.key = kb
	dk, err := dhf.NewKey(rng, p.S, p.T)
	if err != nil {
		return nil, err
	}
	pub := s.Review.PublicKey()
	// The payload: a benign picture made here (a grey gradient with a
	// disc), the size of a device's derivative.
	img := image.NewGray(image.Rect(0, 0, 128, 128))
	for y := range 128 {
		for x := range 128 {
			v := uint8((x*2 + y) % 256)
			if (x-64)*(x-64)+(y-64)*(y-64) < 900 {
				v = 255 - v
			}
			img.SetGray(x, y, color.Gray{Y: v})
		}
	}
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, img, &jpeg.Options{Quality: 80}); err != nil {
		return nil, fmt.Errorf("dummy derivative: %w", err)
	}
	for i := range p.T + 1 {
		var id [phm.IDSize]byte
		if _, err := io.ReadFull(rng, id[:]); err != nil {
			return nil, err
		}
		pl := phm.Payload{Width: 128, Height: 128, Derivative: jb.Bytes()}
		plain, err := phm.MarshalPayload(&pl)
		if err != nil {
			return nil, fmt.Errorf("dummy payload: %w", err)
		}
		sealed, err := hpke.Seal(pub, phm.InnerKDF, phm.InnerAEAD, phm.InnerInfo(id), plain)
		if err != nil {
			return nil, fmt.Errorf("dummy payload: %w", err)
		}
		if i == 0 {
			d.payload = Sealed{ID: id, Payload: sealed}
		}
		var x [8]byte
		if _, err := io.ReadFull(rng, x[:]); err != nil {
			return nil, err
		}
		h := &phm.Header{DHF: dk.Hash(uint64(x[0])<<56 | uint64(x[1])<<48 | uint64(x[2])<<40 | uint64(x[3])<<32 | uint64(x[4])<<24 | uint64(x[5])<<16 | uint64(x[6])<<8 | uint64(x[7])),
			Share: evalShare(poly, id), Inner: phm.Seal(phm.InnerKey(kb, id), sealed, id[:])}
		d.positives = append(d.positives, &Positive{ID: id, Header: h})
	}
	// And s synthetic ones: an account holds at most t + s + 1 pending
	// (Account.Add), and a slot opens all of them.
	for range p.S {
		h := &phm.Header{DHF: make([]uint64, 1+p.S), Inner: make([]byte, phm.SealedInnerSize)}
		for j := range h.DHF {
			if h.DHF[j], err = dhf.Random(rng); err != nil {
				return nil, err
			}
		}
		var id [phm.IDSize]byte
		for _, b := range [][]byte{id[:], h.Share[:], h.Inner} {
			if _, err := io.ReadFull(rng, b); err != nil {
				return nil, err
			}
		}
		d.positives = append(d.positives, &Positive{ID: id, Header: h})
	}
	if d.sealedKey, err = hpke.Seal(pub, phm.InnerKDF, phm.InnerAEAD, keyInfo(dummyAccount, 0), kb); err != nil {
		return nil, fmt.Errorf("dummy key: %w", err)
	}
	// A crossing's transaction: t + 1 revealed rows, s dropped ones and
	// the account's row with its sealed key; a hand-off's: a mark per
	// payload slot.
	d.payloadLen = len(d.payload.Payload)
	for range s.quantum() {
		d.derivs = append(d.derivs, jb.Bytes())
	}
	for i := range p.T + 1 + p.S {
		n := 0
		if i <= p.T {
			n = d.payloadLen
		}
		d.recoverRows = append(d.recoverRows, n)
	}
	d.recoverRows = append(d.recoverRows, len(d.sealedKey))
	for range s.quantum() {
		// A handled mark writes no data (it sets the payload NULL); its
		// chaff row writes none either.
		d.markRows = append(d.markRows, 0)
	}
	// The dummy account must recover, or its slot would stop short.
	if ok, err := RestoreAccount(p, len(d.positives), nil, d.positives).recoverKeyFixed(rng); err != nil || !ok {
		return nil, fmt.Errorf("dummy account does not recover (%v, %v)", ok, err)
	}
	return d, nil
}

// slot is which parts of a recovery slot's work ran on a real account.
type slot struct {
	keyOpened, recovered, keySealed bool
	inner                           int // the inner layers opened
}

// recoverAccount is a due account's turn: its state restored (its stored
// key opened, if recovered), the key recovered if it can be, the
// payloads of its real positives opened from their inner layers, and in
// the same transaction its pending vouchers revealed or dropped, its key
// stored, its due mark cleared and the reveal's audit record written. It
// returns the sealed payloads revealed, whether the account is now
// recovered, and which parts of the work ran.
func (s *Service) recoverAccount(ctx context.Context, account string, epoch uint32) ([]Sealed, bool, error) {
	sealed, recovered, _, err := s.recoverSlot(ctx, account, epoch, nil)
	return sealed, recovered, err
}

// recoverSlot is recoverAccount as a tick's recovery slot: with d, the
// transaction is padded with chaff to the rows of a crossing (t + 1
// revealed vouchers and the account), and it says which parts of the
// work ran, for dummyRecovery to do the others.
func (s *Service) recoverSlot(ctx context.Context, account string, epoch uint32, d *dummies) (sealed []Sealed, recovered bool, ran slot, err error) {
	err = s.Store.RecoverPHMAccount(ctx, account, epoch, func(st *vigil.PHMAccount) (*vigil.AuditRecord, error) {
		sealed, recovered, ran = nil, false, slot{} // afresh, should the store run this again
		st.Due = false
		ran.keyOpened = st.Key != nil
		if d != nil {
			defer func() {
				st.Chaff = d.slotChaff(st.Changes)
			}()
		}
		a, err := s.restore(st)
		if err != nil {
			return nil, err
		}
		wasRecovered := a.Recovered()
		if !wasRecovered {
			var pad io.Reader
			if d != nil {
				pad = rand.Reader
			}
			ok, err := a.recoverKeyFixed(pad)
			if err != nil {
				return nil, fmt.Errorf("recover account: %w", err)
			}
			if !ok {
				// More than t passed the detectable hash but the key did
				// not come (junk shares): the account stays below its
				// threshold, and its next positive makes it due again.
				return nil, nil
			}
		}
		ran.recovered = !wasRecovered
		recovered = true
		if !wasRecovered {
			k, err := hpke.Seal(s.Review.PublicKey(), phm.InnerKDF, phm.InnerAEAD, keyInfo(st.Account, st.Epoch), a.Key())
			if err != nil {
				return nil, fmt.Errorf("seal account key: %w", err)
			}
			s.probe.add(func(p *workCounts) { p.KeySeals++ })
			ran.keySealed = true
			now := s.now().UTC()
			st.Key, st.RecoveredAt = k, &now
		}
		// A slot opens the inner layers of t + s + 1 pending positives at
		// most, oldest first (all an account holds: Account.Add); any
		// more, from a store of before the grid, wait for the next ticks.
		n := len(a.positives)
		if d != nil {
			n = min(n, len(d.positives))
		}
		ran.inner = n
		got := a.openInner(n)
		open := map[[phm.IDSize]byte][]byte{}
		for _, sl := range got {
			open[sl.ID] = sl.Payload
		}
		for _, v := range st.Pending[:n] {
			if pl := open[v.ID]; pl != nil {
				st.Changes = append(st.Changes, vigil.PHMVoucher{ID: v.ID, State: vigil.PHMRevealed, Data: pl, N: v.N})
			} else {
				st.Changes = append(st.Changes, vigil.PHMVoucher{ID: v.ID, State: vigil.PHMDropped, N: v.N})
			}
		}
		st.Due = n < len(st.Pending)
		sealed = got
		if len(got) == 0 {
			return nil, nil
		}
		ids := make([]string, len(got))
		for i, sl := range got {
			ids[i] = hex.EncodeToString(sl.ID[:])
		}
		rec := &vigil.AuditRecord{Actor: s.actor(), Action: vigil.AuditPHMReveal, Target: vigil.PHMTarget(st.Account, st.Epoch)}
		return rec, rec.SetDetail(map[string]any{"positives": st.Positives, "recovered_now": !wasRecovered, "vouchers": ids})
	})
	if err != nil {
		return nil, false, slot{}, fmt.Errorf("recover %s: %w", vigil.PHMTarget(account, epoch), err)
	}
	return sealed, recovered, ran, nil
}

// dummyRecovery does, on the dummy account, the parts of a recovery slot
// that ran on no real account: the stored key's open, the recovery
// (detection, Shamir, trial and inner opens) and the key's seal.
func (s *Service) dummyRecovery(d *dummies, ran slot) error {
	if !ran.keyOpened {
		if _, err := hpke.Open(s.Review, phm.InnerKDF, phm.InnerAEAD, keyInfo(dummyAccount, 0), d.sealedKey); err != nil {
			return fmt.Errorf("dummy key: %w", err)
		}
		s.probe.add(func(p *workCounts) { p.KeyOpens++ })
	}
	// The recovery of a crossing, where the slot made none, and the inner
	// opens of a full slot but for those the real one made.
	a := RestoreAccount(s.Opener.params, len(d.positives), nil, d.positives)
	a.probe = s.probe
	if !ran.recovered {
		if ok, err := a.recoverKeyFixed(rand.Reader); err != nil || !ok {
			return fmt.Errorf("dummy recovery: %v, %w", ok, err)
		}
	} else {
		a.key = d.key
	}
	a.openInner(max(0, len(d.positives)-ran.inner))
	if !ran.keySealed {
		if _, err := hpke.Seal(s.Review.PublicKey(), phm.InnerKDF, phm.InnerAEAD, keyInfo(dummyAccount, 0), d.key); err != nil {
			return fmt.Errorf("dummy key: %w", err)
		}
		s.probe.add(func(p *workCounts) { p.KeySeals++ })
	}
	return nil
}

// tick is one tick of the hand-off grid: one recovery slot and Quantum
// payload slots (see the top of this file). It returns the vouchers it
// handed on.
func (s *Service) tick(ctx context.Context) (int, error) {
	d, err := s.tickDummies()
	if err != nil {
		return 0, err
	}
	var errs []error
	var sheets atomic.Int64
	ctx = context.WithValue(ctx, sheetsKey{}, &sheets)
	defer func() {
		// The case media (a contact sheet of the items) is the one part of
		// the detection flow's case work made in this process: a tick that
		// made none makes one of the dummies, dropped.
		if sheets.Load() == 0 {
			s.probe.add(func(p *workCounts) { p.Sheets++ })
			_, _ = Sheet(d.derivs)
		}
	}()
	// The recovery slot.
	due, err := s.Store.PHMDue(ctx, 1)
	if err != nil {
		return 0, err
	}
	var ran slot
	if len(due) > 0 {
		if _, _, ran, err = s.recoverSlot(ctx, due[0].Account, due[0].Epoch, d); err != nil {
			errs = append(errs, err)
		}
	} else if err := s.Store.WritePHMChaff(ctx, d.recoverRows); err != nil {
		errs = append(errs, err)
	}
	if err := s.dummyRecovery(d, ran); err != nil {
		errs = append(errs, err)
	}
	// The payload slots: the real ones, oldest first, and dummies to
	// the quantum, in one second check; the marks padded with chaff to a
	// row a slot.
	q := s.quantum()
	rev, err := s.Store.PHMRevealed(ctx, q)
	if err != nil {
		return 0, errors.Join(append(errs, err)...)
	}
	if rev, err = s.spread(rev); err != nil {
		return 0, errors.Join(append(errs, err)...)
	}
	pad := make([]*phm.Payload, 0, q-len(rev))
	for range q - len(rev) {
		pl, err := OpenPayload(s.Review, d.payload)
		if err != nil {
			return 0, errors.Join(append(errs, fmt.Errorf("dummy payload: %w", err))...)
		}
		s.probe.add(func(p *workCounts) { p.PayloadOpens++ })
		pad = append(pad, pl)
	}
	chaff := d.markRows[len(rev):]
	if len(rev) > 0 {
		n, err := s.handOn(ctx, rev, pad, chaff)
		return n, errors.Join(append(errs, err)...)
	}
	if s.Banks != nil {
		if _, _, err := s.checkPadded(ctx, nil, pad); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.Store.WritePHMChaff(ctx, chaff); err != nil {
		errs = append(errs, err)
	}
	return 0, errors.Join(errs...)
}

// handOn hands revealed vouchers on, account by account (handle); an
// account whose hand-off fails does not hold back the others.
// The first account's hand-off takes the dummy payloads pad and the
// chaff rows (a tick's quantum).
func (s *Service) handOn(ctx context.Context, rev []vigil.PHMRevealedVoucher, pad []*phm.Payload, chaff []int) (int, error) {
	type ae struct {
		account string
		epoch   uint32
	}
	groups := map[ae][]Sealed{}
	var order []ae
	for _, r := range rev {
		k := ae{r.Account, r.Epoch}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], Sealed{ID: r.ID, Payload: r.Data})
	}
	n := 0
	var errs []error
	for i, k := range order {
		if i > 0 {
			pad, chaff = nil, nil
		}
		if _, _, _, err := s.handlePadded(ctx, k.account, k.epoch, groups[k], pad, chaff); err != nil {
			errs = append(errs, fmt.Errorf("hand on %s: %w", vigil.PHMTarget(k.account, k.epoch), err))
			continue // still due: its time stays, so a retry is not put off again
		}
		delete(s.held, heldAccount(k))
		n += len(groups[k])
	}
	return n, errors.Join(errs...)
}

// evalShare is a device's Shamir share of the key poly[0] at the
// voucher's share id.
func evalShare(poly []group.Scalar, id [phm.IDSize]byte) [phm.ScalarSize]byte {
	x := phm.Group.NewScalar()
	_ = x.UnmarshalBinary(phm.ShareID(id))
	y := phm.Group.NewScalar()
	for i := len(poly) - 1; i >= 0; i-- { // Horner
		y.Mul(y, x)
		y.Add(y, poly[i])
	}
	var out [phm.ScalarSize]byte
	b, _ := y.MarshalBinary()
	copy(out[:], b)
	return out
}

// heldAccount names an account's epoch whose revealed vouchers spread
// holds back.
type heldAccount struct {
	account string
	epoch   uint32
}

// spread returns the revealed vouchers of rev whose account's time has
// come (Inbox.HandOffSpread): the first tick that sees an account's
// revealed vouchers draws its time, uniformly within the spread, and
// the account's vouchers wait for it; its entry goes once they are
// handed on. So the tick whose hand-off opens the case (the one piece
// of a tick's work that is not the same every time) is not the tick
// after the batch that crossed the threshold, but one drawn from the
// spread's ticks.
func (s *Service) spread(rev []vigil.PHMRevealedVoucher) ([]vigil.PHMRevealedVoucher, error) {
	var d time.Duration
	if s.Inbox != nil {
		d = s.Inbox.HandOffSpread
	}
	if d <= 0 || len(rev) == 0 {
		return rev, nil
	}
	if s.held == nil {
		s.held = map[heldAccount]time.Time{}
	}
	now := s.now()
	out := rev[:0:0]
	for _, r := range rev {
		k := heldAccount{r.Account, r.Epoch}
		at, ok := s.held[k]
		if !ok {
			n, err := rand.Int(rand.Reader, big.NewInt(int64(d)))
			if err != nil {
				return nil, fmt.Errorf("hand-off spread: %w", err)
			}
			at = now.Add(time.Duration(n.Int64()))
			s.held[k] = at
		}
		if !now.Before(at) {
			out = append(out, r)
		}
	}
	return out, nil
}
