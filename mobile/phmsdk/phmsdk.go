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
	"bytes"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/table"
	"github.com/vigil-oss/vigil/phm/translog"
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

// Verifier holds what a messenger pins for its table's transparency log:
// the log's key, the operator's, the trusted witnesses and their quorum,
// and optionally the contributing organisations' keys.
type Verifier struct{ v translog.Verifier }

// NewVerifier pins the keys (note verifier keys, as `vigil phm table-keys`
// prints them). origin "" is the log key's name; witnessKeys and orgKeys
// hold one key a line; quorum 0 means 1 (an uncosigned checkpoint is never
// enough); orgQuorum 0 requires no organisation signature.
func NewVerifier(origin, logKey, operatorKey, witnessKeys string, quorum int64, orgKeys string, orgQuorum int64) (*Verifier, error) {
	v := &Verifier{v: translog.Verifier{Origin: origin, Quorum: int(quorum), OrgQuorum: int(orgQuorum)}}
	var err error
	if v.v.Log, err = note.NewVerifier(strings.TrimSpace(logKey)); err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	if v.v.Operator, err = note.NewVerifier(strings.TrimSpace(operatorKey)); err != nil {
		return nil, fmt.Errorf("operator key: %w", err)
	}
	for k := range strings.FieldsSeq(witnessKeys) {
		w, err := translog.NewCosignVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("witness key: %s", vigil.ErrorMessage(err))
		}
		v.v.Witnesses = append(v.v.Witnesses, w)
	}
	for k := range strings.FieldsSeq(orgKeys) {
		o, err := note.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("organisation key: %w", err)
		}
		v.v.Orgs = append(v.v.Orgs, o)
	}
	if len(v.v.Witnesses) == 0 {
		return nil, errors.New("no witness key: a table must be cosigned")
	}
	if quorum < 0 || int(quorum) > len(v.v.Witnesses) || orgQuorum < 0 || int(orgQuorum) > len(v.v.Orgs) {
		return nil, errors.New("a quorum is larger than the keys given")
	}
	if v.v.Origin == "" {
		v.v.Origin = v.v.Log.Name()
	}
	return v, nil
}

// LoadTable verifies a downloaded table as `vigil phm verify-table` does
// and, only if it passes, makes it the client's table. The arguments are
// the files of a `vigil phm build-table` directory (table.bin, manifest,
// checkpoint, inclusion, consistency) and the state LoadTable returned
// last time (empty on first use). It returns the state to keep. On any
// error the client keeps its previous table, and the caller its previous
// state: a forked or rolled-back log, a checkpoint without the witness
// quorum, a manifest the log does not include or the operator did not
// sign, an older version, or a table that is not the manifest's.
func (c *Client) LoadTable(v *Verifier, tableFile, manifest, checkpoint, inclusion, consistency, state []byte) ([]byte, error) {
	return c.load(v, manifest, checkpoint, inclusion, consistency, state, func() (*table.Table, error) {
		t, err := table.Load(bytes.NewReader(tableFile), 0)
		if err != nil {
			return nil, fmt.Errorf("table: %s", vigil.ErrorMessage(err))
		}
		return t, nil
	})
}

// LoadTableDiff is LoadTable for an update shipped as a diff (the diff file
// of a `vigil phm build-table --parent` directory, ~36 bytes per changed
// slot) instead of the whole table.bin: the diff is applied to the table
// the client holds (loaded by LoadTable or an earlier LoadTableDiff), and
// the result is verified exactly as LoadTable verifies a table. On any
// error the client keeps its table. Save TableFile afterwards to load it
// with LoadTable on the next start.
func (c *Client) LoadTableDiff(v *Verifier, diff, manifest, checkpoint, inclusion, consistency, state []byte) ([]byte, error) {
	return c.load(v, manifest, checkpoint, inclusion, consistency, state, func() (*table.Table, error) {
		c.mu.Lock()
		old, _ := c.table.(*table.Table)
		c.mu.Unlock()
		if old == nil {
			return nil, errors.New("phmsdk: a diff needs the table it applies to: LoadTable first")
		}
		d, err := table.ParseDiff(diff, old.Slots())
		if err != nil {
			return nil, fmt.Errorf("diff: %s", vigil.ErrorMessage(err))
		}
		t, err := table.Apply(old, d)
		if err != nil {
			return nil, fmt.Errorf("diff: %s", vigil.ErrorMessage(err))
		}
		return t, nil
	})
}

// TableFile returns the client's table in table.bin's form, to keep
// beside the state (after LoadTableDiff, the only copy of the new
// version).
func (c *Client) TableFile() ([]byte, error) {
	c.mu.Lock()
	t, _ := c.table.(*table.Table)
	c.mu.Unlock()
	if t == nil {
		return nil, ErrNoTable
	}
	var b bytes.Buffer
	if _, err := t.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// load verifies the table that get makes against the log's files and the
// state, and sets it only if every check passes.
func (c *Client) load(v *Verifier, manifest, checkpoint, inclusion, consistency, state []byte, get func() (*table.Table, error)) ([]byte, error) {
	if v == nil {
		return nil, errors.New("phmsdk: no verifier")
	}
	st, err := translog.ParseState(state, v.v.Origin)
	if err != nil {
		return nil, errors.New(vigil.ErrorMessage(err))
	}
	b := translog.Bundle{Manifest: manifest, Checkpoint: checkpoint}
	if b.Index, b.Inclusion, err = translog.ParseProofFile(inclusion, "index"); err != nil {
		return nil, fmt.Errorf("inclusion: %s", vigil.ErrorMessage(err))
	}
	from, cons, err := translog.ParseProofFile(consistency, "old")
	if err != nil {
		return nil, fmt.Errorf("consistency: %s", vigil.ErrorMessage(err))
	}
	b.Consistency = cons
	cp, err := v.v.Checkpoint(checkpoint)
	if err != nil {
		return nil, fmt.Errorf("table refused: %s", vigil.ErrorMessage(err))
	}
	if st.Checkpoint.N > 0 && st.Checkpoint.N < cp.N && from != st.Checkpoint.N {
		return nil, fmt.Errorf("table refused: the consistency proof starts at log size %d, this device last saw %d: fetch a proof from %d", from, st.Checkpoint.N, st.Checkpoint.N)
	}
	t, err := get()
	if err != nil {
		return nil, err
	}
	_, next, err := v.v.Table(t, b, st)
	if err != nil {
		return nil, fmt.Errorf("table refused: %s", vigil.ErrorMessage(err))
	}
	c.SetTable(t)
	return translog.EncodeState(next), nil
}

// SetTable gives the client a table verified by other means (Go callers;
// gomobile bind skips it: messengers call LoadTable).
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
