package textmatch

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/vigil-oss/vigil/internal/verror"
)

// Limits on keyword lists, which come from outside (bank imports, feeds).
const (
	MaxKeywords   = 1_000_000 // entries in one list
	MaxKeywordLen = 256       // bytes in one keyword
	// MaxKeywordMatches is the most matches Match returns for one text; a
	// text that hits more is flooding, and the first ones are evidence
	// enough.
	MaxKeywordMatches = 10_000
)

// maxVariants bounds how many spellings one keyword expands to for the
// letters that '1' stands for, so that a keyword full of i and l cannot
// blow up the automaton.
const maxVariants = 16

// maxPatternBytes bounds the bytes of all spellings of a list's keywords,
// which the automaton needs about 20 bytes of memory each for, and keeps
// its state numbers far inside int32: MaxKeywords long keywords with many
// i and l would otherwise reach 4 GB of patterns and fail the build.
const maxPatternBytes = 256 << 20

// Keyword is one entry of a keyword list.
type Keyword struct {
	ID   uint64 // the bank entry, reported back with matches
	Text string // the keyword as written; it is normalised like the text
	// WholeWord makes the keyword match only where it is not part of a
	// longer word: "apple" then does not match in "pineapple".
	WholeWord bool
}

// KeywordMatch is one occurrence of a keyword in a text.
type KeywordMatch struct {
	ID      uint64 // the keyword's id
	Keyword string // the keyword as written in the list
	// Start and End are the byte span of the occurrence in the original,
	// un-normalised text, from its first character to its last (with any
	// repeats of the last letter collapsed into it).
	Start, End int
}

// KeywordList matches a fixed set of keywords against text normalised by
// Normalize, with an Aho-Corasick automaton, in time linear in the text
// whatever the number of keywords. It is immutable and safe for concurrent
// use; to change the list, build a new one.
type KeywordList struct {
	entries []kwEntry
	ac      *automaton
	// groups[i] lists the entries whose normalised spelling is pattern i of
	// the automaton.
	groups [][]int32
	// scratch reuses normalisation buffers across calls to Match.
	scratch sync.Pool
}

type kwEntry struct {
	Keyword
	norm string
	runs []uint8 // run length per byte of norm; nil when all are 1
}

// NewKeywordList builds a list of entries. Entries whose text normalises to
// nothing (only spaces, marks or invisible characters) are an error, as are
// more than MaxKeywords entries or a keyword longer than MaxKeywordLen.
func NewKeywordList(entries []Keyword) (*KeywordList, error) {
	if len(entries) > MaxKeywords {
		return nil, verror.Errorf(verror.ETOOLARGE, "keyword list has %d entries, more than %d", len(entries), MaxKeywords)
	}
	l, rejected, err := BuildKeywordList(entries)
	if err != nil {
		return nil, err
	}
	if len(rejected) > 0 {
		return nil, fmt.Errorf("keyword %d: %w", rejected[0].ID, rejected[0].Err)
	}
	return l, nil
}

// RejectedKeyword is an entry BuildKeywordList left out, and why.
type RejectedKeyword struct {
	ID  uint64
	Err error
}

// BuildKeywordList builds a list of the entries that NewKeywordList would
// accept and returns the others, in order, with the reason: a keyword that
// normalises to nothing, is too long, or comes after the first
// MaxKeywords or past maxPatternBytes of spellings. It suits lists read
// from a store, where one bad entry must not keep all the others from
// matching. An error means the automaton could not be built at all, which
// those bounds rule out.
func BuildKeywordList(entries []Keyword) (*KeywordList, []RejectedKeyword, error) {
	return buildKeywordList(entries, MaxKeywords, maxPatternBytes)
}

// buildKeywordList is BuildKeywordList with its bounds as arguments, so
// that tests can reach them without building a million keywords.
func buildKeywordList(entries []Keyword, maxKeywords, maxPatternBytes int) (*KeywordList, []RejectedKeyword, error) {
	var rejected []RejectedKeyword
	l := &KeywordList{entries: make([]kwEntry, 0, min(len(entries), maxKeywords))}
	type variant struct {
		s     string
		entry int32
	}
	var vs []variant
	total := 0 // bytes of all spellings: the automaton's size
	for _, k := range entries {
		if len(l.entries) == maxKeywords {
			rejected = append(rejected, RejectedKeyword{k.ID, verror.Errorf(verror.ETOOLARGE, "keyword list is full: it holds %d keywords already", maxKeywords)})
			continue
		}
		e, err := newKwEntry(k)
		if err != nil {
			rejected = append(rejected, RejectedKeyword{k.ID, err})
			continue
		}
		sp := spellings(e.norm)
		n := len(sp) * len(e.norm)
		if total+n > maxPatternBytes {
			rejected = append(rejected, RejectedKeyword{k.ID, verror.Errorf(verror.ETOOLARGE, "keyword list is full: its spellings take %d bytes already", total)})
			continue
		}
		total += n
		i := len(l.entries)
		l.entries = append(l.entries, e)
		for _, s := range sp {
			vs = append(vs, variant{s, int32(i)})
		}
	}
	slices.SortFunc(vs, func(a, b variant) int {
		return cmp.Or(strings.Compare(a.s, b.s), cmp.Compare(a.entry, b.entry))
	})
	var patterns []string
	for i, v := range vs {
		if i == 0 || v.s != vs[i-1].s {
			patterns = append(patterns, v.s)
			l.groups = append(l.groups, nil)
		}
		g := &l.groups[len(l.groups)-1]
		if len(*g) == 0 || (*g)[len(*g)-1] != v.entry {
			*g = append(*g, v.entry)
		}
	}
	ac, err := newAutomaton(patterns)
	if err != nil {
		return nil, nil, err
	}
	l.ac = ac
	return l, rejected, nil
}

