package vigil

import (
	"context"
	"fmt"
	"iter"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vigil-oss/vigil/textmatch"
)

// DefaultPDQThreshold is the Hamming distance (of 256 bits) at or under which
// a PDQ hash matches a bank entry when the bank sets no threshold of its own.
// 31 is the value Meta recommends for PDQ.
const DefaultPDQThreshold = 31

// Limits on bank and entry fields. They keep one bad request from storing
// megabytes in a field that is shown in lists and reports.
const (
	MaxBankNameLen        = 64
	MaxBankDescriptionLen = 4096
	MaxEntryFieldLen      = 256 // source, source entry id, category, added by …
	MaxRetractReasonLen   = 1024
)

// Bank is a named, versioned list of signals with provenance.
type Bank struct {
	ID int64 `json:"id"`

	// Name is unique and matches [a-z0-9_-]{1,64}. It changes only by
	// BankUpdate.Name, and never for a bank a feed publishes, since feeds
	// and other instances refer to banks by name.
	Name        string `json:"name"`
	Description string `json:"description"`

	// Enabled banks take part in matching. A disabled bank keeps its entries.
	Enabled bool `json:"enabled"`

	// Negative banks hold known-benign signals: a match in a negative bank
	// suppresses matches of the same content in other banks.
	Negative bool `json:"negative"`

	// MatchRatio is HMA's matching_enabled_ratio for an enabled bank: the
	// share of HMA-compatible lookups (/m/lookup) it takes part in, picked
	// by HMA's seeded coin flip. Stores read 0 as 1 (every lookup). Vigil's
	// own lookups ignore it: an enabled bank always matches there.
	MatchRatio float64 `json:"match_ratio"`

	// Thresholds holds the per-signal-type match distance. A type without a
	// value uses DefaultThreshold.
	Thresholds map[SignalType]int `json:"thresholds,omitempty"`

	// Reveal is what hosted lookups (keys of RoleLookup) learn of a match
	// in this bank; other keys always get the whole match. Stores read ""
	// as RevealBank, the least.
	Reveal Reveal `json:"reveal"`

	// Version changes on every edit of the bank or of its entries, so that
	// callers can tell whether a bank changed (and use it as an ETag).
	Version int64 `json:"version"`

	// ActiveEntries counts entries that are not retracted.
	ActiveEntries int64 `json:"active_entries"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Threshold returns the bank's match distance for signal type t.
func (b *Bank) Threshold(t SignalType) int {
	if v, ok := b.Thresholds[t]; ok {
		return v
	}
	return DefaultThreshold(t)
}

// Validate returns an EINVALID error if b's fields cannot be stored.
func (b *Bank) Validate() error {
	if err := ValidateBankName(b.Name); err != nil {
		return err
	}
	if len(b.Description) > MaxBankDescriptionLen {
		return Errorf(EINVALID, "bank description longer than %d bytes", MaxBankDescriptionLen)
	}
	if !(b.MatchRatio >= 0 && b.MatchRatio <= 1) { // NaN fails both
		return Errorf(EINVALID, "bank match ratio must be between 0 and 1")
	}
	if b.Reveal != "" && !b.Reveal.Valid() {
		return Errorf(EINVALID, "bank reveal must be full, source or bank, not %q", b.Reveal)
	}
	return ValidateThresholds(b.Thresholds)
}

// Reveal is how much of a bank's provenance a hosted lookup is shown.
type Reveal string

// Reveal levels, from most to least. Every level names the bank and gives
// the distance, the threshold, the signal type and what belongs to the
// query (its dihedral variant, a text span, how much of a video matched);
// no level gives the listed value itself, which is the list.
const (
	// RevealFull adds the entry's id, source, source entry id and
	// category.
	RevealFull Reveal = "full"
	// RevealSource adds the entry's source (ncmec, a feed …).
	RevealSource Reveal = "source"
	// RevealBank gives the bank's name and the distance only: the default.
	RevealBank Reveal = "bank"
)

// Valid reports whether r is one of the levels.
func (r Reveal) Valid() bool { return r == RevealFull || r == RevealSource || r == RevealBank }

// Shown returns the match as a hosted lookup may see it at level r (an
// unknown level is read as RevealBank). The bank's id and whether it is
// negative are internal and never shown; a match in a negative bank still
// suppresses the others, as for any caller.
func (r Reveal) Shown(m Match) Match {
	out := Match{Bank: m.Bank, SignalType: m.SignalType, Distance: m.Distance, Threshold: m.Threshold,
		Variant: m.Variant, Span: m.Span, BankDisabled: m.BankDisabled}
	if m.Video != nil {
		// The share of the listed video's frames matched is a distance;
		// its frame runs are the query's.
		v := *m.Video
		out.Video = &v
	}
	switch r {
	case RevealFull:
		out.EntryID, out.Source, out.SourceEntryID, out.Category = m.EntryID, m.Source, m.SourceEntryID, m.Category
	case RevealSource:
		out.Source = m.Source
	}
	return out
}

// DefaultThreshold returns the match distance used for signal type t when a
// bank sets none: DefaultPDQThreshold for PDQ and vPDQ, 0 (exact) otherwise.
func DefaultThreshold(t SignalType) int {
	switch t {
	case SignalPDQ, SignalVPDQ:
		return DefaultPDQThreshold
	}
	return 0
}

// ValidateBankName returns an EINVALID error unless name matches
// [a-z0-9_-]{1,64}. Names are used in URLs and file names, hence the narrow
// alphabet.
func ValidateBankName(name string) error {
	if name == "" || len(name) > MaxBankNameLen {
		return Errorf(EINVALID, "bank name must be 1 to %d characters", MaxBankNameLen)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return Errorf(EINVALID, "bank name %q may hold only a-z, 0-9, _ and -", name)
		}
	}
	return nil
}

// ValidateThresholds returns an EINVALID error if a threshold is for an
// ValidateRetractReason checks the reason given for retracting an entry
// or a content item: not blank, at most MaxRetractReasonLen bytes.
func ValidateRetractReason(reason string) error {
	if strings.TrimSpace(reason) == "" {
		return Errorf(EINVALID, "a retraction needs a reason")
	}
	if len(reason) > MaxRetractReasonLen {
		return Errorf(EINVALID, "retraction reason longer than %d bytes", MaxRetractReasonLen)
	}
	return nil
}

// unknown signal type or out of range for it.
func ValidateThresholds(m map[SignalType]int) error {
	for t, v := range m {
		max, ok := maxThreshold[t]
		if !ok {
			return Errorf(EINVALID, "threshold for unknown signal type %q", t)
		}
		if v < 0 || v > max {
			return Errorf(EINVALID, "%s threshold %d out of range 0 to %d", t, v, max)
		}
	}
	return nil
}

// maxThreshold bounds thresholds per type: a PDQ hash has 256 bits, but a
// distance near 128 matches random hashes, so anything above is a mistake.
var maxThreshold = map[SignalType]int{
	SignalPDQ:     128,
	SignalVPDQ:    128,
	SignalMD5:     0,
	SignalSHA1:    0,
	SignalSHA256:  0,
	SignalURL:     0,
	SignalKeyword: 0,
}

// BankUpdate holds the fields of a bank to change; nil fields stay as they
// are.
type BankUpdate struct {
	// Name renames the bank: ECONFLICT if another bank has the name or a
	// feed publishes the bank (feeds and their subscribers name banks).
	// Past audit records and cases keep the name they were made with.
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	Enabled     *bool   `json:"enabled,omitempty"`
	Negative    *bool   `json:"negative,omitempty"`
	// MatchRatio sets Bank.MatchRatio (0 is read as 1).
	MatchRatio *float64 `json:"match_ratio,omitempty"`
	// Reveal sets Bank.Reveal.
	Reveal *Reveal `json:"reveal,omitempty"`

	// Thresholds, when not nil, replaces all of the bank's thresholds. An
	// empty non-nil map clears them back to the defaults.
	Thresholds map[SignalType]int `json:"thresholds,omitempty"`
}

// BankService stores banks.
type BankService interface {
	// CreateBank stores a new bank and sets its ID, Version, CreatedAt and
	// UpdatedAt. ECONFLICT if the name is taken, EINVALID if b is invalid.
	CreateBank(ctx context.Context, b *Bank) error

	// FindBankByID returns the bank with the given id, or ENOTFOUND.
	FindBankByID(ctx context.Context, id int64) (*Bank, error)

	// FindBankByName returns the bank with the given name, or ENOTFOUND.
	FindBankByName(ctx context.Context, name string) (*Bank, error)

	// ListBanks returns all banks, ordered by name. Banks are few (tens to
	// hundreds), so there is no paging.
	ListBanks(ctx context.Context) ([]*Bank, error)

	// UpdateBank applies upd to the bank with the given id, bumps its
	// version and returns the bank as stored. ENOTFOUND, EINVALID.
	UpdateBank(ctx context.Context, id int64, upd BankUpdate) (*Bank, error)

	// DisableBank is UpdateBank with Enabled false: the bank stops matching
	// and keeps its entries. Banks are never deleted, so that past matches
	// keep their provenance.
	DisableBank(ctx context.Context, id int64) (*Bank, error)
}

// Entry is one signal in a bank, with its provenance.
type Entry struct {
	ID     int64 `json:"id"`
	BankID int64 `json:"bank_id"`

	// BankName is filled in on read, so that a match can name its bank
	// without another lookup. It is ignored on write.
	BankName string `json:"bank_name,omitempty"`

	SignalType SignalType `json:"signal_type"`

	// Value is the signal in canonical form (see CanonicalValue): lowercase
	// hex for hashes.
	Value string `json:"value"`

	// Source names where the entry came from (ncmec, iwf, local, a feed);
	// SourceEntryID is the id the source gives it, so that its retractions
	// can be applied.
	Source        string `json:"source,omitempty"`
	SourceEntryID string `json:"source_entry_id,omitempty"`
	Category      string `json:"category,omitempty"`

	// Quality is a PDQ entry's quality (0–100) when the list it came from
	// gave one (Vigil's CSV quality column, vigil hash output); nil when
	// unknown. Other signal types have none.
	Quality *int `json:"quality,omitempty"`

	AddedBy string    `json:"added_by"`
	AddedAt time.Time `json:"added_at"`

	// A retracted entry no longer matches but is kept, so that past matches
	// keep their provenance and feeds can pass the retraction on.
	RetractedBy   string     `json:"retracted_by,omitempty"`
	RetractedAt   *time.Time `json:"retracted_at,omitempty"`
	RetractReason string     `json:"retract_reason,omitempty"`

	// A quarantined entry stops matching, like a retracted one, but is
	// flagged for a curator, who may release it (CaseService.ReleaseEntry)
	// or retract it. Review statistics quarantine entries automatically
	// (see QuarantinePolicy).
	QuarantinedAt    *time.Time `json:"quarantined_at,omitempty"`
	QuarantineReason string     `json:"quarantine_reason,omitempty"`

	// Seq is the change sequence of the entry's latest change (its
	// addition, retraction, quarantine or release); see
	// EntryService.EntriesChangedSince.
	Seq int64 `json:"seq"`
}

// Retracted reports whether e has been retracted.
func (e *Entry) Retracted() bool { return e.RetractedAt != nil }

// Quarantined reports whether e is quarantined.
func (e *Entry) Quarantined() bool { return e.QuarantinedAt != nil }

// Active reports whether e takes part in matching: neither retracted nor
// quarantined.
func (e *Entry) Active() bool { return e.RetractedAt == nil && e.QuarantinedAt == nil }

// Validate canonicalises e.Value in place and returns an EINVALID error if
// e cannot be stored, or EUNSUPPORTED for a signal type banks do not hold yet.
func (e *Entry) Validate() error {
	v, err := CanonicalValue(e.SignalType, e.Value)
	if err != nil {
		return err
	}
	e.Value = v
	if e.Quality != nil && (e.SignalType != SignalPDQ || *e.Quality < 0 || *e.Quality > 100) {
		return Errorf(EINVALID, "entry quality must be 0 to 100, and only for pdq")
	}
	for _, f := range []struct{ name, v string }{
		{"source", e.Source},
		{"source_entry_id", e.SourceEntryID},
		{"category", e.Category},
		{"added_by", e.AddedBy},
	} {
		if len(f.v) > MaxEntryFieldLen {
			return Errorf(EINVALID, "entry %s longer than %d bytes", f.name, MaxEntryFieldLen)
		}
		if !Printable(f.v) {
			return Errorf(EINVALID, "entry %s must be UTF-8 without control characters", f.name)
		}
	}
	return nil
}

// hexLen holds the length in hex digits of each hash signal type.
var hexLen = map[SignalType]int{
	SignalPDQ:    64,
	SignalMD5:    32,
	SignalSHA1:   40,
	SignalSHA256: 64,
}

// CanonicalValue returns value in the canonical form for signal type t:
// trimmed lowercase hex of the right length for hashes; for keywords,
// lower case with runs of white space made one space; for URL patterns,
// the trimmed text (the URL matcher normalises it further); for videos,
// the vPDQ frames in the reference's "frame,quality,hash,timestamp" form,
// one frame after another separated by ";". EINVALID for a malformed
// value, and for one the index of its type could never match (a keyword
// of only invisible characters, a URL the URL matcher cannot parse, a
// video frame with a timestamp vpdq.ReadFrames refuses): the index uses
// the same checks, so what is stored is what it can take. Every path that
// stores or looks up a signal value goes through this function (lookups
// through CanonicalSignals).
func CanonicalValue(t SignalType, value string) (string, error) {
	switch t {
	case SignalKeyword:
		return canonicalKeyword(value)
	case SignalURL:
		return canonicalURLPattern(value)
	case SignalVPDQ:
		return canonicalVPDQ(value)
	}
	n, ok := hexLen[t]
	if !ok {
		return "", Errorf(EINVALID, "unknown signal type %q", t)
	}
	value = strings.TrimSpace(value)
	if len(value) != n {
		return "", Errorf(EINVALID, "%s value must be %d hex digits, got %d characters", t, n, len(value))
	}
	lower := true
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			lower = false
		default:
			return "", Errorf(EINVALID, "%s value is not hex: bad character at %d", t, i+1)
		}
	}
	if !lower {
		value = strings.ToLower(value)
	}
	return value, nil
}

// EntryFilter selects entries for EntryService.FindEntries. Results are
// ordered by ID; page by passing the last ID seen as AfterID.
type EntryFilter struct {
	BankID           *int64      `json:"bank_id,omitempty"`
	SignalType       *SignalType `json:"signal_type,omitempty"`
	Value            *string     `json:"value,omitempty"` // canonicalised before use
	SourceEntryID    *string     `json:"source_entry_id,omitempty"`
	IncludeRetracted bool        `json:"include_retracted,omitempty"`
	AfterID          int64       `json:"after_id,omitempty"`

	// Limit caps the page: 0 means DefaultEntryLimit, and values above
	// MaxEntryLimit are lowered to it.
	Limit int `json:"limit,omitempty"`
}

// Page sizes for EntryFilter.Limit.
const (
	DefaultEntryLimit = 100
	MaxEntryLimit     = 10000
)

// ImportResult tells what an AddEntries or ImportEntries call changed.
type ImportResult struct {
	// Added counts entries stored. Duplicates counts entries skipped because
	// the bank already held them, active, or because they came twice.
	Added      int `json:"added"`
	Duplicates int `json:"duplicates"`

	// Version is the bank's version after the call. It is unchanged when
	// nothing was added.
	Version int64 `json:"version"`
}

// EntryService stores bank entries.
//
// Dedupe: a bank holds at most one active entry per (signal type, value).
// Adding one it already holds is not an error: the entry is skipped and
// counted as a duplicate, so that re-importing a list is harmless. A
// retracted entry does not count, so a signal can be added again after a
// retraction; the new entry gets a new ID.
//
// Change tracking: every addition, retraction, quarantine and release takes
// a new, larger change sequence number (Entry.Seq; numbers may have gaps).
// A matcher loads its index with ForEachActiveEntry, which returns the
// sequence the load is consistent with, then polls EntriesChangedSince from
// there and applies each change: an entry that is not Active (retracted or
// quarantined) removes, an active one adds.
type EntryService interface {
	// AddEntries adds entries to a bank in one transaction, all or none,
	// each with AddedBy set to by. It sets ID, BankID, AddedAt and Seq on
	// each entry stored; a duplicate gets the ID of the entry already held.
	// ENOTFOUND for an unknown bank, EINVALID (naming the entry's index) for
	// an invalid entry.
	AddEntries(ctx context.Context, bankID int64, by string, entries []*Entry) (ImportResult, error)

	// ImportEntries streams entries into a bank for bulk imports (millions
	// of entries). It is atomic: it stores all of entries or, on any error
	// from the sequence, from validation or from a crash, none of them. The
	// entries' IDs are not set. A store may hold its write lock while it
	// pulls from entries, so read them from a local file, not a slow
	// upload: spool uploads to disk first.
	ImportEntries(ctx context.Context, bankID int64, by string, entries iter.Seq2[*Entry, error]) (ImportResult, error)

	// FindEntryByID returns an entry, retracted or not, or ENOTFOUND.
	FindEntryByID(ctx context.Context, id int64) (*Entry, error)

	// FindEntries returns a page of entries in ID order.
	FindEntries(ctx context.Context, filter EntryFilter) ([]*Entry, error)

	// RetractEntry marks an entry retracted and returns it. ENOTFOUND for an
	// unknown entry, ECONFLICT if it is already retracted, EINVALID without
	// a reason.
	RetractEntry(ctx context.Context, id int64, by, reason string) (*Entry, error)

	// ForEachActiveEntry calls fn for every active entry (see Entry.Active)
	// of signal type t in every bank, disabled ones included (the matcher
	// filters on the bank at match time, so enabling a bank needs no
	// reload). It reads one consistent snapshot and returns the change
	// sequence it is consistent with, for use with EntriesChangedSince. It
	// stops at fn's first error and returns it. fn must not keep e past its
	// return.
	ForEachActiveEntry(ctx context.Context, t SignalType, fn func(e *Entry) error) (seq int64, err error)

	// EntriesChangedSince returns up to limit entries of signal type t, in
	// every bank, whose latest change has a sequence greater than seq, in
	// sequence order. An entry added and retracted since seq is returned
	// once, retracted. limit is capped like EntryFilter.Limit.
	EntriesChangedSince(ctx context.Context, t SignalType, seq int64, limit int) ([]*Entry, error)
}

// EntryVersions is implemented by an entry store that can say cheaply
// whether any entry has changed: the matcher then keeps the provenance of
// recently matched entries in memory and, per lookup, reads one number
// instead of every matched entry, without ever reporting an entry whose
// retraction or quarantine was committed before the lookup began. A store
// that also implements EntryChangeCounter is checked with that instead,
// without a read; EntryVersions stays its fallback.
type EntryVersions interface {
	// EntryChangeSeq returns the change sequence of the last committed
	// change to any entry (what EntriesChangedSince counts). Every entry
	// change commits with a higher number than the one before it, so two
	// reads that return the same value have no entry change between them.
	EntryChangeSeq(ctx context.Context) (int64, error)

	// FindEntryAndSeq is FindEntryByID, with EntryChangeSeq's value read
	// in the same snapshot: the entry is as it was at that sequence.
	FindEntryAndSeq(ctx context.Context, id int64) (*Entry, int64, error)
}

// EntryChangeCounter is implemented by an entry store that can say whether
// any entry has changed without a read of the store: by a counter in memory
// that every process with the store open shares (SQLite's, on Linux, beside
// the database file). The matcher then checks its provenance cache with one
// atomic load per match instead of EntryVersions' read. A store shared by
// several hosts (PostgreSQL) has no such memory and does not implement it.
type EntryChangeCounter interface {
	// EntryChangeCount returns the counter, or false if the store has none
	// (then EntryVersions serves). Its numbers are its own, not the change
	// sequence's. It only grows, and it is odd from before each entry
	// change commits until after the commit returns, so that no entry
	// change commits while it holds an even value, and a change whose
	// write has returned has moved it past every value current before the
	// change committed. So an entry read between two loads that return the
	// same even n is as the store holds it for as long as the counter is
	// n; an odd value says a change may be committing: read the store.
	EntryChangeCount() (n uint64, ok bool)
}

// Limits on text signal values.
const (
	MaxKeywordLen    = 256
	MaxURLPatternLen = 2048
)

// URL pattern prefixes: a URL entry matches exactly, or every URL on a host
// (and its subdomains) with "host:", or every URL under a path with
// "prefix:".
const (
	URLHostPrefix = "host:"
	URLPathPrefix = "prefix:"
)

// canonicalKeyword lower-cases v and makes its runs of white space one
// space, then refuses it unless the keyword index can take it: the test is
// textmatch's own, so the store never holds a keyword (such as one made
// only of zero-width or combining characters) that the index would refuse.
func canonicalKeyword(v string) (string, error) {
	v = strings.ToLower(strings.Join(strings.Fields(v), " "))
	// Not Printable: invisible characters inside a keyword are what an
	// obfuscated spelling looks like, and the keyword index takes them out
	// (CheckKeyword below refuses a keyword made of nothing else).
	if v == "" || len(v) > MaxKeywordLen || !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
		return "", Errorf(EINVALID, "keyword must be 1 to %d printable bytes", MaxKeywordLen)
	}
	if err := textmatch.CheckKeyword(v); err != nil {
		return "", Errorf(EINVALID, "keyword %q cannot match: %s", v, ErrorMessage(err))
	}
	return v, nil
}

// canonicalURLPattern trims v and lower-cases its "host:" or "prefix:"
// prefix, then refuses it unless the URL index can take it, with the URL
// index's own test (see URLPattern).
func canonicalURLPattern(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > MaxURLPatternLen || !Printable(v) || strings.ContainsAny(v, " \t") {
		return "", Errorf(EINVALID, "url must be 1 to %d printable bytes without spaces", MaxURLPatternLen)
	}
	for _, p := range []string{URLHostPrefix, URLPathPrefix} {
		if len(v) >= len(p) && strings.EqualFold(v[:len(p)], p) {
			v = p + v[len(p):]
			break
		}
	}
	pattern, mode := URLPattern(v)
	if pattern == "" {
		return "", Errorf(EINVALID, "url pattern %q names no URL", v)
	}
	if err := textmatch.CheckURLPattern(pattern, mode); err != nil {
		return "", Errorf(EINVALID, "url pattern %q cannot match: %s", v, ErrorMessage(err))
	}
	return v, nil
}

// URLPattern splits a canonical URL entry value into the pattern and the
// mode the URL index matches it with: "host:" and "prefix:" name their
// modes, anything else matches exactly.
func URLPattern(v string) (string, textmatch.MatchMode) {
	if p, ok := strings.CutPrefix(v, URLHostPrefix); ok {
		return p, textmatch.MatchHost
	}
	if p, ok := strings.CutPrefix(v, URLPathPrefix); ok {
		return p, textmatch.MatchPrefix
	}
	return v, textmatch.MatchExact
}

// MaxVPDQFrames bounds the frames of one video entry: over five hours at
// the default one frame per second.
const MaxVPDQFrames = 20000

// canonicalVPDQ accepts a video's frame hashes as the reference's text
// lines (separated by newlines or ";") and returns them ";"-separated,
// with lowercase hashes and three-decimal timestamps.
func canonicalVPDQ(v string) (string, error) {
	v = strings.NewReplacer("\r\n", ";", "\n", ";").Replace(strings.TrimSpace(v))
	var b strings.Builder
	n := 0
	for i, line := range strings.Split(v, ";") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if n++; n > MaxVPDQFrames {
			return "", Errorf(ETOOLARGE, "vpdq value has more than %d frames", MaxVPDQFrames)
		}
		f := strings.Split(line, ",")
		if len(f) != 4 {
			return "", Errorf(EINVALID, "vpdq frame %d: want frame,quality,hash,timestamp", i+1)
		}
		frame, err1 := strconv.Atoi(f[0])
		quality, err2 := strconv.Atoi(f[1])
		ts, err3 := strconv.ParseFloat(f[3], 64)
		hash, err4 := CanonicalValue(SignalPDQ, f[2])
		// The bounds are the ones vpdq.ReadFrames, which the index reads
		// values with, applies: a value it refuses could never match.
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || frame < 0 || frame > math.MaxInt32 ||
			quality < 0 || quality > 100 || !(ts >= 0 && ts <= math.MaxInt32) {
			return "", Errorf(EINVALID, "vpdq frame %d: malformed %q", i+1, line)
		}
		if b.Len() > 0 {
			b.WriteByte(';')
		}
		fmt.Fprintf(&b, "%d,%d,%s,%.3f", frame, quality, hash, ts)
	}
	if n == 0 {
		return "", Errorf(EINVALID, "vpdq value has no frames")
	}
	return b.String(), nil
}
