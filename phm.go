package vigil

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"
)

// AuditPHMReveal records the private hash matching service opening the
// inner payloads of an account's matching vouchers: at the threshold, and
// for every real match after it.
const AuditPHMReveal = "phm.reveal"

// Limits on the private hash matching service's stored state.
const (
	// PHMVoucherIDLen is the length of a voucher id (phm.IDSize).
	PHMVoucherIDLen = 16
	// MaxPHMAccountLen bounds an account id.
	MaxPHMAccountLen = MaxEntryFieldLen
	// MaxPHMDataLen bounds what is kept of one voucher: an opened header
	// (32 + 8·(1+s) + 5,248 bytes, 13.5 KB at the largest s of 1,024) or a
	// sealed inner payload (5,248 bytes).
	MaxPHMDataLen = 16 << 10
	// MaxPHMKeyLen bounds the stored (sealed) account key.
	MaxPHMKeyLen = 2048
	// MaxPHMPending bounds the vouchers an account holds before its
	// threshold: t + s + 1 with t, s ≤ 1,024 (phm.Params.Validate).
	MaxPHMPending = 2049
)

// PHMVoucherState is where an opened voucher is in the service.
type PHMVoucherState string

const (
	// PHMPending: counted, the account not yet past its threshold; Data is
	// the opened header (share, DHF vector, sealed inner layer).
	PHMPending PHMVoucherState = "pending"
	// PHMRevealed: a real match whose inner payload was opened; Data is the
	// payload still sealed to the review key, kept until the detection
	// flow has it (MarkPHMHandled), so a crash in between loses nothing.
	PHMRevealed PHMVoucherState = "revealed"
	// PHMHandled: revealed and handed to the detection flow; no data kept.
	PHMHandled PHMVoucherState = "handled"
	// PHMDropped: counted but never revealed (a synthetic voucher, or
	// junk the detectable hash left out at recovery); no data kept.
	PHMDropped PHMVoucherState = "dropped"
)

// PHMVoucher is one opened voucher of an account.
type PHMVoucher struct {
	ID    [PHMVoucherIDLen]byte
	State PHMVoucherState
	// Data is what the state keeps (see the states); nil for the others.
	Data []byte
	// N is the voucher's place among the account's counted vouchers
	// (1, 2, …): the order of arrival.
	N int
}

// PHMAccount is the service's state of one account in one epoch.
type PHMAccount struct {
	Account string
	Epoch   uint32
	// Positives counts the vouchers counted (real and synthetic alike).
	Positives int
	// Key is the recovered account key as the service keeps it (sealed to
	// its review key); nil before the threshold.
	Key         []byte
	RecoveredAt *time.Time
	// Pending are the PHMPending vouchers, in order of arrival.
	Pending []PHMVoucher
	// Due says the account has work for the hand-off grid: its pending
	// vouchers may recover the key (the detectable hash found more than
	// T real ones), or, once recovered, a new positive is to be opened.
	// The batch of vouchers sets it; the tick that recovers clears it.
	Due bool
	// Latest are, for an account epoch that has no state yet
	// (ApplyPHMInbox given a voucher opening to a new epoch), the pending
	// vouchers of the account's latest epoch, given to fn for the work
	// alone: a voucher that does not open is given that epoch's state,
	// and both parse as much. Changes never name them.
	Latest []PHMVoucher
	// Chaff are sizes of chaff rows that RecoverPHMAccount writes into
	// the ring in the same transaction, set by its fn: a recovery slot
	// of the grid writes as many rows whatever it reveals.
	Chaff []int

	// Changes are set by the function given to UpdatePHMAccount: vouchers
	// to add (the one submitted, with N = Positives) or to move on from
	// their state. The store applies them with the fields above.
	Changes []PHMVoucher
}

// PHMRevealedVoucher is a revealed voucher not yet handed to the detection
// flow, with its account.
type PHMRevealedVoucher struct {
	Account string
	Epoch   uint32
	PHMVoucher
}

