package vigil

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable reports whether s is UTF-8 that shows as what it holds: no
// control characters, and none of the characters that are invisible or
// change how the text around them shows: format characters (bidi
// overrides and isolates, zero-width spaces and joiners, the BOM, the soft
// hyphen: Unicode category Cf), line and paragraph separators, private-use
// code points, noncharacters, variation selectors and the other
// default-ignorable code points (Hangul fillers, the combining grapheme
// joiner). Names, sources and categories are shown to people and written
// to files and logs, where such characters could hide or reorder text:
// a key named "admin\u202E" reads as another key.
//
// It is the one check of every name and label Vigil stores.
func Printable(s string) bool {
	for i := 0; i < len(s); {
		// ASCII first: sources, categories and names mostly are, and
		// entry imports check millions of them.
		if c := s[i]; c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || invisible(r) {
			return false
		}
		i += n
	}
	return true
}

// invisible reports whether r is one of the characters Printable refuses.
func invisible(r rune) bool {
	if r < 0x10000 {
		return invisibleBMP[r>>6]&(1<<(r&63)) != 0
	}
	if r&0xFFFE == 0xFFFE { // the noncharacters at the end of each plane
		return true
	}
	_, found := slices.BinarySearchFunc(invisibleRanges, r, func(rg [2]rune, r rune) int {
		switch {
		case rg[1] < r:
			return -1
		case rg[0] > r:
			return 1
		}
		return 0
	})
	return found
}

// invisibleRanges holds, sorted and merged, the code points of the Unicode
// tables Printable refuses and the noncharacters U+FDD0 to U+FDEF: one
// binary search per rune instead of one per table, since imports check
// every entry's fields.
var invisibleRanges = mergeRanges([][2]rune{{0xFDD0, 0xFDEF}},
	unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Zl, unicode.Zp,
	unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)

// invisibleBMP is invisibleRanges below U+10000 as a bitmap (8 KiB): most
// text is there, and a bit costs less to test than a search.
var invisibleBMP = func() *[0x10000 / 64]uint64 {
	var m [0x10000 / 64]uint64
	set := func(r rune) { m[r>>6] |= 1 << (r & 63) }
	for _, rg := range invisibleRanges {
		for r := rg[0]; r <= rg[1] && r < 0x10000; r++ {
			set(r)
		}
	}
	set(0xFFFE)
	set(0xFFFF)
	return &m
}()

// mergeRanges returns the inclusive ranges of extra and of the tables,
// sorted, with overlapping and adjacent ranges merged.
func mergeRanges(extra [][2]rune, tables ...*unicode.RangeTable) [][2]rune {
	rs := slices.Clone(extra)
	add := func(lo, hi, stride rune) {
		if stride == 1 {
			rs = append(rs, [2]rune{lo, hi})
			return
		}
		for r := lo; r <= hi; r += stride {
			rs = append(rs, [2]rune{r, r})
		}
	}
	for _, t := range tables {
		for _, r := range t.R16 {
			add(rune(r.Lo), rune(r.Hi), rune(r.Stride))
		}
		for _, r := range t.R32 {
			add(rune(r.Lo), rune(r.Hi), rune(r.Stride))
		}
	}
	slices.SortFunc(rs, func(a, b [2]rune) int { return int(a[0] - b[0]) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && r[0] <= out[n-1][1]+1 {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

// ValidateName returns an EINVALID error unless s is a name that people can
// tell apart from others: 1 to max bytes, Printable, and without white
// space at either end. what names the field in the message ("key name").
func ValidateName(what, s string, max int) error {
	switch {
	case s == "" || len(s) > max:
		return Errorf(EINVALID, "%s must be 1 to %d bytes", what, max)
	case !Printable(s):
		return Errorf(EINVALID, "%s must be UTF-8 without control or invisible characters (such as bidi overrides or zero-width spaces)", what)
	case strings.TrimSpace(s) != s:
		return Errorf(EINVALID, "%s must not start or end with white space", what)
	}
	return nil
}

// VisibleText returns s with every character Printable refuses, but line
// breaks and tabs, written out as an escape (`\u202E`), and invalid UTF-8
// as U+FFFD: free text that is stored as given (case and decision notes)
// is shown to a reviewer this way, so it cannot hide or reorder what is
// around it.
func VisibleText(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r == utf8.RuneError || r != '\n' && r != '\t' && invisible(r) })
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == utf8.RuneError:
			b.WriteRune(utf8.RuneError)
		case invisible(r) && r > 0xFFFF:
			fmt.Fprintf(&b, `\U%08X`, r)
		case invisible(r):
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