// CheckKeyword returns an EINVALID error if text cannot be a keyword of a
// KeywordList: longer than MaxKeywordLen, or empty once normalised (only
// spaces, marks or invisible characters), which would match nothing. It is
// the test NewKeywordList applies to each entry, so a store that refuses
// what it refuses never holds a keyword the list cannot take.
func CheckKeyword(text string) error {
	_, err := newKwEntry(Keyword{Text: text})
	return err
}

// newKwEntry normalises one keyword as Match normalises text.
func newKwEntry(k Keyword) (kwEntry, error) {
	if len(k.Text) > MaxKeywordLen {
		return kwEntry{}, verror.Errorf(verror.EINVALID, "keyword longer than %d bytes", MaxKeywordLen)
	}
	nt, err := normalize(k.Text)
	if err != nil {
		return kwEntry{}, err
	}
	lo, hi := 0, len(nt.b)
	for lo < hi && nt.b[lo] == ' ' {
		lo++
	}
	for hi > lo && nt.b[hi-1] == ' ' {
		hi--
	}
	if lo == hi {
		return kwEntry{}, verror.Errorf(verror.EINVALID, "keyword is empty once normalised: it holds only spaces, accents or invisible characters")
	}
	e := kwEntry{Keyword: k, norm: string(nt.b[lo:hi])}
	if slices.ContainsFunc(nt.run[lo:hi], func(r uint8) bool { return r > 1 }) {
		e.runs = slices.Clone(nt.run[lo:hi])
	}
	return e, nil
}

// spellings returns norm and its variants with 'i', 'l' and '1' swapped for
// one another where the text could have either: '1' in normalised text
// stands for i or l, and a keyword written "te1egram" means "telegram".
func spellings(norm string) []string {
	out := []string{norm}
	for i := 0; i < len(norm); i++ {
		var alts string
		switch norm[i] {
		case 'i':
			alts = "1"
		case 'l':
			alts = "1"
		case '1':
			alts = "il"
		default:
			continue
		}
		if len(out)*(1+len(alts)) > maxVariants {
			break
		}
		for _, s := range out {
			for k := 0; k < len(alts); k++ {
				// A letter next to the same letter was collapsed away in
				// the text, so such a spelling can never match.
				if (i > 0 && s[i-1] == alts[k]) || (i+1 < len(s) && s[i+1] == alts[k]) {
					continue
				}
				out = append(out, s[:i]+alts[k:k+1]+s[i+1:])
			}
		}
	}
	return out
}

// Len returns the number of entries in the list.
func (l *KeywordList) Len() int { return len(l.entries) }

// Match returns the keywords that occur in text, ordered by start, end and
// id, at most MaxKeywordMatches of them. Text longer than MaxTextLen is an
// error.
func (l *KeywordList) Match(text string) ([]KeywordMatch, error) {
	sc, _ := l.scratch.Get().(*scratch)
	if sc == nil {
		sc = &scratch{}
	}
	nt, err := normalizeInto(text, sc)
	if err != nil || l.ac == nil {
		return nil, err
	}
	if len(text) <= maxPooledLen {
		defer l.scratch.Put(sc)
	}
	var out []KeywordMatch
	l.ac.scan(nt.b, func(pattern int32, end int) bool {
		for _, ei := range l.groups[pattern] {
			e := &l.entries[ei]
			start := end - len(e.norm)
			if !e.accepts(nt, start, end) {
				continue
			}
			out = append(out, KeywordMatch{
				ID:      e.ID,
				Keyword: e.Text,
				Start:   int(nt.start[start]),
				End:     int(nt.end[end-1]),
			})
			if len(out) >= MaxKeywordMatches {
				return false
			}
		}
		return true
	})
	slices.SortFunc(out, func(a, b KeywordMatch) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// accepts checks what the automaton cannot: word boundaries, and that each
// doubled letter of the keyword is at least doubled in the text.
func (e *kwEntry) accepts(nt *normText, start, end int) bool {
	if e.runs != nil {
		for k, r := range e.runs {
			if nt.run[start+k] < r {
				return false
			}
		}
	}
	if !e.WholeWord {
		return true
	}
	if first, _ := utf8.DecodeRuneInString(e.norm); isWordRune(first) && start > 0 {
		if r, _ := utf8.DecodeLastRune(nt.b[:start]); isWordRune(r) {
			return false
		}
	}
	if last, _ := utf8.DecodeLastRuneInString(e.norm); isWordRune(last) && end < len(nt.b) {
		if r, _ := utf8.DecodeRune(nt.b[end:]); isWordRune(r) {
			return false
		}
	}
	return true
}
