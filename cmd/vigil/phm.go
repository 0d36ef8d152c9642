package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/cloudflare/circl/group"

	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/server"
)

// PHMCommand runs private hash matching by hand: `vigil phm keygen|account|
// voucher|open`. voucher does what a messenger's client does for each image
// sent; open does what the PHM service does with what it receives.
type PHMCommand struct {
	*Main
	// tables opens the table directories of `vigil phm build-table`;
	// nil: this build has none (phm/table provides it).
	tables phmTables
}

// phmTables reads what `vigil phm build-table` writes: the table a device
// downloads, and the blinding scalar α the service keeps.
type phmTables interface {
	Table(dir string) (phm.Table, error)
	Alpha(dir string) (group.Scalar, error)
}

const phmUsage = `Usage:
	vigil phm keygen --out DIR
	vigil phm account --out FILE [--threshold N] [--capacity N] [--synthetic-rate P]
	vigil phm voucher --table DIR --account FILE --review-pub FILE --out DIR [--ref REF] IMAGE...
	vigil phm open --table DIR --review-key FILE [--account-id ID] VOUCHER...
	vigil phm eval [--images DIR] [flags]   (the measurements on benign pictures: vigil help phm eval)

keygen writes the review service's HPKE key pair (review.key, secret; review.pub).
account writes a device's fresh account state (secret): the threshold t (a match opens an
account only past t), the synthetic capacity s and the synthetic rate p_syn.
voucher makes one constant-size voucher per image, as a device would (OUT/NAME.voucher), and
saves the account state back; it prints nothing about matches, because it knows nothing.
open opens the vouchers as the service would and reports the account: positives (matches and
synthetic vouchers alike), whether the threshold recovered the account key, and for each
revealed image its SHA-256 and attachment reference.`

// Run dispatches to the phm subcommands.
func (c *PHMCommand) Run(ctx context.Context, args []string) error {
	sub, args, err := c.group(args, phmUsage, "keygen", "account", "voucher", "open")
	if err != nil {
		return err
	}
	fs := c.newFlagSet("vigil phm "+sub, synopsis(phmUsage, "vigil phm "+sub))
	switch sub {
	case "keygen":
		out := fs.String("out", "", "directory for review.key and review.pub (required)")
		if err := fs.parse(args); err != nil {
			return err
		}
		if err := fs.nargs(0, 0, "no arguments"); err != nil {
			return err
		}
		if *out == "" {
			return fs.usageErrorf("phm keygen needs --out")
		}
		return c.keygen(*out)
	case "account":
		out := fs.String("out", "", "file for the account state (required; not overwritten)")
		t := fs.Int("threshold", phm.DefaultParams.T, "threshold t: more than t matches open the account")
		s := fs.Int("capacity", phm.DefaultParams.S, "synthetic capacity s per epoch (at least t)")
		rate := fs.Float64("synthetic-rate", 0, "probability p_syn that a voucher is synthetic")
		fs.limit("threshold", between(1, 1024))
		fs.limit("capacity", between(1, 1024))
		fs.limit("synthetic-rate", between(0, 1))
		if err := fs.parse(args); err != nil {
			return err
		}
		if err := fs.nargs(0, 0, "no arguments"); err != nil {
			return err
		}
		if *out == "" {
			return fs.usageErrorf("phm account needs --out")
		}
		a, err := client.NewAccount(rand.Reader, phm.Params{T: *t, S: *s}, *rate)
		if err != nil {
			return err
		}
		b, _ := a.MarshalBinary()
		return writeNew(*out, b)
	case "voucher":
		table := fs.String("table", "", "table directory from vigil phm build-table (required)")
		acct := fs.String("account", "", "account state file, updated (required)")
		pub := fs.String("review-pub", "", "review service public key file (required)")
		out := fs.String("out", "", "directory for the vouchers (required)")
		ref := fs.String("ref", "", "attachment reference carried in the inner payload (default: the file name)")
		if err := fs.parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			return fs.usageErrorf("phm voucher takes at least one IMAGE")
		}
		if *table == "" || *acct == "" || *pub == "" || *out == "" {
			return fs.usageErrorf("phm voucher needs --table, --account, --review-pub and --out")
		}
		return c.voucher(*table, *acct, *pub, *out, *ref, fs.Args())
	case "open":
		table := fs.String("table", "", "table directory from vigil phm build-table, with its α (required)")
		key := fs.String("review-key", "", "review service private key file (required)")
		id := fs.String("account-id", "cli", "account the vouchers came from")
		t := fs.Int("threshold", phm.DefaultParams.T, "threshold t the accounts were made with")
		s := fs.Int("capacity", phm.DefaultParams.S, "synthetic capacity s the accounts were made with")
		fs.limit("threshold", between(1, 1024))
		fs.limit("capacity", between(1, 1024))
		if err := fs.parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			return fs.usageErrorf("phm open takes at least one VOUCHER")
		}
		if *table == "" || *key == "" {
			return fs.usageErrorf("phm open needs --table and --review-key")
		}
		return c.open(ctx, *table, *key, *id, phm.Params{T: *t, S: *s}, fs.Args())
	}
	return nil
}

var errNoTables = errors.New("this build cannot read PHM tables yet (phm/table provides them)")