// PHMService keeps the private hash matching service's state per account
// and epoch (phm/server): what was counted, what was revealed, and the
// recovered key, so that a restart forgets nothing and counts nothing
// twice.
type PHMService interface {
	// PHMKeyedHashService keeps the keyed second hash of listed pictures.
	PHMKeyedHashService
	// UpdatePHMAccount is the one transaction of an opened voucher. If
	// voucher is recorded for the account's epoch already (a replay), it
	// returns false and calls nothing. Otherwise it calls fn with the
	// account's state (Positives 0 and nothing else if it has none), in a
	// write transaction that no other update of any account runs beside,
	// then stores the fields fn changed, its Changes, and the audit record
	// fn returns (nil: none), all or nothing, and returns true. A voucher
	// fn leaves out of Changes is not recorded. An error from fn stores
	// nothing and is returned. EINVALID for an account id or changes over
	// the limits or against the states' rules.
	UpdatePHMAccount(ctx context.Context, account string, epoch uint32, voucher [PHMVoucherIDLen]byte, fn func(a *PHMAccount) (*AuditRecord, error)) (bool, error)
	// ApplyPHMInbox is the one transaction of a batch of processed inbox
	// vouchers (1 to MaxPHMInboxBatch), whatever each opened to: for each
	// item in order, the account update UpdatePHMAccount makes (fn called
	// with the state as the batch's earlier items left it, its changes
	// validated, its audit record stored), then the deletion of the
	// items' inbox rows (PHMInboxUpdate.ID), all or nothing. Every item
	// reads alike (the account's latest epoch, a replay check, the
	// account's state and pending vouchers, which fn is given) and writes
	// alike: an item that keeps something (opened, no replay, its voucher
	// in the changes) its voucher row and account row, any other a chaff
	// record as long, into a fixed ring of PHMChaffSlots rows, so that the
	// store grows with counted vouchers only. An EINVALID error from fn or
	// its changes drops the item inside the batch (its Err; chaff
	// written, row deleted); any other error undoes the whole batch and is
	// returned. ETOOLARGE for more than MaxPHMInboxBatch items.
	ApplyPHMInbox(ctx context.Context, items []PHMInboxUpdate) ([]PHMInboxApplied, error)
	// PHMAccount returns an account's state (Changes empty); ENOTFOUND
	// if it has none.
	PHMAccount(ctx context.Context, account string, epoch uint32) (*PHMAccount, error)
	// PHMRevealed returns up to limit revealed vouchers of any account
	// not yet handled, oldest first.
	PHMRevealed(ctx context.Context, limit int) ([]PHMRevealedVoucher, error)
	// MarkPHMHandled moves revealed vouchers to handled and forgets their
	// payloads, and writes chaff rows of sizes chaff (at most
	// MaxPHMChaffRows) into the ring in the same transaction, so that a
	// tick of the hand-off grid writes as many rows however many it
	// handed on. Vouchers not in the revealed state are left as they are.
	MarkPHMHandled(ctx context.Context, account string, epoch uint32, ids [][PHMVoucherIDLen]byte, chaff []int) error
	// PHMDue returns up to limit accounts whose state is Due, the
	// longest-waiting first.
	PHMDue(ctx context.Context, limit int) ([]PHMDueAccount, error)
	// RecoverPHMAccount is the one transaction of a due account's turn
	// on the hand-off grid: it calls fn with the account's state (its
	// pending vouchers; ENOTFOUND if it has none), then stores the fields
	// fn changed (Positives, Key, RecoveredAt, Due), its Changes (which
	// may name pending vouchers only) and the audit record fn returns
	// (nil: none), all or nothing. An error from fn stores nothing and is
	// returned.
	RecoverPHMAccount(ctx context.Context, account string, epoch uint32, fn func(a *PHMAccount) (*AuditRecord, error)) error
	// WritePHMChaff writes, in one transaction, one row of random bytes
	// of each of sizes (1 to MaxPHMChaffRows, each at most MaxPHMDataLen
	// + 64 bytes) into the chaff ring of PHMChaffSlots rows: the store
	// work of a tick of the hand-off grid that has nothing real to do,
	// in bounded storage.
	WritePHMChaff(ctx context.Context, sizes []int) error
}

