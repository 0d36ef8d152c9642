package vigil

import "context"

// Sources of the outside hash exchanges Vigil fetches from. They are the
// Source of the entries each fetches, and the exchange names of
// ExchangeService.
const (
	SourceNCMEC          = "ncmec"
	SourceStopNCII       = "stopncii"
	SourceThreatExchange = "threatexchange"
)

// Limits on exchange state.
const (
	MaxExchangeCursorLen = 8192 // a next-page URL with its parameters
	MaxExchangeNameLen   = 64
)

// ExchangeOpinion is what this instance's reviewers decided about the
// matches of one entry fetched from an outside exchange: the counts of
// EntryStats, with what the exchange needs to name the entry.
type ExchangeOpinion struct {
	EntryID        int64      `json:"entry_id"`
	SignalType     SignalType `json:"signal_type"`
	SourceEntryID  string     `json:"source_entry_id"`
	Confirmed      int        `json:"confirmed"`
	FalsePositives int        `json:"false_positives"`
}

// Verdict is the opinion to send: true when the reviewers confirmed more
// matches of the entry than they found false positives.
func (o *ExchangeOpinion) Verdict() bool { return o.Confirmed > o.FalsePositives }

// ExchangeService keeps the state of fetches from outside exchanges (NCMEC,
// StopNCII, ThreatExchange) into local banks: where each fetch got to, and
// which opinions have been sent back.
type ExchangeService interface {
	// ExchangeCursor returns the cursor saved for exchange into bank
	// bankID, "" if none. A cursor is the exchange's own (a time, a
	// next-page URL, both), opaque to the store.
	ExchangeCursor(ctx context.Context, exchange string, bankID int64) (string, error)
	// SetExchangeCursor saves it. ENOTFOUND for an unknown bank, EINVALID
	// for a name or cursor over the limits.
	SetExchangeCursor(ctx context.Context, exchange string, bankID int64, cursor string) error

	// ExchangeOpinions returns up to limit opinions, by entry id after
	// afterID, of bank bankID's entries whose source is exchange and whose
	// review counts differ from those last marked sent: entries of any other
	// source are never returned, so no exchange hears of another's entries.
	ExchangeOpinions(ctx context.Context, exchange string, bankID, afterID int64, limit int) ([]ExchangeOpinion, error)
	// MarkExchangeOpinionsSent records ops as sent to exchange, so that
	// ExchangeOpinions returns them again only when their counts change.
	MarkExchangeOpinionsSent(ctx context.Context, exchange string, ops []ExchangeOpinion) error
}

// ValidateExchangeName checks an exchange name: the bank name alphabet.
func ValidateExchangeName(name string) error {
	if err := ValidateBankName(name); err != nil {
		return Errorf(EINVALID, "exchange name must be 1 to %d of a-z, 0-9, _ and -", MaxExchangeNameLen)
	}
	return nil
}
