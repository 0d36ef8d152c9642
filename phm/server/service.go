package server

import (
	"bytes"
	"context"
	"crypto/hpke"
	"encoding/hex"
	"fmt"
	"image/jpeg"
	"log/slog"
	"sync"

	vigil "github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
)

// Responder is what Vigil does with a detection; *respond.Service is one.
type Responder interface {
	Match(ctx context.Context, ref vigil.ContentRef, results []vigil.MatchResult, media func() ([]byte, error)) *vigil.Outcome
}

// Service runs PHM for many accounts: open, count, recover past the
// threshold, re-check each revealed image on the server only, and hand
// the confirmed ones to the detection flow as one case.
type Service struct {
	Opener *Opener
	// Review is the review service's HPKE private key (phm.InnerKEM).
	Review hpke.PrivateKey
	// Banks is the full plaintext matcher (*matcher.Matcher): the second,
	// server-only check of every revealed derivative, PDQ ≤ 31.
	Banks vigil.MatchService
	// Respond opens the case; nil: confirmed items are only returned.
	Respond Responder
	Logger  *slog.Logger // nil: discard

	mu       sync.Mutex
	accounts map[accountEpoch]*Account
}

// accountEpoch names one account's state for one epoch: each epoch has
// its own account key, polynomial and DHF key, so their positives never
// mix.
type accountEpoch struct {
	account string
	epoch   uint32
}

// Result is what one voucher did to its account. It goes to the service's
// operators, never back to the client.
type Result struct {
	// Opened is whether an element opened (a match or a synthetic voucher).
	Opened bool
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

// account returns the state of one account and epoch, creating it.
func (s *Service) account(id accountEpoch) *Account {
	if s.accounts == nil {
		s.accounts = map[accountEpoch]*Account{}
	}
	a := s.accounts[id]
	if a == nil {
		a = NewAccount(s.Opener.params)
		s.accounts[id] = a
	}
	return a
}

// Submit processes one voucher from account. Vouchers that do not open
// leave no trace beyond the call.
func (s *Service) Submit(ctx context.Context, account string, voucher []byte) (*Result, error) {
	p, ok, err := s.Opener.Open(voucher)
	if err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "%v", err)
	}
	res := &Result{Opened: ok}
	if !ok {
		// A voucher that opens nothing leaves no state and says nothing
		// about its account.
		return res, nil
	}
	res.Epoch = int64(p.Epoch)
	s.mu.Lock()
	a := s.account(accountEpoch{account, p.Epoch})
	a.Add(p)
	sealed, err := a.TryRecover()
	res.Positives, res.Recovered = a.Positives(), a.Recovered()
	s.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("recover account: %w", err)
	}
	for _, sl := range sealed {
		pl, err := OpenPayload(s.Review, sl)
		if err != nil {
			// A real positive whose payload the review key cannot open was
			// made for another review key: log it, it is not evidence.
			s.logger().Error("phm payload does not open", "account", account, "voucher", hex.EncodeToString(sl.ID[:]), "err", err)
			continue
		}
		res.Revealed = append(res.Revealed, pl)
	}
	if len(res.Revealed) == 0 {
		return res, nil
	}
	res.Confirmed, err = s.Check(ctx, res.Revealed)
	if err != nil {
		return res, err
	}
	if len(res.Confirmed) > 0 && s.Respond != nil {
		res.Outcome = s.respond(ctx, account, p.Epoch, res.Confirmed)
	}
	return res, nil
}

// Check is the second, server-only check: each derivative's PDQ is matched
// against the full banks at distance ≤ 31. A device-side collision crafted
// against the exact table must also survive this, on the content itself.
func (s *Service) Check(ctx context.Context, payloads []*phm.Payload) ([]Confirmed, error) {
	if s.Banks == nil {
		return nil, fmt.Errorf("phm: no banks for the second check")
	}
	h := pdq.NewHasher(pdq.Full)
	var signals []vigil.Signal
	var items []*phm.Payload
	for _, pl := range payloads {
		img, err := jpeg.Decode(bytes.NewReader(pl.Derivative))
		if err != nil {
			s.logger().Warn("phm derivative does not decode", "err", err)
			continue
		}
		dih, q := h.HashDihedral(img)
		variants := map[string]string{}
		for d := pdq.Rotate90; d <= pdq.FlipMinus1; d++ {
			variants[d.String()] = dih[d].String()
		}
		signals = append(signals, vigil.Signal{Type: vigil.SignalPDQ, Value: dih[pdq.Original].String(), Quality: &q, Dihedral: variants})
		items = append(items, pl)
	}
	if len(signals) == 0 {
		return nil, nil
	}
	results, err := s.Banks.Lookup(ctx, signals, vigil.MatchOptions{Dihedral: true})
	if err != nil {
		return nil, fmt.Errorf("second check: %w", err)
	}
	var out []Confirmed
	for i, r := range results {
		var kept []vigil.Match
		for _, m := range r.Matches {
			// A bank may set a wider threshold; the second check is ≤ 31.
			if m.Distance <= pdq.MatchThreshold {
				kept = append(kept, m)
			}
		}
		if len(kept) == 0 {
			continue
		}
		r.Matches = kept
		out = append(out, Confirmed{Payload: items[i], Result: r})
	}
	return out, nil
}

// respond opens one case for the account's confirmed items of an epoch:
// one content reference for the account and epoch, one match result per
// item, and the first item's derivative as the case media.
func (s *Service) respond(ctx context.Context, account string, epoch uint32, confirmed []Confirmed) *vigil.Outcome {
	results := make([]vigil.MatchResult, len(confirmed))
	for i, c := range confirmed {
		results[i] = c.Result
	}
	first := confirmed[0].Payload
	ref := vigil.ContentRef{
		SHA256:    hex.EncodeToString(first.SHA256[:]),
		MediaType: "image/jpeg",
		ContentID: fmt.Sprintf("phm:%s/%d", account, epoch),
		UserID:    account,
	}
	return s.Respond.Match(ctx, ref, results, func() ([]byte, error) { return first.Derivative, nil })
}
