// Package server is the service side of private hash matching (docs
// e2ee.md §5.4): it opens the outer layer of the vouchers whose image
// matched the table, keeps each account's positives, finds the real ones
// with the detectable hash once there are more than t, recovers the
// account key from their Shamir shares and opens the inner payloads of
// those, and only those. Non-matching vouchers never open, before or after
// the threshold.
package server

import (
	"crypto/hpke"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/secretsharing"

	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/dhf"
)

// Opener opens vouchers' outer layers with the table's blinding scalar α.
type Opener struct {
	alpha  group.Scalar
	params phm.Params
}

// NewOpener returns an opener for vouchers made under p against a table
// blinded with alpha.
func NewOpener(alpha group.Scalar, p phm.Params) (*Opener, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if alpha == nil || alpha.IsZero() {
		return nil, errors.New("phm: zero blinding scalar")
	}
	return &Opener{alpha: alpha.Copy(), params: p}, nil
}

// Positive is an opened voucher: its account epoch, id and header.
type Positive struct {
	Epoch  uint32
	ID     [phm.IDSize]byte
	Header *phm.Header
}

// Open parses a voucher and tries its elements: R = α·Q, then each way's
// AEAD under WayKey(R, Q). It returns the positive and true when an
// element opens (a match or a synthetic voucher; the two look alike),
// false when none does. The error is for bytes that are not a voucher.
//
// Its work does not depend on what the voucher opens to: every element
// and every way is tried, whether or not one opened before, and a voucher
// none of whose ways opens has its header put to the AEAD once all the
// same, under a key that cannot open it (docs/benchmarks.md, phm-const).
func (o *Opener) Open(b []byte) (*Positive, bool, error) {
	v, err := phm.ParseVoucher(b, o.params)
	if err != nil {
		return nil, false, err
	}
	h, ok, err := o.open(v)
	if err != nil || !ok {
		return nil, false, err
	}
	return &Positive{Epoch: v.Epoch, ID: v.ID, Header: h}, true, nil
}

// open tries every element of v and returns the header of the first that
// opens.
func (o *Opener) open(v *phm.Voucher) (*phm.Header, bool, error) {
	var hb []byte
	for i := range v.Elements {
		got, err := o.openElement(v, i)
		if err != nil {
			return nil, false, err
		}
		if hb == nil {
			hb = got
		}
	}
	if hb == nil {
		// The header open a match does, under a key that opens nothing.
		var none [32]byte
		_, _ = phm.Open(none[:], v.Header, phm.HeaderAAD(v.Epoch, v.ID))
		return nil, false, nil
	}
	h, err := phm.ParseHeader(hb, o.params)
	if err != nil {
		return nil, false, err
	}
	return h, true, nil
}

// openElement tries element i of v: R = α·Q, then every way's AEAD under
// WayKey(R, Q), and the header under each k_img that came out. It returns
// the header's plaintext of the first way whose header opens (nil: none).
func (o *Opener) openElement(v *phm.Voucher, i int) ([]byte, error) {
	e := &v.Elements[i]
	qb := e[:phm.ElementSize]
	q := phm.Group.NewElement()
	if q.UnmarshalBinary(qb) != nil {
		return nil, nil // not a point: cannot open, like any non-match
	}
	rb, err := phm.Group.NewElement().Mul(q, o.alpha).MarshalBinaryCompress()
	if err != nil {
		return nil, fmt.Errorf("encode point: %w", err)
	}
	var out []byte
	for w := range phm.Ways {
		ct := e[phm.ElementSize+w*phm.WaySize : phm.ElementSize+(w+1)*phm.WaySize]
		kimg, err := phm.Open(phm.WayKey(rb, qb, w, v.ID), ct, v.ID[:])
		if err != nil {
			continue
		}
		hb, err := phm.Open(kimg, v.Header, phm.HeaderAAD(v.Epoch, v.ID))
		if err != nil {
			continue // an element whose header does not follow is junk
		}
		if out == nil {
			out = hb
		}
	}
	return out, nil
}

// Account is the service's state for one account: its positives, and once
// recovered, the account key. Its memory is bounded: before recovery it
// holds at most T+S+1 positives (more than an honest device ever sends
// before its threshold), after recovery none (each is revealed or dropped
// as it arrives).
type Account struct {
	params    phm.Params
	positives []*Positive // pending: not yet revealed or dropped
	count     int         // positives ever added
	ids       map[[phm.IDSize]byte]bool
	key       []byte // K_acct once recovered
	// unbounded lifts the bound of T + S + 1 pending positives: for an
	// account whose key is, or is about to be, recovered at the hand-off
	// grid's next tick (tick.go), whose positives wait pending till then.
	unbounded bool
	probe     *workProbe
}

// NewAccount returns an empty account under p.
func NewAccount(p phm.Params) *Account {
	return &Account{params: p, ids: map[[phm.IDSize]byte]bool{}}
}

// RestoreAccount returns an account as it was stored: count positives
// counted, the account key if recovered (nil if not), and the pending
// positives in order of arrival. Replays of vouchers no longer pending are
// the store's to refuse.
func RestoreAccount(p phm.Params, count int, key []byte, pending []*Positive) *Account {
	a := NewAccount(p)
	a.count, a.key = count, key
	for _, pos := range pending {
		a.ids[pos.ID] = true
		a.positives = append(a.positives, pos)
	}
	return a
}

// Key is the recovered account key, nil before recovery.
func (a *Account) Key() []byte { return a.key }

