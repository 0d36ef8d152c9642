package vigil

import (
	"context"
	"strings"
	"time"
)

// DefaultMinQuality is the PDQ quality below which a locally computed hash
// is not matched: the reference recommends discarding hashes of quality
// 49 or less, which come from flat or featureless images.
const DefaultMinQuality = 50

// MaxLookupSignals is the most signals one lookup may carry.
const MaxLookupSignals = 1000

// Signal is one fingerprint of a piece of content, as sent for matching.
type Signal struct {
	Type  SignalType `json:"type"`
	Value string     `json:"value"`
	// Quality is the PDQ quality when the hash was computed from content
	// (0–100); unknown when nil, and then not filtered on.
	Quality *int `json:"quality,omitempty"`
	// Dihedral optionally holds the PDQ hashes of the rotations and flips
	// of the same content, keyed by variant name (rot90, rot180, rot270,
	// flipx, flipy, flipplus1, flipminus1). They are searched too when the
	// lookup asks for dihedral matching.
	Dihedral map[string]string `json:"dihedral,omitempty"`
}

// Match is a signal that hit a bank entry, with the entry's provenance.
type Match struct {
	// BankID, EntryID and Value are never zero in a match but may be
	// left out of one shown to a hosted lookup (Reveal.Shown).
	BankID        int64      `json:"bank_id,omitempty"`
	Bank          string     `json:"bank"`
	EntryID       int64      `json:"entry_id,omitempty"`
	SignalType    SignalType `json:"signal_type"`
	Value         string     `json:"value,omitempty"`
	Distance      int        `json:"distance"`
	Threshold     int        `json:"threshold"`
	Variant       string     `json:"variant,omitempty"` // dihedral variant of the query that matched, if not the original
	Source        string     `json:"source,omitempty"`
	SourceEntryID string     `json:"source_entry_id,omitempty"`
	Category      string     `json:"category,omitempty"`
	Negative      bool       `json:"negative,omitempty"` // the entry is in a negative (suppression) bank
	// BankDisabled marks a match in a disabled bank, which only lookups
	// with MatchOptions.IncludeDisabled return.
	BankDisabled bool `json:"bank_disabled,omitempty"`
	// Span is the [start, end) byte range of the match in a text signal.
	Span []int `json:"span,omitempty"`
	// Video describes a video match: the share of each side's frames that
	// matched and the runs of matched query frames.
	Video *VideoMatch `json:"video,omitempty"`
	// Reveal is the bank's Reveal when the match was made: what a hosted
	// lookup may be shown of it (Reveal.Shown). Never serialised.
	Reveal Reveal `json:"-"`
}

// NewMatch returns a match of entry e of bank b at the given distance,
// with the entry's provenance and the bank's threshold for its type.
func NewMatch(b *Bank, e *Entry, distance int) Match {
	return Match{
		BankID: b.ID, Bank: b.Name, EntryID: e.ID, SignalType: e.SignalType, Value: e.Value,
		Distance: distance, Threshold: b.Threshold(e.SignalType),
		Source: e.Source, SourceEntryID: e.SourceEntryID, Category: e.Category, Negative: b.Negative,
		BankDisabled: !b.Enabled, Reveal: b.Reveal,
	}
}

// VideoMatch is how much of two videos matched, frame by frame.
type VideoMatch struct {
	QueryPercent  float64      `json:"query_percent"`
	TargetPercent float64      `json:"target_percent"`
	Ranges        []FrameRange `json:"ranges,omitempty"`
}

// FrameRange is a run of matched query frames.
type FrameRange struct {
	FirstFrame int     `json:"first_frame"`
	LastFrame  int     `json:"last_frame"`
	Start      float64 `json:"start"` // seconds
	End        float64 `json:"end"`
	Frames     int     `json:"frames"`
}

// MatchResult holds the matches of one signal.
type MatchResult struct {
	Signal  Signal  `json:"signal"`
	Matches []Match `json:"matches"`
	// SuppressedBy lists the matches in negative banks; when there are
	// any, the matches in other banks move to Suppressed and Matches is
	// empty: the content is known to be benign.
	SuppressedBy []Match `json:"suppressed_by,omitempty"`
	Suppressed   []Match `json:"suppressed,omitempty"`
	// Skipped says why the signal was not matched at all (for example a
	// PDQ quality below the minimum).
	Skipped string `json:"skipped,omitempty"`
}

