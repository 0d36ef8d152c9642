package vigil

import (
	"context"
	"time"
)

// Limits on the private hash matching service's inbox.
const (
	// MaxPHMInboxVoucherLen bounds one voucher in the inbox: the largest
	// voucher (s = 1,024) is under 64 KiB.
	MaxPHMInboxVoucherLen = 64 << 10
	// MaxPHMInboxAppend bounds the vouchers of one append (one request).
	MaxPHMInboxAppend = 64
	// DefaultPHMInboxMax is the inbox's default bound in vouchers: at the
	// default parameters about 170 MB of vouchers (17,069 bytes each).
	DefaultPHMInboxMax = 10000
)

// PHMInboxItem is a received voucher waiting in the inbox.
type PHMInboxItem struct {
	// ID is the voucher's place in the inbox: the order of arrival.
	ID      int64
	Account string
	Voucher []byte
	// Attempts counts the failed attempts at it so far.
	Attempts int
}

// PHMInbox is the private hash matching service's durable inbox: the raw
// vouchers received and not yet processed, so that a voucher is answered
// for once it is stored, before anything is done with it, and a crash
// loses none. Nothing in it says what a voucher is: rows of matching and
// non-matching vouchers are alike until the worker opens them.
type PHMInbox interface {
	// AppendPHMInbox stores vouchers of account at the inbox's end, in
	// order, all or none in one transaction, and returns once it has
	// committed. EUNAVAILABLE if the inbox would then hold more than max
	// vouchers (max ≤ 0: no bound); EINVALID for an account id, an empty
	// voucher or one over MaxPHMInboxVoucherLen; ETOOLARGE for more than
	// MaxPHMInboxAppend vouchers.
	AppendPHMInbox(ctx context.Context, account string, vouchers [][]byte, max int) error
	// PHMInboxNext returns up to limit vouchers due at now (never tried,
	// or retried after no later than now), oldest first.
	PHMInboxNext(ctx context.Context, now time.Time, limit int) ([]PHMInboxItem, error)
	// DeletePHMInbox removes processed vouchers; ids not in the inbox
	// are ignored. Where the store can, the bytes are overwritten.
	DeletePHMInbox(ctx context.Context, ids []int64) error
	// DeferPHMInbox records a failed attempt at a voucher: its attempts
	// counted, not due before until. ENOTFOUND if it is not in the inbox.
	DeferPHMInbox(ctx context.Context, id int64, until time.Time) error
	// PHMInboxDepth returns the vouchers in the inbox and their bytes.
	PHMInboxDepth(ctx context.Context) (vouchers int, bytes int64, err error)
}
