package vigil

import (
	"fmt"
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
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if invisible(r) {
			return false
		}
	}
	return true
}

// invisible reports whether r is one of the characters Printable refuses.
func invisible(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Zl, unicode.Zp,
		unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) ||
		r&0xFFFE == 0xFFFE || r >= 0xFDD0 && r <= 0xFDEF // noncharacters
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