// Add records a positive and reports whether it counted. It does not for
// a voucher id seen before (a replayed voucher must not count twice, nor
// give Shamir a duplicate), nor past T+S+1 positives before recovery: an
// honest device sends at most S synthetic and, before its threshold, T
// real ones, and more than S non-real points would let the DHF find junk.
// (A device that floods its own account only hides itself, which a
// modified client can do anyway by sending nothing.)
func (a *Account) Add(p *Positive) bool {
	if p == nil || a.ids[p.ID] || len(p.Header.DHF) != 1+a.params.S {
		return false
	}
	if a.key == nil && !a.unbounded && len(a.positives) > a.params.T+a.params.S {
		return false
	}
	a.ids[p.ID] = true
	a.positives = append(a.positives, p)
	a.count++
	return true
}

// Positives is the number of positives, real and synthetic.
func (a *Account) Positives() int { return a.count }

// Recovered reports whether the account key has been recovered.
func (a *Account) Recovered() bool { return a.key != nil }

// Sealed is the inner payload of a real positive, still HPKE-sealed to the
// review service.
type Sealed struct {
	ID      [phm.IDSize]byte
	Payload []byte
}

// TryRecover runs DHF detection over the positives and, when more than T
// are real, recovers K_acct from their shares and returns the sealed
// payloads of the real positives not returned before. Below the threshold
// it returns nothing and learns nothing. A synthetic positive's payload
// never opens (its inner layer is random), so it is never returned.
func (a *Account) TryRecover() ([]Sealed, error) {
	if a.key == nil {
		if ok, err := a.recoverKey(); !ok || err != nil {
			return nil, err
		}
	}
	out := a.openInner(len(a.positives))
	a.positives = nil
	return out, nil
}

// recoverKey is TryRecover's recovery of the key of an account not
// recovered yet: the detection, Shamir over what it found, and the trial
// opens of their inner layers. It says whether the key is now known.
func (a *Account) recoverKey() (bool, error) { return a.recoverKeyFixed(nil) }

// recoverKeyFixed is recoverKey, and with pad (a source of randomness) one
// of a fixed shape, the hand-off grid's (tick.go): the detection over
// exactly T + S + 1 points (the positives, then random vectors, which it
// finds no more than the synthetic ones: an account holds at most
// T + S + 1, and a recovery needs T + 1 real, so the junk is at most S),
// Shamir over the first T + 1 found and the trial opens of those T + 1,
// all of which must open.
func (a *Account) recoverKeyFixed(pad io.Reader) (bool, error) {
	n := len(a.positives)
	if n <= a.params.T {
		return false, nil
	}
	pts := make([][]uint64, n, max(n, a.params.T+a.params.S+1))
	for i, p := range a.positives {
		pts[i] = p.Header.DHF
	}
	if pad != nil {
		for len(pts) < cap(pts) {
			v := make([]uint64, 1+a.params.S)
			for j := range v {
				var err error
				if v[j], err = dhf.Random(pad); err != nil {
					return false, err
				}
			}
			pts = append(pts, v)
		}
	}
	a.probe.add(func(p *workCounts) { p.Detections++; p.Points += len(pts) })
	found, err := dhf.Detect(pts, a.params.S, a.params.T)
	if err != nil {
		return false, err
	}
	found = slices.DeleteFunc(found, func(i int) bool { return i >= n }) // the padding
	if len(found) <= a.params.T {
		return false, nil
	}
	if pad != nil {
		found = found[:a.params.T+1]
	}
	a.probe.add(func(p *workCounts) { p.Shamir++; p.TrialOpens += len(found) })
	shares := make([]secretsharing.Share, 0, len(found))
	for _, i := range found {
		p := a.positives[i]
		id, v := phm.Group.NewScalar(), phm.Group.NewScalar()
		if id.UnmarshalBinary(phm.ShareID(p.ID)) != nil || v.UnmarshalBinary(p.Header.Share[:]) != nil {
			continue
		}
		shares = append(shares, secretsharing.Share{ID: id, Value: v})
	}
	k, err := secretsharing.Recover(uint(a.params.T), shares)
	if err != nil {
		return false, nil // too few well-formed shares: not recovered
	}
	kb, err := k.MarshalBinary()
	if err != nil {
		return false, fmt.Errorf("encode account key: %w", err)
	}
	// The key is right iff it opens the real positives' inner layers;
	// keep it only then (a share could be junk that passed the DHF).
	opened := 0
	for _, i := range found {
		if _, err := phm.Open(phm.InnerKey(kb, a.positives[i].ID), a.positives[i].Header.Inner, a.positives[i].ID[:]); err == nil {
			opened++
		}
	}
	if opened <= a.params.T || (pad != nil && opened < len(found)) {
		return false, nil
	}
	a.key = kb
	return true, nil
}

// openInner opens the inner layers of the first n pending positives with
// the recovered key and returns the payloads of those that open.
func (a *Account) openInner(n int) []Sealed {
	a.probe.add(func(p *workCounts) { p.InnerOpens += n })
	var out []Sealed
	for _, p := range a.positives[:n] {
		sealed, err := phm.Open(phm.InnerKey(a.key, p.ID), p.Header.Inner, p.ID[:])
		if err != nil {
			continue // synthetic: stays sealed, and is dropped
		}
		out = append(out, Sealed{ID: p.ID, Payload: sealed})
	}
	return out
}

// OpenPayload opens a sealed payload with the review service's HPKE key.
func OpenPayload(review hpke.PrivateKey, s Sealed) (*phm.Payload, error) {
	plain, err := hpke.Open(review, phm.InnerKDF, phm.InnerAEAD, phm.InnerInfo(s.ID), s.Payload)
	if err != nil {
		return nil, fmt.Errorf("open payload: %w", err)
	}
	return phm.ParsePayload(plain)
}
