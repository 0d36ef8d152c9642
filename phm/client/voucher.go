package client

import (
	"crypto/hpke"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/dhf"
)

// NewVoucher makes the voucher for one image the user sends or forwards
// (never for one received), to be uploaded to the PHM service next to the
// encrypted message. tbl is the verified table, review the review
// service's HPKE public key (phm.InnerKEM), ref the messenger's reference
// to the attachment, rng the randomness (crypto/rand.Reader outside tests;
// HPKE draws its own from crypto/rand).
//
// The voucher is one of three kinds, all of phm.Params.VoucherSize bytes
// and all made by the same steps: synthetic with probability p_syn while
// fewer than S were made this epoch (exactly one element opens, carrying a
// junk share and DHF vector); repeat content when the image's SHA-256 or
// PDQ was sent before (no element opens, so resending one image cannot
// cross the threshold); real otherwise (elements for the image's keys,
// padded with random keys). Which kind it was is not returned.
func (a *Account) NewVoucher(tbl phm.Table, review hpke.PublicKey, c *Content, ref string, rng io.Reader) ([]byte, error) {
	if c == nil || tbl == nil || review == nil {
		return nil, fmt.Errorf("phm: voucher needs a table, a review key and content")
	}
	if len(ref) > phm.MaxRefLen {
		return nil, fmt.Errorf("phm: attachment reference is %d bytes, over %d", len(ref), phm.MaxRefLen)
	}
	v := phm.Voucher{Epoch: a.epoch}
	if _, err := io.ReadFull(rng, v.ID[:]); err != nil {
		return nil, fmt.Errorf("read randomness: %w", err)
	}
	kimg := make([]byte, phm.KeySize)
	if _, err := io.ReadFull(rng, kimg); err != nil {
		return nil, fmt.Errorf("read randomness: %w", err)
	}
	coin, err := uniform(rng)
	if err != nil {
		return nil, err
	}
	synthetic := a.synthetic < a.params.S && coin < a.rate
	genuine := !synthetic && !a.repeats(c)

	// Keys: the image's for a real voucher, random for the others; padded
	// to K with random keys and shuffled, so position says nothing.
	keys := make([]phm.Key, phm.K)
	n := 0
	if genuine {
		n = copy(keys, c.keys)
	}
	for i := n; i < phm.K; i++ {
		var d [32]byte
		if _, err := io.ReadFull(rng, d[:]); err != nil {
			return nil, fmt.Errorf("read randomness: %w", err)
		}
		keys[i], _ = phm.NewKey(phm.FamilyPDQ, d[:])
	}
	if err := shuffle(rng, keys); err != nil {
		return nil, err
	}
	opens := -1 // the synthetic voucher's one element that opens
	if synthetic {
		r, err := uniform(rng)
		if err != nil {
			return nil, err
		}
		opens = int(r * phm.K)
	}
	for i, k := range keys {
		if err := element(&v.Elements[i], tbl, k, i == opens, kimg, v.ID, rng); err != nil {
			return nil, err
		}
	}

	// Header: the same sealing work for every kind; a synthetic or repeat
	// voucher then carries random share, DHF vector and inner layer.
	h := phm.Header{DHF: a.dhf.Hash(a.point(v.ID)), Share: a.share(v.ID)}
	pl := c.payload
	pl.Ref = ref
	plain, err := phm.MarshalPayload(&pl)
	if err != nil {
		return nil, err
	}
	sealed, err := hpke.Seal(review, phm.InnerKDF, phm.InnerAEAD, phm.InnerInfo(v.ID), plain)
	if err != nil {
		return nil, fmt.Errorf("seal payload: %w", err)
	}
	if len(sealed) != phm.EncSize+phm.InnerSize+phm.TagSize {
		return nil, fmt.Errorf("phm: review key gives a %d-byte payload; want the %d of ML-KEM-768+X25519", len(sealed), phm.EncSize+phm.InnerSize+phm.TagSize)
	}
	h.Inner = phm.Seal(phm.InnerKey(a.kacct, v.ID), sealed, v.ID[:])
	if !genuine {
		if _, err := io.ReadFull(rng, h.Share[:]); err != nil {
			return nil, fmt.Errorf("read randomness: %w", err)
		}
		for i := range h.DHF {
			if h.DHF[i], err = dhf.Random(rng); err != nil {
				return nil, err
			}
		}
		if _, err := io.ReadFull(rng, h.Inner); err != nil {
			return nil, fmt.Errorf("read randomness: %w", err)
		}
	}
	hb, err := phm.MarshalHeader(&h, a.params)
	if err != nil {
		return nil, err
	}
	v.Header = phm.Seal(kimg, hb, phm.HeaderAAD(v.Epoch, v.ID))
	out, err := v.MarshalBinary()
	if err != nil {
		return nil, err
	}
	switch {
	case synthetic:
		a.synthetic++
	case genuine:
		a.remember(c)
	}
	return out, nil
}

// element fills e for key k: Q = β·H2G(k) + γ·G and, for each way w,
// k_img sealed under WayKey(β·T[slot_w] + γ·P, Q). Only the service, with
// α, gets α·Q, which equals the way's point iff T[slot_w] = α·H2G(k).
// opens sets β = 0 (Q = γ·G, S_w = γ·P = α·Q): the synthetic element,
// made by the very same operations.
func element(e *phm.Element, tbl phm.Table, k phm.Key, opens bool, kimg []byte, id [phm.IDSize]byte, rng io.Reader) error {
	slots, err := phm.Slots(tbl.Seeds(), tbl.Slots(), k)
	if err != nil {
		return err
	}
	beta := phm.Group.RandomNonZeroScalar(rng)
	gamma := phm.Group.RandomNonZeroScalar(rng)
	zero := phm.Group.NewScalar()
	b := 0
	if opens {
		b = 1
	}
	beta.CMov(b, zero)
	q := phm.Group.NewElement().Mul(phm.HashToGroup(k), beta)
	q.Add(q, phm.Group.NewElement().MulGen(gamma))
	qb, err := q.MarshalBinaryCompress()
	if err != nil {
		return fmt.Errorf("encode element: %w", err)
	}
	copy(e[:phm.ElementSize], qb)
	gp := phm.Group.NewElement().Mul(tbl.Public(), gamma)
	s := phm.Group.NewElement()
	for w, slot := range slots {
		s.Mul(tbl.Element(slot), beta)
		s.Add(s, gp)
		sb, err := s.MarshalBinaryCompress()
		if err != nil {
			return fmt.Errorf("encode element: %w", err)
		}
		ct := phm.Seal(phm.WayKey(sb, qb, w, id), kimg, id[:])
		copy(e[phm.ElementSize+w*phm.WaySize:], ct)
	}
	return nil
}

// uniform draws a float64 in [0, 1) from rng.
func uniform(rng io.Reader) (float64, error) {
	var b [8]byte
	if _, err := io.ReadFull(rng, b[:]); err != nil {
		return 0, fmt.Errorf("read randomness: %w", err)
	}
	return float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53), nil
}

// shuffle is a Fisher–Yates shuffle driven by rng.
func shuffle(rng io.Reader, keys []phm.Key) error {
	for i := len(keys) - 1; i > 0; i-- {
		r, err := uniform(rng)
		if err != nil {
			return err
		}
		j := int(r * float64(i+1))
		keys[i], keys[j] = keys[j], keys[i]
	}
	return nil
}
