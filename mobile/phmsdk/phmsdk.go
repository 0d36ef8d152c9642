// Package phmsdk is the gomobile-friendly facade of Vigil's private hash
// matching client (phm/client): every exported function and method takes
// and returns only []byte, string, int64 and error, so that `gomobile bind`
// can turn it into an Android .aar or an iOS .xcframework, and the same
// code builds for GOOS=js GOARCH=wasm.
//
// A messenger keeps the account bytes in its secure storage, calls Voucher
// for each image the user sends or forwards, uploads the voucher next to
// the encrypted message, and saves Account() afterwards. Nothing it gets
// back says whether an image matched.
package phmsdk

import (
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
)

// NewAccount returns a fresh encoded account with threshold t, synthetic
// capacity s (0, 0: phm.DefaultParams) and a synthetic rate in parts per
// million.
func NewAccount(t, s, syntheticPPM int64) ([]byte, error) {
	p := phm.DefaultParams
	if t != 0 || s != 0 {
		p = phm.Params{T: int(t), S: int(s)}
	}
	if syntheticPPM < 0 || syntheticPPM > 1_000_000 {
		return nil, fmt.Errorf("synthetic rate %d ppm is out of range", syntheticPPM)
	}
	a, err := client.NewAccount(rand.Reader, p, float64(syntheticPPM)/1e6)
	if err != nil {
		return nil, err
	}
	return a.MarshalBinary()
}

// Client makes vouchers for one account. It is safe for concurrent use.
type Client struct {
	mu     sync.Mutex
	acct   *client.Account
	review hpke.PublicKey
	table  phm.Table
}

// NewClient opens an encoded account (from NewAccount or Account) with the
// review service's public key (phm.InnerKEM encoding).
func NewClient(account, reviewKey []byte) (*Client, error) {
	a, err := client.ParseAccount(account)
	if err != nil {
		return nil, err
	}
	pk, err := phm.InnerKEM.NewPublicKey(reviewKey)
	if err != nil {
		return nil, fmt.Errorf("review key: %w", err)
	}
	return &Client{acct: a, review: pk}, nil
}

// SetTable gives the client the verified blinded table. It is the one
// method outside gomobile's types (gomobile bind skips it): the table's
// file format and its checkpoint verification belong to phm/table, whose
// loader will sit behind a LoadTable(path string) error here.
func (c *Client) SetTable(t phm.Table) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.table = t
}

// ErrNoTable is returned by Voucher before a table is set.
var ErrNoTable = errors.New("phmsdk: no table loaded")

// Voucher returns the voucher for one image sent or forwarded, with the
// messenger's reference to the attachment. Its length is always the same.
func (c *Client) Voucher(image []byte, ref string) ([]byte, error) {
	content, err := client.Prepare(image, hashing.Limits{})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.table == nil {
		return nil, ErrNoTable
	}
	return c.acct.NewVoucher(c.table, c.review, content, ref, rand.Reader)
}

// Account returns the encoded account to persist after vouchers were made
// (the synthetic counter and repeat-content set change).
func (c *Client) Account() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acct.MarshalBinary()
}

// VoucherSize is the length of every voucher of this account.
func (c *Client) VoucherSize() int64 {
	return int64(c.acct.Params().VoucherSize())
}