// PHMDueAccount names an account epoch that is Due.
type PHMDueAccount struct {
	Account string
	Epoch   uint32
}

// MaxPHMChaffRows bounds the rows of one WritePHMChaff.
const MaxPHMChaffRows = MaxPHMPending + 1

// PHMInboxUpdate is one processed inbox voucher of ApplyPHMInbox.
type PHMInboxUpdate struct {
	// ID is the voucher's inbox row, deleted in the batch's transaction
	// (0: none, for a voucher that did not come through the inbox).
	ID      int64
	Account string
	// Opened says the voucher opened, to epoch Epoch; a voucher that did
	// not is given the state of its account's latest epoch.
	Opened bool
	Epoch  uint32
	// Voucher is the voucher's id (as it claims it, where it did not
	// open; zero for bytes that are not a voucher).
	Voucher [PHMVoucherIDLen]byte
	// Pad is the data a pending voucher holds under the service's
	// parameters (its opened header): the chaff of an item that keeps
	// nothing is as long as what one that opened below the threshold
	// writes.
	Pad int
	// Fn is called once per run of the transaction with the account's
	// state; keep false says nothing it changes is kept (a voucher that
	// did not open, or a replay), and the call is for the work alone.
	Fn func(a *PHMAccount, keep bool) (*AuditRecord, error)
}

// PHMInboxApplied is what ApplyPHMInbox did with one item.
type PHMInboxApplied struct {
	// Counted: the voucher was recorded (opened, not a replay, and in
	// the changes).
	Counted bool
	// Err is the EINVALID error that dropped the item (nil: none).
	Err error
}

// Bounds of ApplyPHMInbox.
const (
	// MaxPHMInboxBatch bounds the items of one ApplyPHMInbox.
	MaxPHMInboxBatch = 64
	// PHMChaffSlots is the number of rows of the chaff ring: the store's
	// bytes for vouchers that kept nothing, whatever their number.
	PHMChaffSlots = 256
)

// ValidatePHMAccount checks an account id: 1 to MaxPHMAccountLen bytes of
// printable UTF-8.
func ValidatePHMAccount(account string) error {
	if account == "" || len(account) > MaxPHMAccountLen || !Printable(account) {
		return Errorf(EINVALID, "PHM account id must be 1 to %d bytes of printable UTF-8", MaxPHMAccountLen)
	}
	return nil
}

// ValidatePHMChanges checks what fn left in a before a store applies it:
// the counts, the key and each change against its state's rules. A change
// is either of voucher, the one submitted, or of one pending before fn ran
// (pending holds their ids).
func ValidatePHMChanges(a *PHMAccount, voucher [PHMVoucherIDLen]byte, pending map[[PHMVoucherIDLen]byte]bool) error {
	if a.Positives < 0 || len(a.Key) > MaxPHMKeyLen {
		return Errorf(EINVALID, "PHM account with %d positives, a key of %d bytes", a.Positives, len(a.Key))
	}
	if len(a.Changes) > MaxPHMPending+1 {
		return Errorf(EINVALID, "more than %d PHM voucher changes at once", MaxPHMPending+1)
	}
	seen := map[[PHMVoucherIDLen]byte]bool{}
	for _, c := range a.Changes {
		if seen[c.ID] || (c.ID != voucher && !pending[c.ID]) {
			return Errorf(EINVALID, "PHM voucher %s changed twice, or neither submitted nor pending", hex.EncodeToString(c.ID[:]))
		}
		seen[c.ID] = true
		switch c.State {
		case PHMPending, PHMRevealed:
			if len(c.Data) == 0 || len(c.Data) > MaxPHMDataLen {
				return Errorf(EINVALID, "PHM voucher %s %s with %d bytes of data, want 1 to %d", hex.EncodeToString(c.ID[:]), c.State, len(c.Data), MaxPHMDataLen)
			}
		case PHMHandled, PHMDropped:
			if len(c.Data) != 0 {
				return Errorf(EINVALID, "PHM voucher %s %s keeps no data", hex.EncodeToString(c.ID[:]), c.State)
			}
		default:
			return Errorf(EINVALID, "PHM voucher state %q", c.State)
		}
		if !pending[c.ID] && (c.N < 1 || c.N > a.Positives) {
			return Errorf(EINVALID, "new PHM voucher %s numbered %d of %d", hex.EncodeToString(c.ID[:]), c.N, a.Positives)
		}
	}
	return nil
}

