package server

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	vigil "github.com/vigil-oss/vigil"
)

// Defaults of an Inbox's worker.
const (
	// DefaultInboxPoll is how often Run looks at the inbox when nothing
	// woke it: vouchers stored by another process, or deferred ones come
	// due.
	DefaultInboxPoll = time.Second
	// DefaultRetryMin and DefaultRetryMax bound the backoff of a voucher
	// whose processing failed for a reason that may pass (a store error),
	// and of a hand-off to the detection flow that failed: it doubles from
	// the first to the second.
	DefaultRetryMin = time.Second
	DefaultRetryMax = 5 * time.Minute
	// DefaultRevealedEvery is how often Run looks for revealed vouchers
	// not handed on when no hand-off failed (another process's, say).
	DefaultRevealedEvery = time.Minute
	// inboxBatch is the vouchers Run takes from the inbox at a time, and
	// deletes in one transaction once processed.
	inboxBatch = 16
)

// Inbox is where a Service keeps the vouchers it received and answered
// for but has not processed yet (Receive), and what its worker (Run)
// counts. Make it with NewInbox; set the fields before Run.
type Inbox struct {
	// Store keeps the vouchers (required).
	Store vigil.PHMInbox
	// Max bounds the vouchers waiting: past it Receive refuses every
	// batch alike (≤ 0: vigil.DefaultPHMInboxMax).
	Max int
	// Poll, RetryMin, RetryMax and RevealedEvery are the worker's periods
	// (0: the defaults above).
	Poll, RetryMin, RetryMax, RevealedEvery time.Duration

	processed, dropped, retried, handedOn, handOffFailures, full atomic.Int64
	wake                                                         chan struct{}
}

// NewInbox returns an Inbox on store holding at most max vouchers.
func NewInbox(store vigil.PHMInbox, max int) *Inbox {
	return &Inbox{Store: store, Max: max, wake: make(chan struct{}, 1)}
}

// Processed is the count of vouchers taken from the inbox and processed
// (whatever they did), Dropped included.
func (in *Inbox) Processed() int64 { return in.processed.Load() }

// Dropped is the count of vouchers dropped from the inbox as malformed:
// well-formed to the route, they failed to open for what they are.
func (in *Inbox) Dropped() int64 { return in.dropped.Load() }

// Retried is the count of failed attempts at vouchers left in the inbox
// to be tried again (a store error).
func (in *Inbox) Retried() int64 { return in.retried.Load() }

// HandedOn is the count of revealed vouchers handed to the detection flow
// by a retry: after their own hand-off failed, or from before a restart.
func (in *Inbox) HandedOn() int64 { return in.handedOn.Load() }

// HandOffFailures is the count of hand-offs to the detection flow that
// failed and wait for a retry.
func (in *Inbox) HandOffFailures() int64 { return in.handOffFailures.Load() }

// Full is the count of batches refused because the inbox was full.
func (in *Inbox) Full() int64 { return in.full.Load() }

// Depth returns the vouchers waiting in the inbox and their bytes.
func (in *Inbox) Depth(ctx context.Context) (int, int64, error) {
	return in.Store.PHMInboxDepth(ctx)
}

