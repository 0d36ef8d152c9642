package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/cloudflare/circl/group"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/media"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/second"
	"github.com/vigil-oss/vigil/phm/server"
	"github.com/vigil-oss/vigil/respond"
	"github.com/vigil-oss/vigil/sqlite"
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
	vigil phm open --table DIR --keys DIR --review-key FILE [--data DIR | --db URL | --memory] [--account-id ID] VOUCHER...
	vigil phm key-entries --second-key FILE --bank NAME [--data DIR | --db URL] [--max-distance N] PICTURE...
	vigil phm eval [--images DIR] [flags]   (the measurements on benign pictures: vigil help phm eval)
	vigil phm table-keys --out DIR [--origin NAME] [--witness NAME]   (the table and its log: vigil help phm build-table)
	vigil phm build-table --keys DIR --log DIR --out DIR [flags]
	vigil phm verify-table --log-key VKEY --operator-key VKEY --witness-key VKEY [flags] DIR
	vigil phm cosign --key-file FILE --log-key VKEY --state FILE [flags] DIR
	vigil phm witness serve --key-file FILE --log-key VKEY --state FILE --token-file FILE [flags]
	vigil phm org-sign --key-file FILE DRAFT   (an organisation signs build-table --draft's manifest)

keygen writes the review service's HPKE key pair (review.key, secret; review.pub) and the key
of its keyed second hash (second.key, secret: vigil phm eval --second-key).
account writes a device's fresh account state (secret): the threshold t (a match opens an
account only past t), the synthetic capacity s and the synthetic rate p_syn.
voucher makes one constant-size voucher per image, as a device would (OUT/NAME.voucher), and
saves the account state back; it prints nothing about matches, because it knows nothing.
open runs the review service of vigil serve --phm-table on the vouchers, on the same store: it
counts on from earlier runs and from the server (one transaction per voucher, replays refused),
re-checks revealed images against the banks and opens their case through the rules. It reports
the account: positives (matches and synthetic vouchers alike, all runs), whether the threshold
recovered the account key, the images revealed and confirmed in this run, and for each revealed
image its SHA-256 and attachment reference. --memory keeps the state for this run only.
key-entries stores, for each listed picture the operator holds, its keyed second hash under
--second-key for the entry of --bank it belongs to: the one PDQ entry within --max-distance bits
(default 8) in some orientation. It prints per picture: keyed (or replaced, unchanged), no entry,
ambiguous (several entries within the distance, or another picture of the run for the same entry)
or low quality; it exits 1 if any picture was not keyed. With --phm-second-key, vigil serve then
refuses a revealed item that matches a keyed entry by PDQ but not by the keyed hash, and one that
matches only entries without a keyed hash (unless --phm-allow-unkeyed).`

// Run dispatches to the phm subcommands.
func (c *PHMCommand) Run(ctx context.Context, args []string) error {
	sub, args, err := c.group(args, phmUsage, "keygen", "account", "voucher", "open", "key-entries")
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
		if *s < *t {
			return fs.usageErrorf("--capacity %d is below --threshold %d: s must be at least t (the design asks 2t)", *s, *t)
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
		pf := addPHMServeFlags(fs, "")
		store := dataFlag(fs)
		memory := fs.Bool("memory", false, "keep the accounts' state for this run only (a throwaway store without banks: the second check confirms nothing, no case opens) instead of in the --data/--db store")
		id := fs.String("account-id", "cli", "account the vouchers came from")
		if err := fs.parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			return fs.usageErrorf("phm open takes at least one VOUCHER")
		}
		if *pf.table == "" || *pf.keys == "" || *pf.reviewKey == "" {
			return fs.usageErrorf("phm open needs --table, --keys and --review-key")
		}
		return c.open(ctx, pf, store, *memory, *id, fs.Args())
	case "key-entries":
		keyFile := fs.String("second-key", "", "the keyed second hash's key file (vigil phm keygen's second.key; required)")
		bank := fs.String("bank", "", "the bank whose entries the pictures are (required)")
		maxDist := fs.Int("max-distance", defaultKeyDistance, "largest PDQ distance, in any orientation, from a picture to its entry")
		fs.limit("max-distance", between(0, pdq.MatchThreshold))
		store := dataFlag(fs)
		if err := fs.parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			return fs.usageErrorf("phm key-entries takes at least one PICTURE")
		}
		if *keyFile == "" || *bank == "" {
			return fs.usageErrorf("phm key-entries needs --second-key and --bank")
		}
		return c.keyEntries(ctx, store, *keyFile, *bank, *maxDist, fs.Args())
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
	if err := writeNew(filepath.Join(dir, "review.pub"), k.PublicKey().Bytes()); err != nil {
		return err
	}
	// The key of the review service's keyed second hash (phm/second):
	// secret like review.key, and never given to a device.
	sk := make([]byte, second.KeySize)
	if _, err := rand.Read(sk); err != nil {
		return fmt.Errorf("generate keyed-hash key: %w", err)
	}
	return writeNew(filepath.Join(dir, "second.key"), []byte(second.FormatKey(sk)))
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
				// NewVoucher changes the account (repeat set, synthetic
				// count): a voucher that is not written was never sent, so
				// the account goes back to what it was before it.
				before, _ := a.MarshalBinary()
				var v []byte
				if v, err = a.NewVoucher(tbl, pub, content, r, rand.Reader); err == nil {
					err = writeNew(filepath.Join(out, filepath.Base(path)+".voucher"), v)
				}
				if err != nil {
					back, perr := client.ParseAccount(before)
					if perr != nil {
						return fmt.Errorf("account %s: restoring after a failed voucher: %w", acctFile, perr)
					}
					a = back
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

func (c *PHMCommand) open(ctx context.Context, pf *phmServeFlags, sf *storeFlags, memory bool, account string, vouchers []string) error {
	if c.tables == nil {
		return errNoTables
	}
	if err := vigil.ValidatePHMAccount(account); err != nil {
		return err
	}
	// The state is the service's own, in a store: the --data/--db one, so
	// that a run counts on from the last exactly as vigil serve does, or
	// with --memory a throwaway one, gone when the run ends.
	var st *store
	var err error
	if memory {
		dir, err := os.MkdirTemp("", "vigil-phm-open-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		db, err := sqlite.Open(ctx, dir, c.Logger)
		if err != nil {
			return err
		}
		st = sqliteStore(db)
	} else if st, err = c.openStore(ctx, sf); err != nil {
		return err
	}
	defer st.Close()
	banks, err := c.localMatcher(ctx, st)
	if err != nil {
		return err
	}
	var flow server.Responder
	if !memory {
		// Cases open through the detection flow, as vigil serve opens them
		// (the store's rules and queues, the data directory's media).
		ms, err := openMediaIfKept(sf.dir())
		if err != nil {
			return err
		}
		rs := &respond.Service{Rules: st.Rules, Cases: st.Cases, Logger: c.Logger}
		if ms != nil {
			rs.Media = ms
		} else {
			fmt.Fprintf(c.Stderr, "vigil: no media key in %s: cases open without their derivatives\n", sf.dir())
		}
		flow = rs
	}
	svc, err := pf.service(c.tables, st.PHM, banks, flow, c.Logger)
	if err != nil {
		return err
	}
	svc.Actor = "cli:phm-open"
	if !memory {
		if _, err := svc.Resume(ctx); err != nil {
			return err
		}
	}
	type epochState struct {
		vouchers, revealed, confirmed int
		cases                         []int64
	}
	epochs := map[uint32]*epochState{}
	failed := false
	var lines []string
	size := pf.params().VoucherSize()
	// The files that parse are processed together, in the service's
	// batches (one store transaction each), in the order given.
	var paths []string
	var data [][]byte
	var states []*epochState
	for _, path := range vouchers {
		b, err := readLimited(path, int64(size))
		var v *phm.Voucher
		if err == nil {
			v, err = phm.ParseVoucher(b, pf.params())
		}
		if err != nil {
			fmt.Fprintf(c.Stderr, "vigil: %s: %s\n", path, errorText(err))
			failed = true
			continue
		}
		e := epochs[v.Epoch]
		if e == nil {
			e = &epochState{}
			epochs[v.Epoch] = e
		}
		e.vouchers++
		paths, data, states = append(paths, path), append(data, b), append(states, e)
	}
	results, errs, err := svc.SubmitBatch(ctx, account, data)
	if err != nil {
		return err
	}
	for i, res := range results {
		if res != nil {
			e := states[i]
			e.revealed += len(res.Revealed)
			e.confirmed += len(res.Confirmed)
			if res.Outcome != nil {
				e.cases = append(e.cases, res.Outcome.Cases...)
			}
			for _, pl := range res.Revealed {
				lines = append(lines, fmt.Sprintf("revealed %s ref %q %dx%d derivative %d bytes", hex.EncodeToString(pl.SHA256[:]), pl.Ref, pl.Width, pl.Height, len(pl.Derivative)))
			}
		}
		if errs[i] != nil {
			fmt.Fprintf(c.Stderr, "vigil: %s: %s\n", paths[i], errorText(errs[i]))
			failed = true
		}
	}
	var order []uint32
	for ep := range epochs {
		order = append(order, ep)
	}
	slices.Sort(order)
	for _, ep := range order {
		e := epochs[ep]
		positives, recovered := 0, false
		if a, err := st.PHM.PHMAccount(ctx, account, ep); err == nil {
			positives, recovered = a.Positives, a.Key != nil
		} else if vigil.ErrorCode(err) != vigil.ENOTFOUND {
			return err
		}
		check := fmt.Sprintf(", confirmed %d, cases %v", e.confirmed, e.cases)
		if memory {
			// The throwaway store has no banks: the second check confirms
			// nothing, and no case opens.
			check = ", confirmed 0 (--memory: no banks, no cases)"
		}
		fmt.Fprintf(c.Stdout, "account %s epoch %d: %d vouchers, %d positives, threshold %d, recovered %v, revealed %d%s\n",
			account, ep, e.vouchers, positives, pf.params().T, recovered, e.revealed, check)
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

// openMediaIfKept opens the data directory's media store when its key is
// there (vigil serve made it), or nil.
func openMediaIfKept(dataDir string) (*media.Store, error) {
	var keys *media.Keyring
	var err error
	if env := os.Getenv(media.EnvKeys); env != "" {
		keys, err = media.ParseKeyring(env)
	} else if path := filepath.Join(dataDir, mediaKeyFileName); fileExists(path) {
		keys, err = media.LoadKeyFile(path)
	} else {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return media.Open(filepath.Join(dataDir, "media"), keys)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
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
	// Read, not trust the size: a device or a pipe has none, and a file
	// may grow after the stat.
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err // an *os.PathError: it names the file
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is over the %d-byte limit", path, limit)
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
		os.Remove(path) // a partial file is no voucher, and would block the next try
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
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
