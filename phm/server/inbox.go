package server

import (
	"context"
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
	// DefaultHandOffEvery is the grid of the worker's hand-offs to the
	// detection flow: what the inbox's vouchers revealed is handed on at
	// the next multiple of it on the clock after their batch is done, not
	// as each voucher is processed. Every tick does the fixed quantum
	// (tick.go) whether anything is due or not, so the grid sets its cost:
	// at 10 s about 0.4 % of a core and 16 KB a second of chaff written
	// (at 1 s, 4 % and 163 KB: 14 GB a day of log traffic for an idle
	// service); a case opens at most a grid after the batch that crossed.
	DefaultHandOffEvery = 10 * time.Second
	// DefaultHandOffSpread is the spread vigil serve gives Inbox.
	// HandOffSpread: a case opens within it after the tick that recovered
	// or revealed, at one of its 30 ticks of 10 s.
	DefaultHandOffSpread = 5 * time.Minute
	// inboxBatch is the vouchers Run takes from the inbox at a time, and
	// deletes in one transaction once processed.
	inboxBatch = 16
)

// Inbox is where a Service keeps the vouchers it received and answered
// for but has not processed yet (Receive), and what its worker (Run)
// counts. Make it with NewInbox; set the fields before Run.
type Inbox struct {
	// Store keeps the vouchers (required): the same store as the
	// Service's, whose batch transaction (ApplyPHMInbox) deletes them.
	Store vigil.PHMInbox
	// Max bounds the vouchers waiting: past it Receive refuses every
	// batch alike (≤ 0: vigil.DefaultPHMInboxMax).
	Max int
	// Poll, RetryMin, RetryMax and HandOffEvery are the worker's periods
	// (0: the defaults above). Every tick of HandOffEvery looks for due
	// accounts and revealed vouchers.
	Poll, RetryMin, RetryMax, HandOffEvery time.Duration
	// Quantum is the payloads every tick of the hand-off grid opens and
	// checks, real ones padded with dummies (tick.go); at least, and by
	// default, the service's t + 1.
	Quantum int
	// HandOffSpread, if positive, holds an account's revealed vouchers
	// back from the ticks until a time drawn uniformly from the spread
	// after the tick that first saw them (0: handed on at that tick).
	// Every tick has the same shape, but the case the detection flow
	// opens is real work at the tick that hands on: spread, that tick is
	// one of many (vigil serve: DefaultHandOffSpread).
	HandOffSpread time.Duration

	processed, dropped, retried, handedOn, handOffFailures, full, ticks atomic.Int64
	wake                                                                chan struct{}
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

// HandedOn is the count of revealed vouchers the worker handed to the
// detection flow: on its hand-off grid after their batch (HandOffEvery),
// after a hand-off failed, or from before a restart.
func (in *Inbox) HandedOn() int64 { return in.handedOn.Load() }

// Ticks is the count of ticks of the hand-off grid done.
func (in *Inbox) Ticks() int64 { return in.ticks.Load() }

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
// first, in batches, and processes each batch in one transaction of the
// store (process) that also deletes its vouchers from the inbox: if the
// process dies before it commits, the batch is processed again after the
// restart; once it has, nothing of it is. A batch that fails for a reason
// that may pass (a store error) stays, and its vouchers are tried again
// with backoff; a voucher that fails for what it is (EINVALID: not a
// voucher after all) is dropped in its batch, logged and counted.
//
// A batch never recovers a key nor reveals: it marks the account due.
// At every tick of HandOffEvery on the clock, whether anything is due or
// not, the worker does one fixed quantum of work (tick, tick.go): one
// account's recovery or its dummy, and Quantum payloads handed to the
// detection flow (second check, case), padded with dummies, so that the
// work at a tick does not say whether some batch crossed a threshold or
// brought a recovered account a match. A tick that failed is tried again
// with backoff (the grid's ticks skipped meanwhile). Run returns when ctx
// ends. Run Resume once before it, at start.
func (s *Service) Run(ctx context.Context) error {
	in := s.Inbox
	if in == nil || in.Store == nil || s.Store == nil {
		return fmt.Errorf("phm: no inbox or no store to run")
	}
	log := s.logger()
	handEvery := orDefault(in.HandOffEvery, DefaultHandOffEvery)
	next := time.Now().Truncate(handEvery).Add(handEvery)
	handFailures, inboxFailures := 0, 0
	for {
		_, err := s.drain(ctx)
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
		if now := time.Now(); !now.Before(next) {
			n, err := s.tick(ctx)
			in.handedOn.Add(int64(n))
			in.ticks.Add(1)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				in.handOffFailures.Add(1)
				handFailures++
				d := in.backoff(handFailures)
				next = time.Now().Add(d).Truncate(handEvery).Add(handEvery)
				log.Error("phm hand-off failed; retrying", "handed_on", n, "err", err, "retry_in", d)
			} else {
				if n > 0 {
					log.Info("phm handed on revealed vouchers", "count", n)
				}
				handFailures = 0
				next = time.Now().Truncate(handEvery).Add(handEvery)
			}
		}
		wait = min(wait, max(time.Until(next), 0))
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

// drain processes the inbox's due vouchers until none is left, a batch
// at a time, and says whether any revealed payloads, which it leaves for
// Resume to hand on.
func (s *Service) drain(ctx context.Context) (held bool, err error) {
	in := s.Inbox
	for ctx.Err() == nil {
		items, err := in.Store.PHMInboxNext(ctx, time.Now(), inboxBatch)
		if err != nil || len(items) == 0 {
			return held, err
		}
		h, err := s.batch(ctx, items)
		held = held || h
		if err != nil {
			return held, err
		}
	}
	return held, nil
}

// batch processes items in one transaction of the store, which deletes
// them from the inbox as it commits (process). Should it fail, each item
// is tried alone, so that one voucher's failure (a store error about its
// account) holds back no other; one that fails alone stays in the inbox,
// to be tried again with backoff. A voucher that is not one (EINVALID) is
// dropped inside its batch, logged and counted.
func (s *Service) batch(ctx context.Context, items []vigil.PHMInboxItem) (held bool, err error) {
	in := s.Inbox
	log := s.logger()
	done := func(ws []*work) {
		for _, w := range ws {
			if w.err != nil {
				in.dropped.Add(1)
				log.Warn("phm voucher dropped", "account", w.item.Account, "err", w.err)
			}
			if w.due {
				held = true
			}
		}
		in.processed.Add(int64(len(ws)))
	}
	ws, perr := s.process(ctx, items)
	if perr == nil {
		done(ws)
		return held, nil
	}
	for _, it := range items {
		if ctx.Err() != nil {
			// Stopped half-way: the vouchers stay for the next run, no
			// attempt counted.
			return held, nil
		}
		if len(items) > 1 {
			if ws, perr = s.process(ctx, []vigil.PHMInboxItem{it}); perr == nil {
				done(ws)
				continue
			}
		}
		in.retried.Add(1)
		d := in.backoff(it.Attempts + 1)
		log.Error("phm voucher failed; retrying", "account", it.Account, "attempt", it.Attempts+1, "retry_in", d, "err", perr)
		if derr := in.Store.DeferPHMInbox(ctx, it.ID, time.Now().Add(d)); derr != nil {
			return held, fmt.Errorf("defer voucher: %w (after %v)", derr, perr)
		}
	}
	return held, nil
}
