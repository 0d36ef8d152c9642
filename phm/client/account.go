package client

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/cloudflare/circl/group"

	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/dhf"
)

// MaxSeen bounds the repeat-content set; past it the oldest entries go.
const MaxSeen = 1 << 16

// Account is the device's PHM state for one account and epoch: the seed
// every secret derives from (K_acct, the Shamir polynomial, the DHF key, the
// PRF of DHF points, the repeat-set key), the synthetic-voucher counter and
// the repeat-content set. Persist it with MarshalBinary between vouchers;
// it is secret. It is not safe for concurrent use.
type Account struct {
	seed      [32]byte
	params    phm.Params
	rate      float64 // p_syn, the chance a voucher is synthetic
	epoch     uint32  // which epoch the seed is for
	synthetic int     // synthetic vouchers made this epoch (≤ params.S)
	seen      map[[32]byte]struct{}
	order     [][32]byte // seen in insertion order, for eviction

	// derived from seed
	kacct []byte         // encoded K_acct
	coef  []group.Scalar // Shamir polynomial, coef[0] = K_acct, degree T
	dhf   *dhf.Key
	xKey  []byte // PRF key of DHF points
	tag   []byte // HMAC key of the repeat set
}

// NewAccount draws a fresh account under p. syntheticRate is p_syn, the
// probability that a voucher is synthetic (until p.S of them this epoch);
// tune it so the median account reaches about p.T synthetics per epoch.
func NewAccount(rng io.Reader, p phm.Params, syntheticRate float64) (*Account, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if math.IsNaN(syntheticRate) || syntheticRate < 0 || syntheticRate > 1 {
		return nil, fmt.Errorf("phm: synthetic rate %v is not in [0, 1]", syntheticRate)
	}
	a := &Account{params: p, rate: syntheticRate, seen: map[[32]byte]struct{}{}}
	if _, err := io.ReadFull(rng, a.seed[:]); err != nil {
		return nil, fmt.Errorf("read randomness: %w", err)
	}
	if err := a.derive(); err != nil {
		return nil, err
	}
	return a, nil
}

// Params are the account's threshold parameters.
func (a *Account) Params() phm.Params { return a.params }

// Rotate starts the next epoch (the design's is 12 months): a new seed, so
// a new K_acct, Shamir polynomial and DHF key, no synthetic vouchers made
// and an empty repeat set. Matches of the past epoch can no longer be
// linked to future ones, and its shares never combine with the new ones.
func (a *Account) Rotate(rng io.Reader) error {
	var seed [32]byte
	if _, err := io.ReadFull(rng, seed[:]); err != nil {
		return fmt.Errorf("read randomness: %w", err)
	}
	if a.epoch == math.MaxUint32 {
		return errors.New("phm: no epoch after the last")
	}
	a.seed, a.epoch, a.synthetic = seed, a.epoch+1, 0
	a.seen, a.order = map[[32]byte]struct{}{}, nil
	return a.derive()
}

// Epoch is the account's current epoch, sent in the clear in vouchers.
func (a *Account) Epoch() int64 { return int64(a.epoch) }

func (a *Account) derive() error {
	sub := func(label string) []byte {
		k, err := hkdf.Key(sha256.New, a.seed[:], nil, "vigil-phm-v1 account "+label, 32)
		if err != nil {
			panic(err)
		}
		return k
	}
	// The polynomial comes from hash-to-scalar (RFC 9380), which is
	// stable, rather than from circl's sampler reading a stream, which
	// could change between versions and lose every share of an epoch.
	dst := []byte("vigil-phm-v1-shamir")
	a.coef = make([]group.Scalar, a.params.T+1)
	for i := range a.coef {
		msg := binary.BigEndian.AppendUint32(sub("shamir"), uint32(i))
		a.coef[i] = phm.Group.HashToScalar(msg, dst)
	}
	a.kacct, _ = a.coef[0].MarshalBinary()
	key, err := dhf.NewKey(stream(sub("dhf")), a.params.S, a.params.T)
	if err != nil {
		return err
	}
	a.dhf, a.xKey, a.tag = key, sub("x"), sub("seen")
	return nil
}