func (c *PHMCommand) keygen(dir string) error {
	k, err := phm.InnerKEM.GenerateKey()
	if err != nil {
		return fmt.Errorf("generate review key: %w", err)
	}
	priv, err := k.Bytes()
	if err != nil {
		return fmt.Errorf("encode review key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := writeNew(filepath.Join(dir, "review.key"), priv); err != nil {
		return err
	}
	return writeNew(filepath.Join(dir, "review.pub"), k.PublicKey().Bytes())
}

// maxKeyFile bounds the key and account files read.
const maxKeyFile = client.MaxAccountSize

func (c *PHMCommand) voucher(tableDir, acctFile, pubFile, out, ref string, images []string) error {
	if c.tables == nil {
		return errNoTables
	}
	tbl, err := c.tables.Table(tableDir)
	if err != nil {
		return err
	}
	ab, err := readLimited(acctFile, maxKeyFile)
	if err != nil {
		return err
	}
	a, err := client.ParseAccount(ab)
	if err != nil {
		return fmt.Errorf("account %s: %w", acctFile, err)
	}
	pb, err := readLimited(pubFile, maxKeyFile)
	if err != nil {
		return err
	}
	pub, err := phm.InnerKEM.NewPublicKey(pb)
	if err != nil {
		return fmt.Errorf("review key %s: %w", pubFile, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	failed := false
	for _, path := range images {
		data, err := readLimited(path, hashing.DefaultLimits.MaxBytes)
		if err == nil {
			var content *client.Content
			if content, err = client.Prepare(data, hashing.Limits{}); err == nil {
				r := ref
				if r == "" {
					r = filepath.Base(path)
				}
				var v []byte
				if v, err = a.NewVoucher(tbl, pub, content, r, rand.Reader); err == nil {
					err = writeNew(filepath.Join(out, filepath.Base(path)+".voucher"), v)
				}
			}
		}
		if err != nil {
			fmt.Fprintf(c.Stderr, "vigil: %s: %s\n", path, errorText(err))
			failed = true
			continue
		}
		// The account changed (repeat set, synthetic count): save it after
		// every voucher, so a crash does not make the next one repeat.
		b, _ := a.MarshalBinary()
		if err := replaceFile(acctFile, b); err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "%s\n", filepath.Join(out, filepath.Base(path)+".voucher"))
	}
	if failed {
		return errSilent
	}
	return nil
}

func (c *PHMCommand) open(ctx context.Context, tableDir, keyFile, account string, p phm.Params, vouchers []string) error {
	if c.tables == nil {
		return errNoTables
	}
	alpha, err := c.tables.Alpha(tableDir)
	if err != nil {
		return err
	}
	kb, err := readLimited(keyFile, maxKeyFile)
	if err != nil {
		return err
	}
	review, err := phm.InnerKEM.NewPrivateKey(kb)
	if err != nil {
		return fmt.Errorf("review key %s: %w", keyFile, err)
	}
	o, err := server.NewOpener(alpha, p)
	if err != nil {
		return err
	}
	// One state per epoch: an epoch's shares and DHF points never mix
	// with another's.
	type epochState struct {
		acct     *server.Account
		vouchers int
		revealed []server.Sealed
	}
	epochs := map[uint32]*epochState{}
	failed := false
	for _, path := range vouchers {
		b, err := readLimited(path, int64(p.VoucherSize()))
		var v *phm.Voucher
		if err == nil {
			v, err = phm.ParseVoucher(b, p)
		}
		if err == nil {
			e := epochs[v.Epoch]
			if e == nil {
				e = &epochState{acct: server.NewAccount(p)}
				epochs[v.Epoch] = e
			}
			e.vouchers++
			var pos *server.Positive
			var ok bool
			if pos, ok, err = o.Open(b); err == nil && ok {
				e.acct.Add(pos)
				var got []server.Sealed
				got, err = e.acct.TryRecover()
				e.revealed = append(e.revealed, got...)
			}
		}
		if err != nil {
			fmt.Fprintf(c.Stderr, "vigil: %s: %s\n", path, errorText(err))
			failed = true
		}
	}
	var order []uint32
	for ep := range epochs {
		order = append(order, ep)
	}
	slices.Sort(order)
	var revealed []server.Sealed
	for _, ep := range order {
		e := epochs[ep]
		fmt.Fprintf(c.Stdout, "account %s epoch %d: %d vouchers, %d positives, threshold %d, recovered %v, revealed %d\n",
			account, ep, e.vouchers, e.acct.Positives(), p.T, e.acct.Recovered(), len(e.revealed))
		revealed = append(revealed, e.revealed...)
	}
	var lines []string
	for _, s := range revealed {
		pl, err := server.OpenPayload(review, s)
		if err != nil {
			fmt.Fprintf(c.Stderr, "vigil: voucher %x: %s\n", s.ID, errorText(err))
			failed = true
			continue
		}
		lines = append(lines, fmt.Sprintf("revealed %s ref %q %dx%d derivative %d bytes", hex.EncodeToString(pl.SHA256[:]), pl.Ref, pl.Width, pl.Height, len(pl.Derivative)))
	}
	sort.Strings(lines)
	if len(lines) > 0 {
		fmt.Fprintln(c.Stdout, strings.Join(lines, "\n"))
	}
	if failed {
		return errSilent
	}
	return nil
}

// readLimited reads a whole file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit", path, st.Size(), limit)
	}
	b := make([]byte, st.Size())
	if _, err := f.ReadAt(b, 0); err != nil && len(b) > 0 {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// writeNew writes a secret-safe (0600) file that must not exist yet.
func writeNew(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// replaceFile replaces path with b atomically (write beside, rename).
func replaceFile(path string, b []byte) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	if err := writeNew(tmp, b); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}
