package server

import (
	"bytes"
	"context"
	"crypto/hpke"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	vigil "github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/dhf"
	"github.com/vigil-oss/vigil/phm/second"
)

// Responder is what Vigil does with a detection; *respond.Service is one.
type Responder interface {
	Match(ctx context.Context, ref vigil.ContentRef, results []vigil.MatchResult, media func() ([]byte, error)) *vigil.Outcome
}

// Service runs PHM for many accounts: open, count, recover past the
// threshold, re-check each revealed image on the server only, and hand
// the confirmed ones to the detection flow as one case. Its accounts'
// state is in Store, one transaction per batch of vouchers, so a restart
// forgets no positive and counts no voucher twice.
type Service struct {
	Opener *Opener
	// Review is the review service's HPKE private key (phm.InnerKEM).
	Review hpke.PrivateKey
	// Previous are openers of tables published before Opener's, tried in
	// order when a voucher does not open under Opener: a device that has
	// not fetched the new table yet made its vouchers against an old one.
	// A voucher counts once whichever opens it (its id is kept per
	// account). Each costs a voucher's 64 scalar multiplications more on
	// every voucher that does not open under the current table.
	Previous []*Opener
	// PreviousReview are review keys used before Review, tried in order
	// for payloads and stored account keys sealed to them. New account
	// keys are sealed to Review.
	PreviousReview []hpke.PrivateKey
	// Store keeps each account's positives, recovered key and revealed
	// vouchers (required).
	Store vigil.PHMService
	// Banks is the full plaintext matcher (*matcher.Matcher): the second,
	// server-only check of every revealed derivative, PDQ ≤ 31.
	Banks vigil.MatchService
	// Second is the key of the review service's keyed second hash
	// (phm/second; nil: not used). With it, a PDQ match of the second
	// check stands only if the matched entry's keyed hash under this key
	// (Store's, where Vigil held the listed picture) is within
	// second.Threshold of the derivative's in some orientation. A match
	// of an entry without one under this key (a hash-only list) is not
	// confirmed: PDQ and the re-encode alone are beaten by a white-box
	// collision (docs/benchmarks.md), so with a key every confirmed item
	// has passed the keyed hash, unless AllowUnkeyed.
	Second *second.Key
	// AllowUnkeyed, with Second, lets a match of an entry without a keyed
	// hash under Second stand on PDQ and the re-encode alone, as before
	// the strict mode: hash-only lists are checked, but a crafted
	// collision onto one of their entries is confirmed. The audit record
	// says so per item either way.
	AllowUnkeyed bool
	// Respond opens the case; nil: confirmed items are only returned.
	Respond Responder
	// Actor names the service in the audit log ("" is "phm").
	Actor  string
	Logger *slog.Logger // nil: discard
	// Now is the clock of recovery times (nil: time.Now).
	Now func() time.Time
	// Stats counts what the service did, for its operators' metrics
	// (nil: not counted).
	Stats *Stats
	// Inbox, if set, is where Receive keeps the vouchers received, for
	// Run to process after they are answered for (inbox.go).
	Inbox *Inbox

	probe *workProbe // tests: the work counted (tick.go)
	dummy *dummies   // made at the first tick (Run's goroutine alone)
	// held are the accounts whose revealed vouchers the grid holds back
	// until a time drawn at random (Inbox.HandOffSpread): Run's
	// goroutine alone.
	held map[heldAccount]time.Time
}

// Stats counts, since the process started, the revealed items the second
// check confirmed and refused, the refused items that the keyed hash
// refused, and the revealed payloads that did not open with the review
// key. Safe for concurrent use.
type Stats struct {
	confirmed, rejected, unopened, keyedRefused, unkeyedRefused atomic.Int64
}

// UnkeyedRefused is the count of revealed items that passed PDQ and the
// re-encode but were refused because no matched entry has a keyed hash
// under the service's key (Service.Second without AllowUnkeyed): a match
// of a hash-only list, which the second check cannot tell from a crafted
// collision.
func (s *Stats) UnkeyedRefused() int64 { return s.unkeyedRefused.Load() }

// KeyedRefused is the count of revealed items that passed PDQ and the
// re-encode but that the keyed second hash refused (Service.Second): one
// such item is a crafted collision, or a listed picture edited past the
// keyed hash's reach.
func (s *Stats) KeyedRefused() int64 { return s.keyedRefused.Load() }

// Confirmed is the count of revealed items the second check confirmed.
func (s *Stats) Confirmed() int64 { return s.confirmed.Load() }

// Rejected is the count of revealed items the second check refused.
func (s *Stats) Rejected() int64 { return s.rejected.Load() }

// Unopened is the count of revealed payloads the review key did not open.
func (s *Stats) Unopened() int64 { return s.unopened.Load() }

// Params are the voucher parameters the service opens vouchers under.
func (s *Service) Params() phm.Params { return s.Opener.params }