// MatchOptions tune one lookup.
type MatchOptions struct {
	// MinQuality is the lowest PDQ quality matched, for signals that carry
	// one. Zero means DefaultMinQuality; a negative value matches all.
	MinQuality int
	// Dihedral also searches the signal's rotated and flipped variants.
	Dihedral bool
	// IncludeDisabled also matches the entries of disabled banks, for
	// callers that decide on enablement themselves (HMA's raw lookup
	// ignores it); their matches have BankDisabled set.
	IncludeDisabled bool
}

// IndexStatus describes the in-memory indexes.
type IndexStatus struct {
	Types     map[SignalType]IndexTypeStatus `json:"types"`
	Banks     int                            `json:"banks"`
	UpdatedAt time.Time                      `json:"updated_at"`
	// Rejected lists active entries the indexes left out because they
	// cannot match (stored before input validation refused such values, or
	// past an index's size limit), in entry order, at most
	// MaxRejectedShown of them; IndexTypeStatus.Rejected counts them all.
	// A curator should retract them.
	Rejected []RejectedEntry `json:"rejected,omitempty"`
	// Loading is set while the indexes are first loaded: until the load
	// completes, Types is empty and lookups are refused (EUNAVAILABLE),
	// never answered from a partial index.
	Loading *IndexLoad `json:"loading,omitempty"`
}

// IndexLoad is the progress of an index load.
type IndexLoad struct {
	// EntriesLoaded counts the active entries read so far, of every type.
	EntriesLoaded int64 `json:"entries_loaded"`
	// EntriesTotal is about how many the load will read: the banks'
	// active entry counts when it began (quarantined entries count there
	// but are not loaded, so the load may end below it).
	EntriesTotal int64 `json:"entries_total"`
}

// MaxRejectedShown bounds IndexStatus.Rejected.
const MaxRejectedShown = 100

// IndexTypeStatus describes the index of one signal type.
type IndexTypeStatus struct {
	Entries  int   `json:"entries"`
	Seq      int64 `json:"seq"`                // change sequence the index reflects
	Bytes    int64 `json:"bytes"`              // approximate memory held
	Rejected int   `json:"rejected,omitempty"` // active entries left out: see IndexStatus.Rejected
}

// RejectedEntry is a bank entry an index left out, and why.
type RejectedEntry struct {
	EntryID    int64      `json:"entry_id"`
	BankID     int64      `json:"bank_id"`
	SignalType SignalType `json:"signal_type"`
	Reason     string     `json:"reason"`
}

// MatchService matches signals against every enabled bank.
type MatchService interface {
	// Lookup returns one result per signal, in order. EINVALID names the
	// first malformed signal by index.
	Lookup(ctx context.Context, signals []Signal, opts MatchOptions) ([]MatchResult, error)
	// Status describes the indexes.
	Status() IndexStatus
}

// CanonicalSignal returns sig with its value, and its dihedral variants',
// in canonical form (see CanonicalValue), so that what is matched, put in
// cases and kept is the same string whoever sent it: a hash with a
// trailing newline or in upper case is the same hash. Text signals and the
// URLs of URL signals are matched as sent (the matchers normalise them);
// only surrounding white space goes. A vPDQ lookup may use any format
// vpdq.ReadFrames reads, so it keeps its value too. EINVALID for a
// malformed hash.
func CanonicalSignal(sig Signal) (Signal, error) {
	switch sig.Type {
	case SignalPDQ, SignalMD5, SignalSHA1, SignalSHA256:
		v, err := CanonicalValue(sig.Type, sig.Value)
		if err != nil {
			return sig, err
		}
		sig.Value = v
	case SignalURL:
		sig.Value = strings.TrimSpace(sig.Value)
	}
	if len(sig.Dihedral) > 0 {
		d := make(map[string]string, len(sig.Dihedral))
		for name, v := range sig.Dihedral {
			c, err := CanonicalValue(SignalPDQ, v)
			if err != nil {
				return sig, Errorf(EINVALID, "dihedral %s: %s", name, ErrorMessage(err))
			}
			d[name] = c
		}
		sig.Dihedral = d
	}
	return sig, nil
}

// CanonicalSignals canonicalises signals in place with CanonicalSignal.
// Every path that takes signals from outside calls it before using them;
// EINVALID names the first malformed signal by index.
func CanonicalSignals(signals []Signal) error {
	for i, sig := range signals {
		c, err := CanonicalSignal(sig)
		if err != nil {
			return Errorf(ErrorCode(err), "signal %d: %s", i, ErrorMessage(err))
		}
		signals[i] = c
	}
	return nil
}