func (in *Inbox) max() int {
	if in.Max <= 0 {
		return vigil.DefaultPHMInboxMax
	}
	return in.Max
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// backoff is the wait after the nth failure in a row (n ≥ 1).
func (in *Inbox) backoff(n int) time.Duration {
	d, limit := orDefault(in.RetryMin, DefaultRetryMin), orDefault(in.RetryMax, DefaultRetryMax)
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// Receive stores an account's vouchers, checked well-formed by the caller,
// in the inbox, and returns once they are durable; Run processes them
// after (at its next look, or once Wake is called). Its cost depends on how many vouchers there are, never on what
// they are: nothing is opened here. EUNAVAILABLE, for every batch alike,
// when the inbox is full; an error from the store means nothing was
// stored.
func (s *Service) Receive(ctx context.Context, account string, vouchers [][]byte) error {
	in := s.Inbox
	if in == nil || in.Store == nil {
		return fmt.Errorf("phm: no inbox")
	}
	if err := vigil.ValidatePHMAccount(account); err != nil {
		return err
	}
	if err := in.Store.AppendPHMInbox(ctx, account, vouchers, in.max()); err != nil {
		if vigil.ErrorCode(err) == vigil.EUNAVAILABLE {
			in.full.Add(1)
		}
		return err
	}
	return nil
}

// Wake tells Run that vouchers are waiting, sooner than its next look
// (Poll). Call it once the answer to the vouchers' sender is sent, not
// before: a worker woken earlier would open the vouchers while the answer
// is still on its way, on the same CPU, and the answer's time would again
// depend on what they are.
func (s *Service) Wake() {
	if s.Inbox == nil {
		return
	}
	select {
	case s.Inbox.wake <- struct{}{}:
	default: // already woken
	}
}

// Run is the inbox's worker: it takes the vouchers Receive stored, oldest
// first, and processes each as Submit does, deleting it from the inbox
// once processed (for one that opened, after its account's transaction
// committed: if the process dies in between, the voucher is processed
// again after the restart, and counts nothing again, its id being kept per
// account). A voucher that fails for a reason that may pass (a store
// error) stays, and is tried again with backoff; one that fails for what
// it is (EINVALID: it does not open after all) is dropped, logged and
// counted. Revealed vouchers whose hand-off to the detection flow failed
// are handed on again with backoff (Resume), without waiting for a
// restart; and every RevealedEvery in any case. Run returns when ctx ends.
// Run Resume once before it, at start.
func (s *Service) Run(ctx context.Context) error {
	in := s.Inbox
	if in == nil || in.Store == nil || s.Store == nil {
		return fmt.Errorf("phm: no inbox or no store to run")
	}
	log := s.logger()
	every := orDefault(in.RevealedEvery, DefaultRevealedEvery)
	revealedAt := time.Now().Add(every)
	handFailures, inboxFailures := 0, 0
	for {
		handFailed, err := s.drain(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := orDefault(in.Poll, DefaultInboxPoll)
		if err != nil {
			inboxFailures++
			wait = max(wait, in.backoff(inboxFailures))
			log.Error("phm inbox", "err", err, "retry_in", wait)
		} else {
			inboxFailures = 0
		}
		if handFailed {
			in.handOffFailures.Add(1)
			handFailures++
			revealedAt = time.Now().Add(in.backoff(handFailures))
		}
		if !time.Now().Before(revealedAt) {
			n, err := s.Resume(ctx)
			in.handedOn.Add(int64(n))
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				in.handOffFailures.Add(1)
				handFailures++
				d := in.backoff(handFailures)
				revealedAt = time.Now().Add(d)
				log.Error("phm hand-off failed; retrying", "handed_on", n, "err", err, "retry_in", d)
			} else {
				if n > 0 {
					log.Info("phm handed on revealed vouchers", "count", n)
				}
				handFailures = 0
				revealedAt = time.Now().Add(every)
			}
		}
		wait = min(wait, max(time.Until(revealedAt), 0))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-in.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// drain processes the inbox's due vouchers until none is left, and says
// whether a hand-off to the detection flow failed on the way.
func (s *Service) drain(ctx context.Context) (handFailed bool, err error) {
	in := s.Inbox
	log := s.logger()
	for ctx.Err() == nil {
		items, err := in.Store.PHMInboxNext(ctx, time.Now(), inboxBatch)
		if err != nil || len(items) == 0 {
			return handFailed, err
		}
		var done []int64
		var ferr error // a failure of the inbox itself, which ends the pass
		for _, it := range items {
			if ctx.Err() != nil || ferr != nil {
				break
			}
			_, handOff, err := s.submit(ctx, it.Account, it.Voucher)
			switch {
			case err == nil:
			case handOff:
				// Counted and revealed; the hand-off is retried from the
				// revealed state, not from the inbox.
				handFailed = true
				log.Error("phm hand-off failed; retrying", "account", it.Account, "err", err)
			case vigil.ErrorCode(err) == vigil.EINVALID:
				in.dropped.Add(1)
				log.Warn("phm voucher dropped", "account", it.Account, "err", err)
			default:
				if ctx.Err() != nil {
					// Stopped half-way: the voucher stays for the next
					// run, no attempt counted.
					break
				}
				in.retried.Add(1)
				d := in.backoff(it.Attempts + 1)
				log.Error("phm voucher failed; retrying", "account", it.Account, "attempt", it.Attempts+1, "retry_in", d, "err", err)
				if derr := in.Store.DeferPHMInbox(ctx, it.ID, time.Now().Add(d)); derr != nil {
					ferr = fmt.Errorf("defer voucher: %w (after %v)", derr, err)
				}
				continue
			}
			if err == nil || handOff || vigil.ErrorCode(err) == vigil.EINVALID {
				done = append(done, it.ID)
			}
		}
		// What was processed leaves the inbox even as the worker stops.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err = in.Store.DeletePHMInbox(dctx, done)
		cancel()
		if err != nil {
			return handFailed, errors.Join(err, ferr)
		}
		in.processed.Add(int64(len(done)))
		if ferr != nil {
			return handFailed, ferr
		}
	}
	return handFailed, nil
}