// Result is what one voucher did to its account. It goes to the service's
// operators, never back to the client.
type Result struct {
	// Opened is whether an element opened (a match or a synthetic voucher).
	Opened bool
	// Replay is whether the voucher was counted before (by id): it counts
	// nothing and reveals nothing again. A voucher past the account's
	// bound (t + s + 1 pending) is not counted either, and is no replay.
	Replay bool
	// Epoch is the account epoch of an opened voucher.
	Epoch int64
	// Positives is the count of the account's opened vouchers so far in
	// the voucher's epoch (0 when the voucher did not open).
	Positives int
	// Recovered is whether the account key is recovered.
	Recovered bool
	// Revealed are the payloads opened by this voucher's arrival.
	Revealed []*phm.Payload
	// Confirmed are the revealed items the second check confirmed.
	Confirmed []Confirmed
	// Outcome is the detection flow's outcome for the confirmed items.
	Outcome *vigil.Outcome
}

// Confirmed is a revealed item whose derivative matched the full banks.
type Confirmed struct {
	Payload *phm.Payload
	Result  vigil.MatchResult
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// reviewKeys are Review then PreviousReview.
func (s *Service) reviewKeys() []hpke.PrivateKey {
	return append([]hpke.PrivateKey{s.Review}, s.PreviousReview...)
}

func (s *Service) actor() string {
	if s.Actor == "" {
		return "phm"
	}
	return s.Actor
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// keyInfo binds a stored account key to its account and epoch.
func keyInfo(account string, epoch uint32) []byte {
	return []byte("vigil-phm-v1 account key " + vigil.PHMTarget(account, epoch))
}

// restore rebuilds an account from its stored state: the pending headers
// parsed, the account key opened with the review key.
func (s *Service) restore(st *vigil.PHMAccount) (*Account, error) {
	var key []byte
	if st.Key != nil {
		var err error
		for _, rk := range s.reviewKeys() {
			if key, err = hpke.Open(rk, phm.InnerKDF, phm.InnerAEAD, keyInfo(st.Account, st.Epoch), st.Key); err == nil {
				break
			}
		}
		s.probe.add(func(p *workCounts) { p.KeyOpens++ })
		if err != nil {
			return nil, fmt.Errorf("open stored account key (with none of %d review keys): %w", len(s.reviewKeys()), err)
		}
	}
	pending := make([]*Positive, len(st.Pending))
	for i, v := range st.Pending {
		h, err := phm.ParseHeader(v.Data, s.Opener.params)
		if err != nil {
			return nil, fmt.Errorf("stored voucher %x: %w", v.ID, err)
		}
		pending[i] = &Positive{Epoch: st.Epoch, ID: v.ID, Header: h}
	}
	a := RestoreAccount(s.Opener.params, st.Positives, key, pending)
	a.probe = s.probe
	return a, nil
}

// Submit processes one voucher from account as the inbox's worker does a
// batch (process), as a batch of one: a voucher that opens is counted
// (once: a replay of its id counts nothing) in one transaction of the
// store, with the audit record of what it revealed; any other runs the
// same transaction and keeps nothing. What the voucher revealed, past the
// threshold, is handed to the detection flow before Submit returns.
func (s *Service) Submit(ctx context.Context, account string, voucher []byte) (*Result, error) {
	rs, errs, err := s.SubmitBatch(ctx, account, [][]byte{voucher})
	if err != nil {
		return nil, err
	}
	return rs[0], errs[0]
}

// SubmitBatch is Submit for many vouchers of account, processed in order
// as the inbox's worker does, in batches of at most
// vigil.MaxPHMInboxBatch, each one transaction of the store (so that
// `vigil phm open` over many files pays a commit per batch, not per
// voucher). It returns each voucher's result and error (a voucher dropped
// as invalid: nil result, its EINVALID error; a hand-off that failed: its
// result and the error), or, for a failure of the store, an error alone:
// the batches before it are kept, nothing of the failing one or after.
func (s *Service) SubmitBatch(ctx context.Context, account string, vouchers [][]byte) ([]*Result, []error, error) {
	if s.Store == nil {
		return nil, nil, fmt.Errorf("phm: no store for the accounts")
	}
	if err := vigil.ValidatePHMAccount(account); err != nil {
		return nil, nil, err
	}
	rs, errs := make([]*Result, len(vouchers)), make([]error, len(vouchers))
	for from := 0; from < len(vouchers); from += vigil.MaxPHMInboxBatch {
		batch := vouchers[from:min(from+vigil.MaxPHMInboxBatch, len(vouchers))]
		items := make([]vigil.PHMInboxItem, len(batch))
		for i, v := range batch {
			items[i] = vigil.PHMInboxItem{Account: account, Voucher: v}
		}
		ws, err := s.process(ctx, items)
		if err != nil {
			return nil, nil, err
		}
		last := map[uint32]int{} // the last voucher that left its epoch due
		for i, w := range ws {
			if w.err != nil {
				errs[from+i] = w.err
				continue
			}
			if w.due {
				last[w.p.Epoch] = from + i
			}
			rs[from+i] = w.res
		}
		// What the batch left due is recovered and handed on before
		// SubmitBatch returns (the grid's work, without the grid: the
		// caller is the operator, not a client), and told in the result
		// of the voucher that last made its epoch due.
		for _, epoch := range slices.Sorted(maps.Keys(last)) {
			i := last[epoch]
			res := rs[i]
			sealed, recovered, err := s.recoverAccount(ctx, account, epoch)
			if err != nil {
				errs[i] = err
				continue
			}
			res.Recovered = res.Recovered || recovered
			if len(sealed) > 0 {
				res.Revealed, res.Confirmed, res.Outcome, errs[i] = s.handle(ctx, account, epoch, sealed)
			}
		}
	}
	return rs, errs, nil
}

// openers are Opener then Previous.
func (s *Service) openers() []*Opener {
	return append([]*Opener{s.Opener}, s.Previous...)
}

// work is one voucher's processing: what it opened to, and what its
// account's transaction did with it.
type work struct {
	item vigil.PHMInboxItem
	p    *Positive // nil: it did not open
	res  *Result
	// due says its batch left its account due for the hand-off grid.
	due bool
	// err is the EINVALID error that dropped it.
	err error
}

// process runs a batch of vouchers (at most vigil.MaxPHMInboxBatch) in
// one transaction of the store (vigil.PHMService.ApplyPHMInbox), the
// items' inbox rows deleted in it, and returns each one's work. An error
// is the store's: nothing of the batch was kept, and it is to be tried
// again.
//
// Below the threshold the work of a voucher has one shape whatever it
// opens to (docs/benchmarks.md, phm-slot): every opener tries every
// element and every way, with an AEAD open of the header where none
// opened; the store makes the same reads for every item and gives the
// account's state (its latest epoch's, for a voucher that did not open)
// to the same restore; the detection a positive's arrival runs is run
// over the pending positives (idle) for one that keeps nothing; and the
// store writes as many rows and bytes for either, chaff into a fixed ring
// for the voucher that keeps nothing. Nothing is handed to the detection
// flow here (see Run).
func (s *Service) process(ctx context.Context, items []vigil.PHMInboxItem) ([]*work, error) {
	ws := make([]*work, len(items))
	ups := make([]vigil.PHMInboxUpdate, len(items))
	for i, it := range items {
		ws[i], ups[i] = s.prepare(it)
	}
	applied, err := s.Store.ApplyPHMInbox(ctx, ups)
	if err != nil {
		return nil, err
	}
	for i, w := range ws {
		a := applied[i]
		if a.Err != nil && w.err == nil {
			w.err = a.Err
		}
		if w.err != nil || (w.p != nil && !a.Counted) {
			w.due = false
		}
	}
	return ws, nil
}

// prepare opens a voucher and returns its work and its account update.
func (s *Service) prepare(it vigil.PHMInboxItem) (*work, vigil.PHMInboxUpdate) {
	w := &work{item: it, res: &Result{}}
	pad := s.Opener.params.HeaderPlainSize()
	u := vigil.PHMInboxUpdate{ID: it.ID, Account: it.Account, Pad: pad}
	v, err := phm.ParseVoucher(it.Voucher, s.Opener.params)
	if err != nil {
		// Not a voucher: dropped inside the batch, with the reads and
		// the chaff of any voucher that keeps nothing.
		w.err = vigil.Errorf(vigil.EINVALID, "%v", err)
	} else {
		u.Voucher = v.ID
		// Every opener is tried, whichever opens first: the work is the
		// same for a voucher of the current table, of an older one, or
		// of none.
		for _, o := range s.openers() {
			h, opened, oerr := o.open(v)
			if oerr != nil && w.p == nil && w.err == nil {
				w.err = vigil.Errorf(vigil.EINVALID, "%v", oerr)
			}
			if opened && w.p == nil && w.err == nil {
				w.p = &Positive{Epoch: v.Epoch, ID: v.ID, Header: h}
			}
		}
	}
	if w.p != nil {
		u.Opened, u.Epoch = true, w.p.Epoch
		w.res.Opened, w.res.Epoch = true, int64(w.p.Epoch)
	}
	u.Fn = func(st *vigil.PHMAccount, keep bool) (*vigil.AuditRecord, error) {
		w.due = false // set afresh should the store run this again
		a, latest, err := s.restoreBatch(st)
		if err != nil {
			return nil, err
		}
		if !keep || w.p == nil {
			if w.p != nil {
				// A replay: it counts nothing and reveals nothing again.
				w.res.Replay = true
				w.res.Positives, w.res.Recovered = st.Positives, st.Key != nil
			}
			return nil, s.idle(a)
		}
		w.res.Positives, w.res.Recovered = a.Positives(), st.Key != nil
		if !a.Add(w.p) {
			// Not counted (past the bound): nothing changes, the store
			// writes chaff.
			return nil, s.idle(a)
		}
		if latest != nil {
			// The first positive of a new epoch does the detection a
			// voucher that did not open does on the latest epoch.
			s.detect(latest, true)
		}
		// The detection that says whether the key could be recovered;
		// recovering it, and opening what it reveals, is the grid's
		// (tick), so that the batch that crosses the threshold, or brings
		// a recovered account a match, does what any positive below the
		// threshold does.
		crossing := s.detect(a, false)
		header, err := phm.MarshalHeader(w.p.Header, s.Opener.params)
		if err != nil {
			return nil, err
		}
		s.probe.add(func(p *workCounts) { p.Headers++ })
		st.Positives = a.Positives()
		st.Due = st.Due || crossing || st.Key != nil
		st.Changes = append(st.Changes, vigil.PHMVoucher{ID: w.p.ID, State: vigil.PHMPending, Data: header, N: st.Positives})
		w.due = st.Due
		w.res.Positives = a.Positives()
		return nil, nil
	}
	return w, u
}

// restoreBatch rebuilds an account from its stored state for a batch of
// vouchers: the pending headers parsed (and, for a new epoch's first
// positive, the latest epoch's, returned as latest for the work alone).
// The stored key is not opened: the batch neither recovers nor reveals,
// so a recovered account's vouchers cost what any other's do.
func (s *Service) restoreBatch(st *vigil.PHMAccount) (a, latest *Account, err error) {
	parse := func(vs []vigil.PHMVoucher) ([]*Positive, error) {
		out := make([]*Positive, len(vs))
		for i, v := range vs {
			h, err := phm.ParseHeader(v.Data, s.Opener.params)
			if err != nil {
				return nil, fmt.Errorf("stored voucher %x: %w", v.ID, err)
			}
			out[i] = &Positive{Epoch: st.Epoch, ID: v.ID, Header: h}
		}
		s.probe.add(func(p *workCounts) { p.Parsed += len(vs) })
		return out, nil
	}
	pending, err := parse(st.Pending)
	if err != nil {
		return nil, nil, err
	}
	if len(st.Latest) > 0 {
		lp, err := parse(st.Latest)
		if err != nil {
			return nil, nil, err
		}
		latest = RestoreAccount(s.Opener.params, len(lp), nil, lp)
	}
	a = RestoreAccount(s.Opener.params, st.Positives, nil, pending)
	// An account recovered, or due to be at the next tick, takes every
	// positive, as it did when the batch recovered at once: they wait
	// pending for the tick.
	a.unbounded = st.Due || st.Key != nil
	return a, latest, nil
}

// detect runs the detectable hash over the account's pending positives
// when they are more than T, and says whether more than T of them are
// real: the account's key may then be recovered. dup adds the last
// positive once more, as a voucher that keeps nothing does to run on as
// many points as a positive's arrival would (its result is then the
// work, not the answer).
func (s *Service) detect(a *Account, dup bool) bool {
	n := len(a.positives)
	if n == 0 {
		return false
	}
	pts := make([][]uint64, 0, n+1)
	for _, p := range a.positives {
		pts = append(pts, p.Header.DHF)
	}
	if dup {
		pts = append(pts, a.positives[n-1].Header.DHF)
	}
	if len(pts) <= a.params.T {
		return false
	}
	s.probe.add(func(p *workCounts) { p.Detections++; p.Points += len(pts) })
	found, err := dhf.Detect(pts, a.params.S, a.params.T)
	return err == nil && !dup && len(found) > a.params.T
}

// idle is, for a voucher that keeps nothing, the work a positive does in
// its account's batch transaction, changing nothing: the detection over
// the account's pending positives and the last of them again (as a
// positive's arrival makes one more), whose result is dropped, and the
// encoding of a header (a blank one in an account with none pending, as
// a positive encodes its own).
func (s *Service) idle(a *Account) error {
	s.detect(a, true)
	h := s.blankHeader()
	if n := len(a.positives); n > 0 {
		h = a.positives[n-1].Header
	}
	_, err := phm.MarshalHeader(h, a.params)
	s.probe.add(func(p *workCounts) { p.Headers++ })
	return err
}

// blankHeader is a header of the service's parameters with nothing in it.
func (s *Service) blankHeader() *phm.Header {
	return &phm.Header{DHF: make([]uint64, 1+s.Opener.params.S), Inner: make([]byte, phm.SealedInnerSize)}
}

// handle opens revealed payloads with the review key, puts them to the
// second check and the detection flow, and marks them handled. A payload
// that does not open is logged and marked handled too: it is no evidence.
// On an error (the second check's, the store's, or an action of the
// detection flow that did not land) nothing is marked, and the next
// hand-off (Run's retry, or Resume at start) tries again.
func (s *Service) handle(ctx context.Context, account string, epoch uint32, sealed []Sealed) ([]*phm.Payload, []Confirmed, *vigil.Outcome, error) {
	return s.handlePadded(ctx, account, epoch, sealed, nil, nil)
}

// handlePadded is handle with the dummy payloads pad put through the
// second check beside the real ones, and chaff rows of sizes chaff
// written with the handled marks: a tick's fixed quantum (tick.go).
func (s *Service) handlePadded(ctx context.Context, account string, epoch uint32, sealed []Sealed, pad []*phm.Payload, chaff []int) ([]*phm.Payload, []Confirmed, *vigil.Outcome, error) {
	var revealed []*phm.Payload
	ids := make([][vigil.PHMVoucherIDLen]byte, len(sealed))
	for i, sl := range sealed {
		ids[i] = sl.ID
		var pl *phm.Payload
		var err error
		for _, rk := range s.reviewKeys() {
			if pl, err = OpenPayload(rk, sl); err == nil {
				break
			}
		}
		s.probe.add(func(p *workCounts) { p.PayloadOpens++ })
		if err != nil {
			// A real positive whose payload the review key cannot open was
			// made for another review key: log it, it is not evidence.
			s.logger().Error("phm payload does not open", "account", account, "voucher", hex.EncodeToString(sl.ID[:]), "err", err)
			continue
		}
		revealed = append(revealed, pl)
	}
	var confirmed []Confirmed
	var outcome *vigil.Outcome
	var keyed keyedVerdicts
	if len(revealed) > 0 || len(pad) > 0 {
		var err error
		if confirmed, keyed, err = s.checkPadded(ctx, revealed, pad); err != nil {
			return revealed, nil, nil, err
		}
		if len(confirmed) > 0 && s.Respond != nil {
			outcome = s.respond(ctx, account, epoch, confirmed)
			if outcome != nil && len(outcome.Errors) > 0 {
				// The case (or another action) did not land: nothing is
				// marked, and the hand-off is tried again (Run, Resume).
				// A retry opens no second case: the case is keyed by the
				// item.
				return revealed, confirmed, outcome, fmt.Errorf("detection flow for %s: %s", vigil.PHMTarget(account, epoch), strings.Join(outcome.Errors, "; "))
			}
		}
	}
	// The second check's verdict on every revealed item is recorded with
	// the change that hands them on: an item it refused (a false match of
	// the exact table, or a crafted collision) is never shown as a match,
	// and is not forgotten either.
	rec, rejected, err := s.checkRecord(account, epoch, len(sealed), revealed, confirmed, keyed)
	if err != nil {
		return revealed, confirmed, outcome, err
	}
	if err := s.Store.MarkPHMHandled(vigil.WithAudit(ctx, rec), account, epoch, ids, chaff); err != nil {
		return revealed, confirmed, outcome, err
	}
	if s.Stats != nil {
		s.Stats.confirmed.Add(int64(len(confirmed)))
		s.Stats.rejected.Add(int64(rejected))
		s.Stats.unopened.Add(int64(len(sealed) - len(revealed)))
		s.Stats.keyedRefused.Add(int64(keyed.count(KeyedRefused)))
		s.Stats.unkeyedRefused.Add(int64(keyed.count(KeyedUnkeyedRefused)))
	}
	if rejected > 0 {
		s.logger().Warn("phm revealed items failed the second check", "account", account, "epoch", epoch, "rejected", rejected, "confirmed", len(confirmed))
	}
	return revealed, confirmed, outcome, nil
}

// AuditPHMSecondCheck records the second check's verdict on the items an
// account revealed: which were confirmed (and went to the detection flow)
// and which were refused.
const AuditPHMSecondCheck = "phm.second_check"

// checkItem is one revealed item in the second check's audit record.
type checkItem struct {
	Voucher string  `json:"voucher,omitempty"`
	SHA256  string  `json:"sha256"`
	Ref     string  `json:"ref,omitempty"`
	Entries []int64 `json:"entries,omitempty"`
	// Keyed is the keyed second hash's verdict on the item (one of the
	// Keyed* values; empty when the item did not reach it: its PDQ or
	// re-encode refused it, or it did not decode).
	Keyed string `json:"keyed,omitempty"`
	// KeyedEntries are the PDQ-matched entries that have a keyed hash,
	// with the derivative's distance to it; Unkeyed those that have none,
	// whose match rests on PDQ alone.
	KeyedEntries []keyedEntry `json:"keyed_entries,omitempty"`
	Unkeyed      []int64      `json:"unkeyed_entries,omitempty"`
}

// The keyed second hash's verdicts on an item, as its audit record names
// them.
const (
	// KeyedPassed: some matched entry's keyed hash is within
	// second.Threshold of the derivative's.
	KeyedPassed = "passed"
	// KeyedRefused: every matched entry has a keyed hash and none is
	// within the threshold: the item is refused.
	KeyedRefused = "refused"
	// KeyedNoHash: no matched entry's keyed hash passed, and some
	// matched entry has none (a hash-only list): the item stands on PDQ
	// and the re-encode alone (Service.AllowUnkeyed).
	KeyedNoHash = "no keyed hash for entry"
	// KeyedUnkeyedRefused: no matched entry's keyed hash passed, and
	// some matched entry has none: the item is refused (the strict mode,
	// Service.AllowUnkeyed false).
	KeyedUnkeyedRefused = "refused: no keyed hash for entry"
	// KeyedNoKey: the service has no keyed hash key (Service.Second).
	KeyedNoKey = "no keyed hash key"
)

// keyedEntry is an entry's keyed hash distance in the audit record.
type keyedEntry struct {
	Entry    int64 `json:"entry"`
	Distance int   `json:"distance"`
}

// keyedVerdict is the keyed hash's verdict on one item that passed PDQ and
// the re-encode.
type keyedVerdict struct {
	verdict string
	keyed   []keyedEntry
	unkeyed []int64
}

// keyedVerdicts are check's verdicts by item.
type keyedVerdicts map[*phm.Payload]*keyedVerdict

// count counts the items of one verdict.
func (kv keyedVerdicts) count(verdict string) int {
	n := 0
	for _, v := range kv {
		if v.verdict == verdict {
			n++
		}
	}
	return n
}

// checkRecord is the audit record of the second check over revealed, and
// how many it refused. sealed counts the payloads handed in, some of which
// may not have opened; keyed are the keyed hash's verdicts (check).
func (s *Service) checkRecord(account string, epoch uint32, sealed int, revealed []*phm.Payload, confirmed []Confirmed, keyed keyedVerdicts) (*vigil.AuditRecord, int, error) {
	item := func(pl *phm.Payload, es []int64) checkItem {
		it := checkItem{SHA256: hex.EncodeToString(pl.SHA256[:]), Ref: pl.Ref, Entries: es}
		if v := keyed[pl]; v != nil {
			it.Keyed = v.verdict
			it.KeyedEntries, it.Unkeyed = v.keyed, v.unkeyed
			// Bounded like the items: an item matching more entries
			// than that is named with the first of them.
			if len(it.KeyedEntries) > maxCheckItems {
				it.KeyedEntries = it.KeyedEntries[:maxCheckItems]
			}
			if len(it.Unkeyed) > maxCheckItems {
				it.Unkeyed = it.Unkeyed[:maxCheckItems]
			}
		}
		if len(it.Entries) > maxCheckItems {
			it.Entries = it.Entries[:maxCheckItems]
		}
		return it
	}
	ok := map[*phm.Payload][]int64{}
	var conf []checkItem
	for _, c := range confirmed {
		var es []int64
		for _, m := range c.Result.Matches {
			es = append(es, m.EntryID)
		}
		ok[c.Payload] = es
		conf = append(conf, item(c.Payload, es))
	}
	var rej []checkItem
	for _, pl := range revealed {
		if _, found := ok[pl]; !found {
			rej = append(rej, item(pl, nil))
		}
	}
	// The detail is bounded like any audit detail: past maxCheckItems
	// items per list only the counts are kept.
	if len(conf) > maxCheckItems {
		conf = conf[:maxCheckItems]
	}
	nrej := len(rej)
	if len(rej) > maxCheckItems {
		rej = rej[:maxCheckItems]
	}
	keyID := ""
	if s.Second != nil {
		keyID = s.Second.ID()
	}
	rec := &vigil.AuditRecord{Actor: s.actor(), Action: AuditPHMSecondCheck, Target: vigil.PHMTarget(account, epoch)}
	err := rec.SetDetail(map[string]any{
		"revealed": len(revealed), "unopened": sealed - len(revealed),
		"confirmed": len(confirmed), "rejected": nrej, "keyed_refused": keyed.count(KeyedRefused),
		"unkeyed_refused": keyed.count(KeyedUnkeyedRefused),
		"keyed_hash_key":  keyID, "allow_unkeyed": s.Second != nil && s.AllowUnkeyed,
		"confirmed_items": conf, "rejected_items": rej,
	})
	return rec, nrej, err
}

// maxCheckItems bounds the items named in one second-check audit record.
const maxCheckItems = 64

// Resume finishes what the service left before it stopped: every due
// account recovered and revealed (a batch committed, the grid's tick not
// yet run), then what was revealed but not handed on (a crash between the
// reveal's commit and the case), account by account; it returns how many
// vouchers it handed on. Run it at start: it is not on the grid.
func (s *Service) Resume(ctx context.Context) (int, error) {
	if s.Store == nil {
		return 0, fmt.Errorf("phm: no store for the accounts")
	}
	var errs []error
	failed := map[vigil.PHMDueAccount]bool{}
	for ctx.Err() == nil {
		due, err := s.Store.PHMDue(ctx, 100)
		if err != nil {
			return 0, err
		}
		progress := false
		for _, d := range due {
			if failed[d] {
				continue
			}
			if _, _, err := s.recoverAccount(ctx, d.Account, d.Epoch); err != nil {
				errs = append(errs, err)
				failed[d] = true
				continue
			}
			progress = true
		}
		if !progress {
			break
		}
	}
	n := 0
	for {
		rev, err := s.Store.PHMRevealed(ctx, 100)
		if err != nil || len(rev) == 0 {
			return n, errors.Join(append(errs, err)...)
		}
		// An account whose hand-off fails does not hold back the others
		// of the page; it stays revealed, and would come first again, so
		// the pass ends with the page and the next one takes it up.
		k, err := s.handOn(ctx, rev, nil, nil)
		n += k
		if err != nil {
			return n, errors.Join(append(errs, err)...)
		}
	}
}

// Check is the second, server-only check: each derivative's PDQ is matched
// against the full banks at distance ≤ 31, and a match stands only if the
// derivative re-encoded by the service (phm.Recoded) is also within 31 of
// that entry. A device-side collision crafted against the exact table must
// survive this on the content itself; the re-encode refuses one
// hill-climbed onto a listed PDQ with thin margins, which a faithful
// derivative carries intact (docs/benchmarks.md).
//
// With a keyed hash key (Second), a match that passed both stands only if
// the entry's keyed hash, where the store has one, is within
// second.Threshold of the derivative's in one of its eight orientations:
// a collision crafted onto the PDQ does not move the band the keyed hash
// reads, under a key the attacker does not have. A match of an entry
// without a keyed hash (the list gave only hashes) is refused, unless
// AllowUnkeyed, when it stands on PDQ alone.
func (s *Service) Check(ctx context.Context, payloads []*phm.Payload) ([]Confirmed, error) {
	out, _, err := s.check(ctx, payloads)
	return out, err
}

// check is Check with the keyed hash's verdict on every item that passed
// PDQ and the re-encode, for the audit record.
func (s *Service) check(ctx context.Context, payloads []*phm.Payload) ([]Confirmed, keyedVerdicts, error) {
	return s.checkPadded(ctx, payloads, nil)
}

// checkPadded is check over payloads and, in the same lookup, the dummy
// payloads pad, each of which goes through every step a match does
// (the keyed hash computed and read too, with a key), its results
// dropped: the hand-off grid's fixed quantum (tick.go).
func (s *Service) checkPadded(ctx context.Context, payloads, pad []*phm.Payload) ([]Confirmed, keyedVerdicts, error) {
	dummy := map[*phm.Payload]bool{}
	for _, pl := range pad {
		dummy[pl] = true
	}
	payloads = append(slices.Clip(payloads), pad...)
	if s.Banks == nil {
		return nil, nil, fmt.Errorf("phm: no banks for the second check")
	}
	if s.Second != nil && s.Store == nil {
		return nil, nil, fmt.Errorf("phm: no store for the keyed second hashes")
	}
	h := pdq.NewHasher(pdq.Full)
	var signals []vigil.Signal
	var items []*phm.Payload
	var imgs []image.Image
	var recoded [][8]pdq.Hash
	for _, pl := range payloads {
		img, err := DecodeDerivative(pl.Derivative)
		if err != nil {
			s.logger().Warn("phm derivative does not decode", "err", err)
			continue
		}
		re, err := phm.Recoded(h, img)
		if err != nil {
			s.logger().Warn("phm derivative does not re-encode", "err", err)
			continue
		}
		recoded = append(recoded, re)
		dih, q := h.HashDihedral(img)
		variants := map[string]string{}
		for d := pdq.Rotate90; d <= pdq.FlipMinus1; d++ {
			variants[d.String()] = dih[d].String()
		}
		signals = append(signals, vigil.Signal{Type: vigil.SignalPDQ, Value: dih[pdq.Original].String(), Quality: &q, Dihedral: variants})
		items = append(items, pl)
		imgs = append(imgs, img)
	}
	if len(signals) == 0 {
		return nil, nil, nil
	}
	s.probe.add(func(p *workCounts) { p.Derivatives += len(items); p.Lookups++ })
	results, err := s.Banks.Lookup(ctx, signals, vigil.MatchOptions{Dihedral: true})
	if err != nil {
		return nil, nil, fmt.Errorf("second check: %w", err)
	}
	// PDQ and the re-encode first: the keyed hashes are read, and the
	// derivatives' computed, only for what passed them.
	passed := make([][]vigil.Match, len(results))
	var entryIDs []int64
	for i, r := range results {
		for _, m := range r.Matches {
			// A bank may set a wider threshold; the second check is ≤ 31.
			if m.Distance > pdq.MatchThreshold {
				continue
			}
			entry, err := pdq.ParseHash(m.Value)
			if err != nil {
				s.logger().Warn("phm second check: bank entry is not a PDQ hash", "bank", m.Bank, "entry", m.EntryID, "err", err)
				continue
			}
			if phm.NearestDistance(recoded[i], entry) > pdq.MatchThreshold {
				continue
			}
			passed[i] = append(passed[i], m)
			entryIDs = append(entryIDs, m.EntryID)
		}
	}
	if s.Second != nil && len(pad) > 0 {
		entryIDs = append(entryIDs, 0) // no entry has id 0: read for the work
	}
	listed, err := s.keyedHashes(ctx, entryIDs)
	if err != nil {
		return nil, nil, err
	}
	verdicts := keyedVerdicts{}
	kh := (*second.Hasher)(nil)
	var out []Confirmed
	for i, r := range results {
		if dummy[items[i]] {
			if s.Second != nil {
				if kh == nil {
					kh = second.NewHasher()
				}
				kh.Dihedral(s.Second, imgs[i])
				s.probe.add(func(p *workCounts) { p.Keyed++ })
			}
			continue
		}
		if len(passed[i]) == 0 {
			continue
		}
		kept := passed[i]
		if s.Second == nil {
			verdicts[items[i]] = &keyedVerdict{verdict: KeyedNoKey}
		} else {
			if kh == nil {
				kh = second.NewHasher()
			}
			var v *keyedVerdict
			kept, v = s.keyedCheck(kh, imgs[i], passed[i], listed)
			verdicts[items[i]] = v
		}
		if len(kept) == 0 {
			continue
		}
		r.Matches = kept
		out = append(out, Confirmed{Payload: items[i], Result: r})
	}
	return out, verdicts, nil
}

// keyedHashes reads the keyed hashes under s.Second of entries (nil
// without a key), in calls of at most vigil.MaxPHMKeyedHashes.
func (s *Service) keyedHashes(ctx context.Context, entries []int64) (map[int64]vigil.PHMKeyedHash, error) {
	if s.Second == nil || len(entries) == 0 {
		return nil, nil
	}
	slices.Sort(entries)
	entries = slices.Compact(entries)
	out := map[int64]vigil.PHMKeyedHash{}
	for len(entries) > 0 {
		n := min(len(entries), vigil.MaxPHMKeyedHashes)
		s.probe.add(func(p *workCounts) { p.KeyedReads++ })
		got, err := s.Store.PHMKeyedHashes(ctx, s.Second.ID(), entries[:n])
		if err != nil {
			return nil, fmt.Errorf("second check: keyed hashes: %w", err)
		}
		maps.Copy(out, got)
		entries = entries[n:]
	}
	return out, nil
}

// keyedCheck puts the matches of one derivative (img) that passed PDQ and
// the re-encode to the keyed hash: a match of an entry with a keyed hash
// is kept if the derivative's, in its nearest orientation, is within
// second.Threshold; one without is kept on PDQ alone if AllowUnkeyed,
// and dropped if not.
func (s *Service) keyedCheck(kh *second.Hasher, img image.Image, matches []vigil.Match, listed map[int64]vigil.PHMKeyedHash) ([]vigil.Match, *keyedVerdict) {
	v := &keyedVerdict{}
	var dih [8]second.Hash
	hashed, ok := false, false
	var kept []vigil.Match
	pass := false
	for _, m := range matches {
		l, has := listed[m.EntryID]
		if !has {
			v.unkeyed = append(v.unkeyed, m.EntryID)
			if s.AllowUnkeyed {
				kept = append(kept, m)
			}
			continue
		}
		if !hashed {
			dih, ok = kh.Dihedral(s.Second, img)
			hashed = true
			s.probe.add(func(p *workCounts) { p.Keyed++ })
		}
		d := second.Bits
		if ok {
			// A derivative under PDQ's smallest size has no keyed hash;
			// its PDQ, which needs the same size, would not have matched.
			d = second.Nearest(dih, second.Hash(l.Hash))
		}
		v.keyed = append(v.keyed, keyedEntry{Entry: m.EntryID, Distance: d})
		if d <= second.Threshold {
			pass = true
			kept = append(kept, m)
		}
	}
	switch {
	case pass:
		v.verdict = KeyedPassed
	case len(v.unkeyed) > 0 && s.AllowUnkeyed:
		v.verdict = KeyedNoHash
	case len(v.unkeyed) > 0:
		v.verdict = KeyedUnkeyedRefused
	default:
		v.verdict = KeyedRefused
	}
	return kept, v
}

// respond opens one case for the account's confirmed items of an epoch:
// one content reference naming the source and the account (content id
// "phm:ACCOUNT/EPOCH", user id the account), one match result per item,
// and as the case media the items' derivatives (one derivative alone, or
// a contact sheet of them in order; see Sheet). The media is kept and
// shown, blurred, like any case's.
func (s *Service) respond(ctx context.Context, account string, epoch uint32, confirmed []Confirmed) *vigil.Outcome {
	results := make([]vigil.MatchResult, len(confirmed))
	derivs := make([][]byte, len(confirmed))
	for i, c := range confirmed {
		results[i] = c.Result
		derivs[i] = c.Payload.Derivative
	}
	first := confirmed[0].Payload
	ref := vigil.ContentRef{
		SHA256:    hex.EncodeToString(first.SHA256[:]),
		MediaType: "image/jpeg",
		ContentID: vigil.PHMTarget(account, epoch),
		UserID:    account,
	}
	return s.Respond.Match(ctx, ref, results, func() ([]byte, error) {
		if c, _ := ctx.Value(sheetsKey{}).(*atomic.Int64); c != nil {
			c.Add(1) // a tick's count (tick.go)
		}
		s.probe.add(func(p *workCounts) { p.Sheets++ })
		return Sheet(derivs)
	})
}

// MaxDerivativeSide bounds the sides of a derivative the service decodes:
// devices send 128×128 (or 64×64); a payload is at most 4 KB, but a JPEG
// header may claim any size, and decoding what it claims would take
// memory a hostile device chooses.
const MaxDerivativeSide = 256

// DecodeDerivative decodes a payload's derivative, refusing one whose
// header claims more than MaxDerivativeSide a side before decoding it.
func DecodeDerivative(b []byte) (image.Image, error) {
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("derivative: %w", err)
	}
	if cfg.Width > MaxDerivativeSide || cfg.Height > MaxDerivativeSide {
		return nil, fmt.Errorf("derivative of %d×%d, over %d a side", cfg.Width, cfg.Height, MaxDerivativeSide)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("derivative: %w", err)
	}
	return img, nil
}

// MaxSheetItems bounds the derivatives a case's contact sheet shows (a
// grid of 6×6 at most); the audit record names every item.
const MaxSheetItems = 36

// Sheet returns the case media of derivatives: the one derivative as it
// came, or a greyscale JPEG grid of the first MaxSheetItems in order,
// each in a cell of the largest derivative's size. A derivative that does
// not decode leaves its cell black.
func Sheet(derivs [][]byte) ([]byte, error) {
	if len(derivs) == 0 {
		return nil, nil
	}
	if len(derivs) == 1 {
		return derivs[0], nil
	}
	if len(derivs) > MaxSheetItems {
		derivs = derivs[:MaxSheetItems]
	}
	imgs := make([]image.Image, len(derivs))
	cw, ch := 1, 1
	for i, d := range derivs {
		img, err := DecodeDerivative(d)
		if err != nil {
			continue
		}
		imgs[i] = img
		b := img.Bounds()
		cw, ch = max(cw, min(b.Dx(), 256)), max(ch, min(b.Dy(), 256))
	}
	cols := 1
	for cols*cols < len(derivs) {
		cols++
	}
	rows := (len(derivs) + cols - 1) / cols
	sheet := image.NewGray(image.Rect(0, 0, cols*cw, rows*ch))
	for i, img := range imgs {
		if img == nil {
			continue
		}
		at := image.Pt((i%cols)*cw, (i/cols)*ch)
		draw.Draw(sheet, image.Rectangle{Min: at, Max: at.Add(image.Pt(cw, ch))}, img, img.Bounds().Min, draw.Src)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, sheet, &jpeg.Options{Quality: 90}); err != nil {
		return nil, fmt.Errorf("encode contact sheet: %w", err)
	}
	return buf.Bytes(), nil
}