// PHMTarget is the audit target of an account's epoch.
func PHMTarget(account string, epoch uint32) string {
	return fmt.Sprintf("phm:%s/%d", account, epoch)
}

// AuditPHMKeyedHashes records keyed second hashes stored for bank
// entries (phm/second): from the listed pictures, where Vigil held them.
const AuditPHMKeyedHashes = "phm.keyed_hashes"

// Limits on the keyed second hashes.
const (
	// PHMKeyedHashLen is the length of a keyed hash (second.Size).
	PHMKeyedHashLen = 32
	// MaxPHMKeyIDLen bounds a key's fingerprint (second.Key.ID: 16 hex
	// digits).
	MaxPHMKeyIDLen = 64
	// MaxPHMKeyedHashes bounds the hashes written or the entries read in
	// one call: the second check reads those of a few matches, a
	// hotline's run writes its pictures in batches.
	MaxPHMKeyedHashes = 1000
)

// PHMKeyedHash is the keyed second hash of a bank entry's picture under
// one key.
type PHMKeyedHash struct {
	EntryID int64
	Hash    [PHMKeyedHashLen]byte
	// CreatedAt is when the store kept this hash (set by the store).
	CreatedAt time.Time
}

// PHMKeyedHashService keeps, per bank entry and key, the keyed second
// hash of the listed picture, which the PHM review service compares with
// a revealed derivative's. An entry has one only where Vigil held its
// picture; a hash-only list has none, and the second check then rests on
// PDQ alone.
type PHMKeyedHashService interface {
	// PutPHMKeyedHashes stores hashes (1 to MaxPHMKeyedHashes, each entry
	// once) under keyID, replacing an entry's earlier hash under the same
	// key, and returns how many were new or changed. The change and its
	// audit record (actor by, AuditPHMKeyedHashes, target
	// PHMKeyTarget(keyID), the entries changed) commit in one
	// transaction; a call that changes nothing records nothing. ENOTFOUND
	// for an entry that does not exist, EINVALID for a key id, an actor or
	// a count out of bounds, or an entry given twice.
	PutPHMKeyedHashes(ctx context.Context, by, keyID string, hashes []PHMKeyedHash) (int, error)
	// PHMKeyedHashes returns the hashes under keyID of those of entryIDs
	// (at most MaxPHMKeyedHashes) that have one, in one query.
	PHMKeyedHashes(ctx context.Context, keyID string, entryIDs []int64) (map[int64]PHMKeyedHash, error)
}

// ValidatePHMKeyID checks a keyed hash key's fingerprint: 1 to
// MaxPHMKeyIDLen lowercase hex digits.
func ValidatePHMKeyID(id string) error {
	if id == "" || len(id) > MaxPHMKeyIDLen {
		return Errorf(EINVALID, "PHM keyed hash key id must be 1 to %d hex digits", MaxPHMKeyIDLen)
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return Errorf(EINVALID, "PHM keyed hash key id must be lowercase hex digits")
		}
	}
	return nil
}

// PHMKeyTarget is the audit target of the keyed hashes under a key.
func PHMKeyTarget(keyID string) string { return "phm-second-key:" + keyID }
