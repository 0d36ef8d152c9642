package main

import (
	"crypto/hpke"
	"fmt"
	"log/slog"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/second"
	"github.com/vigil-oss/vigil/phm/server"
)

// phmServeFlags turn on the private hash matching review service inside
// vigil serve (POST /v1/phm/vouchers), off by default. They are shared by
// `vigil phm open --db`, which runs the same service on the store.
type phmServeFlags struct {
	table, keys, reviewKey *string
	// secondKey is the keyed second hash's key file (vigil phm keygen's
	// second.key): with it, the second check compares each derivative
	// with the listed picture where the store keeps its keyed hash, and
	// refuses a match of an entry that has none.
	secondKey *string
	// allowUnkeyed lets, with secondKey, a match of an entry without a
	// keyed hash stand on PDQ and the re-encode alone
	// (server.Service.AllowUnkeyed).
	allowUnkeyed *bool
	t, s         *int
	// previousKeys and previousReview are the key directories of earlier
	// tables and earlier review keys, kept through a rotation.
	previousKeys, previousReview stringsFlag
	// inboxMax bounds the vouchers vigil serve holds received but not
	// processed (nil: not serving, as for vigil phm open).
	inboxMax *int
	// grid and quantum are the hand-off grid's period and the payloads
	// every tick of it handles, real or dummy (server.Inbox.HandOffEvery
	// and Quantum; nil: not serving).
	grid, spread *time.Duration
	quantum      *int
	// prefix is the flags' prefix, for the errors that name them.
	prefix string
}

func addPHMServeFlags(fs *flagSet, prefix string) *phmServeFlags {
	f := &phmServeFlags{
		prefix:       prefix,
		table:        fs.String(prefix+"table", "", "directory of the current PHM table (vigil phm build-table --out): turns on the private hash matching review service; its blinding must be --"+prefix+"keys' α"),
		keys:         fs.String(prefix+"keys", "", "the PHM table's secret key directory (vigil phm table-keys --out), whose alpha opens the vouchers"),
		reviewKey:    fs.String(prefix+"review-key", "", "the PHM review service's private key file (vigil phm keygen's review.key)"),
		secondKey:    fs.String(prefix+"second-key", "", "the keyed second hash's key file (vigil phm keygen's second.key): a revealed item matching an entry with a keyed hash under it (vigil phm key-entries) stands only if the keyed hash agrees; a match of entries without one is refused unless --"+prefix+"allow-unkeyed"),
		allowUnkeyed: fs.Bool(prefix+"allow-unkeyed", false, "with --"+prefix+"second-key: confirm a match of entries without a keyed hash (hash-only lists) on PDQ and the re-encode alone, which a white-box crafted collision passes: gives up the guarantee that every confirmed item passed the keyed hash"),
		t:            fs.Int(prefix+"threshold", phm.DefaultParams.T, "PHM threshold t the devices' accounts are made with"),
		s:            fs.Int(prefix+"capacity", phm.DefaultParams.S, "PHM synthetic capacity s the devices' accounts are made with"),
	}
	fs.Var(&f.previousKeys, prefix+"previous-keys", "key directory of an earlier PHM table, repeatable: vouchers of devices that have not fetched the current table yet still open (each costs every non-matching voucher as much again)")
	fs.Var(&f.previousReview, prefix+"previous-review-key", "an earlier PHM review key file, repeatable: payloads and account keys sealed to it still open")
	if prefix != "" {
		f.inboxMax = fs.Int(prefix+"inbox-max", vigil.DefaultPHMInboxMax, "PHM vouchers held received but not yet processed (the inbox, in the store); past it every batch is answered 503 alike")
		fs.limit(prefix+"inbox-max", between(1, 10_000_000))
		f.grid = fs.Duration(prefix+"grid", server.DefaultHandOffEvery, "period of the PHM hand-off grid: at every tick the worker recovers one due account and checks a fixed quantum of payloads, dummies where nothing is due, so that its work does not say when a threshold was crossed (about 0.4% of a core and 16 KB/s of chaff writes at 10s; 4% and 163 KB/s at 1s)")
		f.spread = fs.Duration(prefix+"spread", server.DefaultHandOffSpread, "the PHM hand-off grid hands an account's revealed vouchers on (and opens its case) at a tick drawn at random within this after the tick that recovered or revealed them, so that the one tick whose work is not the same as the others' is not the one after the crossing (0: the next tick)")
		f.quantum = fs.Int(prefix+"quantum", 0, "payloads every tick of the PHM hand-off grid opens and checks, real ones padded with dummies; more wait for the next ticks (0, or under t+1: t+1)")
		fs.limit(prefix+"quantum", between(0, vigil.MaxPHMPending+1))
	}
	fs.limit(prefix+"threshold", between(1, 1024))
	fs.limit(prefix+"capacity", between(1, 1024))
	return f
}

