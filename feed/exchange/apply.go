package exchange

import (
	"context"
	"fmt"
	"strconv"

	"github.com/vigil-oss/vigil"
)

// Record is what one record of an exchange says of the entries it names by
// the exchange's id: the signals it holds now, none for a deletion. Every
// entry has the exchange as Source and the record's id as SourceEntryID.
type Record struct {
	SourceEntryID string
	Entries       []*vigil.Entry
	// Replace says the record may hold other signals than the bank holds
	// under its id (NCMEC entries change fingerprints): the held ones are
	// looked up, and those it no longer holds retracted. Records whose id
	// fixes their signal (ThreatExchange indicators, StopNCII hashes) leave
	// it false and cost no lookup; a deletion is always looked up.
	Replace bool
}

// Applied counts what Apply changed.
type Applied struct {
	Added      int `json:"added"`
	Duplicates int `json:"duplicates"`
	Retracted  int `json:"retracted"`
}

// Apply applies one page of records to bank bankID, as entries of source:
// the page's signals are added in one transaction, and the entries of
// source held under a record's id that the record no longer holds (all of
// them, for a deletion; see Record.Replace) are retracted with reason,
// quarantined or not.
// Entries of any other source are never touched. Applying a page again
// changes nothing, so a fetch interrupted after a page was applied and
// before its cursor was saved is resumed by applying the page again.
// Check the page whole (parse and validate every record) before calling
// Apply, so that nothing of a malformed page lands. Each change commits
// with its audit record (actor by; the bank named by id, as Apply knows it).
func Apply(ctx context.Context, entries vigil.EntryService, bankID int64, source, by, reason string, page []Record) (Applied, error) {
	var res Applied
	var add []*vigil.Entry
	for _, r := range page {
		add = append(add, r.Entries...)
		if len(r.Entries) > 0 && !r.Replace {
			continue
		}
		id := r.SourceEntryID
		held, err := entries.FindEntries(ctx, vigil.EntryFilter{BankID: &bankID, SourceEntryID: &id, Limit: vigil.MaxEntryLimit})
		if err != nil {
			return res, err
		}
		for _, h := range held {
			if h.Source != source || h.Retracted() || holds(r.Entries, h) {
				continue
			}
			rec := &vigil.AuditRecord{Actor: by, Action: vigil.AuditEntryRetract, Target: "entry:" + strconv.FormatInt(h.ID, 10)}
			rec.Complete = func(r *vigil.AuditRecord) error {
				return r.SetDetail(map[string]string{"reason": reason, "source": source})
			}
			if _, err := entries.RetractEntry(vigil.WithAudit(ctx, rec), h.ID, by, reason); err != nil {
				if vigil.ErrorCode(err) == vigil.ECONFLICT {
					continue // retracted meanwhile
				}
				return res, fmt.Errorf("retract entry %d: %w", h.ID, err)
			}
			res.Retracted++
		}
	}
	if len(add) > 0 {
		// The bulk path: one transaction of multi-row inserts, its audit
		// record (the store fills in the counts) in it.
		rec := &vigil.AuditRecord{Actor: by, Action: vigil.AuditEntriesImport, Target: "bank:" + strconv.FormatInt(bankID, 10)}
		r, err := entries.ImportEntries(vigil.WithAudit(ctx, rec), bankID, by, func(yield func(*vigil.Entry, error) bool) {
			for _, e := range add {
				if !yield(e, nil) {
					return
				}
			}
		})
		if err != nil {
			return res, err
		}
		res.Added, res.Duplicates = r.Added, r.Duplicates
	}
	return res, nil
}

func holds(es []*vigil.Entry, h *vigil.Entry) bool {
	for _, e := range es {
		if e.SignalType == h.SignalType && e.Value == h.Value {
			return true
		}
	}
	return false
}

// SendOpinions sends the opinions of bank bankID's entries from exchange
// that are due (see vigil.ExchangeService.ExchangeOpinions), batch at a
// time: send gets each batch, and the batch is marked sent once send
// returns nil, so a batch that fails goes out again with the next call.
// It returns the number of opinions sent.
func SendOpinions(ctx context.Context, state vigil.ExchangeService, exchange string, bankID int64, batch int, send func(context.Context, []vigil.ExchangeOpinion) error) (int, error) {
	sent := 0
	var after int64
	for {
		ops, err := state.ExchangeOpinions(ctx, exchange, bankID, after, batch)
		if err != nil || len(ops) == 0 {
			return sent, err
		}
		if err := send(ctx, ops); err != nil {
			return sent, err
		}
		if err := state.MarkExchangeOpinionsSent(ctx, exchange, ops); err != nil {
			return sent, err
		}
		sent += len(ops)
		after = ops[len(ops)-1].EntryID
	}
}