// stream is a deterministic keystream (AES-256-CTR of zeros) under key.
func stream(key []byte) io.Reader {
	b, _ := aes.NewCipher(key)
	return cipher.StreamReader{S: cipher.NewCTR(b, make([]byte, aes.BlockSize)), R: zeros{}}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// share evaluates the Shamir polynomial at x′ = phm.ShareID(id).
func (a *Account) share(id [phm.IDSize]byte) [phm.ScalarSize]byte {
	x := phm.Group.NewScalar()
	_ = x.UnmarshalBinary(phm.ShareID(id))
	y := phm.Group.NewScalar()
	for i := len(a.coef) - 1; i >= 0; i-- { // Horner
		y.Mul(y, x)
		y.Add(y, a.coef[i])
	}
	var out [phm.ScalarSize]byte
	b, _ := y.MarshalBinary()
	copy(out[:], b)
	return out
}

// point is the DHF input x = PRF(k_x, id): the service cannot choose it,
// and two vouchers never share it.
func (a *Account) point(id [phm.IDSize]byte) uint64 {
	m := hmac.New(sha256.New, a.xKey)
	m.Write(id[:])
	return binary.BigEndian.Uint64(m.Sum(nil)) & dhf.P
}

// seenTag is the repeat-set entry of a digest: keyed, so the stored set
// does not list what the user sent.
func (a *Account) seenTag(family string, digest []byte) [32]byte {
	m := hmac.New(sha256.New, a.tag)
	m.Write([]byte(family))
	m.Write(digest)
	return [32]byte(m.Sum(nil))
}

func (a *Account) repeats(c *Content) bool {
	for i, d := range c.seen {
		if d == nil {
			continue
		}
		if _, ok := a.seen[a.seenTag(seenFamilies[i], d)]; ok {
			return true
		}
	}
	return false
}

var seenFamilies = [2]string{"sha256", "pdq"}

func (a *Account) remember(c *Content) {
	for i, d := range c.seen {
		if d == nil {
			continue
		}
		t := a.seenTag(seenFamilies[i], d)
		if _, ok := a.seen[t]; ok {
			continue
		}
		if len(a.order) >= MaxSeen {
			delete(a.seen, a.order[0])
			a.order = a.order[1:]
		}
		a.seen[t] = struct{}{}
		a.order = append(a.order, t)
	}
}

// account encoding: magic(4) ‖ seed(32) ‖ T(2) ‖ S(2) ‖ rate(8) ‖
// epoch(4) ‖ synthetic(4) ‖ n(4) ‖ n × tag(32).
var accountMagic = [4]byte{'p', 'h', 'a', 1}

const accountFixed = 4 + 32 + 2 + 2 + 8 + 4 + 4 + 4

// MaxAccountSize is the largest encoded account (a full repeat set).
const MaxAccountSize = accountFixed + MaxSeen*32

// MarshalBinary encodes the account, secrets included.
func (a *Account) MarshalBinary() ([]byte, error) {
	out := make([]byte, 0, accountFixed+32*len(a.order))
	out = append(out, accountMagic[:]...)
	out = append(out, a.seed[:]...)
	out = binary.BigEndian.AppendUint16(out, uint16(a.params.T))
	out = binary.BigEndian.AppendUint16(out, uint16(a.params.S))
	out = binary.BigEndian.AppendUint64(out, math.Float64bits(a.rate))
	out = binary.BigEndian.AppendUint32(out, a.epoch)
	out = binary.BigEndian.AppendUint32(out, uint32(a.synthetic))
	out = binary.BigEndian.AppendUint32(out, uint32(len(a.order)))
	for _, t := range a.order {
		out = append(out, t[:]...)
	}
	return out, nil
}

// ErrAccount is returned for bytes that are not an encoded account.
var ErrAccount = errors.New("phm: not an account")

// ParseAccount decodes what MarshalBinary made (at most MaxAccountSize
// bytes).
func ParseAccount(b []byte) (*Account, error) {
	if len(b) < accountFixed || len(b) > MaxAccountSize || [4]byte(b[:4]) != accountMagic {
		return nil, ErrAccount
	}
	a := &Account{seen: map[[32]byte]struct{}{}}
	copy(a.seed[:], b[4:36])
	a.params = phm.Params{T: int(binary.BigEndian.Uint16(b[36:])), S: int(binary.BigEndian.Uint16(b[38:]))}
	a.rate = math.Float64frombits(binary.BigEndian.Uint64(b[40:]))
	a.epoch = binary.BigEndian.Uint32(b[48:])
	a.synthetic = int(binary.BigEndian.Uint32(b[52:]))
	n := int(binary.BigEndian.Uint32(b[56:]))
	if err := a.params.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAccount, err)
	}
	if math.IsNaN(a.rate) || a.rate < 0 || a.rate > 1 || a.synthetic > a.params.S || n > MaxSeen || len(b) != accountFixed+32*n {
		return nil, ErrAccount
	}
	for i := range n {
		t := [32]byte(b[accountFixed+32*i:])
		if _, dup := a.seen[t]; dup {
			return nil, ErrAccount
		}
		a.seen[t] = struct{}{}
		a.order = append(a.order, t)
	}
	if err := a.derive(); err != nil {
		return nil, err
	}
	return a, nil
}