// on reports whether the service was asked for.
func (f *phmServeFlags) on() bool {
	return *f.table != "" || *f.keys != "" || *f.reviewKey != "" || *f.secondKey != ""
}

func (f *phmServeFlags) params() phm.Params { return phm.Params{T: *f.t, S: *f.s} }

// service builds the review service over store: the table's α, the review
// key, the matcher for the second check and the detection flow. It reads
// every file before returning, so a wrong one is refused at start.
func (f *phmServeFlags) service(tables phmTables, store vigil.PHMService, banks vigil.MatchService, flow server.Responder, logger *slog.Logger) (*server.Service, error) {
	if *f.table == "" || *f.keys == "" || *f.reviewKey == "" {
		return nil, fmt.Errorf("the PHM service needs the table directory, its key directory and the review key")
	}
	if store == nil {
		return nil, fmt.Errorf("this store keeps no PHM account state")
	}
	alpha, err := tables.Alpha(*f.keys)
	if err != nil {
		return nil, err
	}
	// The α must be the current table's: vouchers made against a table
	// blinded under another would never open, and nothing would say so.
	tbl, err := tables.Table(*f.table)
	if err != nil {
		return nil, err
	}
	if !tbl.Public().IsEqual(phm.Group.NewElement().MulGen(alpha)) {
		return nil, fmt.Errorf("the table in %s is not blinded with the α of %s", *f.table, *f.keys)
	}
	review, err := readReviewKey(*f.reviewKey)
	if err != nil {
		return nil, err
	}
	o, err := server.NewOpener(alpha, f.params())
	if err != nil {
		return nil, err
	}
	svc := &server.Service{Opener: o, Review: review, Store: store, Banks: banks, Respond: flow, Logger: logger, Stats: &server.Stats{}}
	if *f.secondKey != "" {
		if svc.Second, err = readSecondKey(*f.secondKey); err != nil {
			return nil, err
		}
		svc.AllowUnkeyed = *f.allowUnkeyed
		if svc.AllowUnkeyed && logger != nil {
			logger.Warn("phm second check: matches of entries without a keyed hash are confirmed on PDQ and the re-encode alone (--" + f.prefix + "allow-unkeyed)")
		}
	} else if *f.allowUnkeyed {
		return nil, fmt.Errorf("--%sallow-unkeyed is for --%ssecond-key: without a keyed hash key every match rests on PDQ and the re-encode", f.prefix, f.prefix)
	}
	if in, ok := store.(vigil.PHMInbox); ok && f.inboxMax != nil {
		// vigil serve answers a batch once it is in the inbox, and
		// processes it after (StartPHM runs the worker).
		svc.Inbox = server.NewInbox(in, *f.inboxMax)
		if f.grid != nil {
			if *f.grid < 10*time.Millisecond || *f.grid > time.Hour {
				return nil, fmt.Errorf("--%sgrid %v: want 10ms to 1h", f.prefix, *f.grid)
			}
			if *f.spread < 0 || *f.spread > 24*time.Hour {
				return nil, fmt.Errorf("--%sspread %v: want 0 to 24h", f.prefix, *f.spread)
			}
			svc.Inbox.HandOffEvery, svc.Inbox.Quantum, svc.Inbox.HandOffSpread = *f.grid, *f.quantum, *f.spread
		}
	}
	for _, dir := range f.previousKeys {
		a, err := tables.Alpha(dir)
		if err != nil {
			return nil, err
		}
		po, err := server.NewOpener(a, f.params())
		if err != nil {
			return nil, err
		}
		svc.Previous = append(svc.Previous, po)
	}
	for _, file := range f.previousReview {
		rk, err := readReviewKey(file)
		if err != nil {
			return nil, err
		}
		svc.PreviousReview = append(svc.PreviousReview, rk)
	}
	return svc, nil
}

func readReviewKey(file string) (hpke.PrivateKey, error) {
	kb, err := readLimited(file, maxKeyFile)
	if err != nil {
		return nil, err
	}
	k, err := phm.InnerKEM.NewPrivateKey(kb)
	if err != nil {
		return nil, fmt.Errorf("review key %s: %w", file, err)
	}
	return k, nil
}

// readSecondKey reads a keyed second hash key file (at most
// second.MaxKeyFile bytes).
func readSecondKey(file string) (*second.Key, error) {
	b, err := readLimited(file, second.MaxKeyFile)
	if err != nil {
		return nil, err
	}
	k, err := second.ParseKey(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return k, nil
}
