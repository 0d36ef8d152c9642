package vigil_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/vigil-oss/vigil"
)

// hostile names: each looks like, or hides inside, an ordinary one.
var hostileNames = map[string]string{
	"nul":                 "admin\x00",
	"escape":              "admin\x1b[2J",
	"newline":             "admin\nkey:1:root",
	"c1 control":          "admin\u0085",
	"right-to-left mark":  "admin\u200f",
	"bidi override":       "admin\u202e2-",
	"bidi isolate":        "\u2066admin\u2069",
	"zero-width space":    "ad\u200bmin",
	"zero-width joiner":   "ad\u200dmin",
	"word joiner":         "ad\u2060min",
	"byte order mark":     "\ufeffadmin",
	"soft hyphen":         "ad\u00admin",
	"hangul filler":       "admin\u3164",
	"variation selector":  "admin\ufe0f",
	"grapheme joiner":     "ad\u034fmin",
	"line separator":      "admin\u2028",
	"private use":         "admin\ue000",
	"noncharacter":        "admin\uffff",
	"tag character":       "admin\U000e0041",
	"invalid utf-8":       "admin\xff",
	"leading space":       " admin",
	"trailing space":      "admin ",
	"too long":            strings.Repeat("a", vigil.MaxKeyNameLen+1),
	"empty":               "",
	"mongolian separator": "ad\u180emin",
}

func TestKeyValidateRefusesHostileNames(t *testing.T) {
	for what, name := range hostileNames {
		k := &vigil.Key{Name: name, Role: vigil.RoleMatcher}
		if code := vigil.ErrorCode(k.Validate()); code != vigil.EINVALID {
			t.Errorf("%s: key name %q: code %q, want invalid", what, name, code)
		}
	}
	for _, name := range []string{"ci", "matcher-2", "Équipe de modération", "審査チーム", "ops key (night)"} {
		k := &vigil.Key{Name: name, Role: vigil.RoleMatcher}
		if err := k.Validate(); err != nil {
			t.Errorf("key name %q: %v", name, err)
		}
	}
}

func TestEntryValidateRefusesInvisibleSource(t *testing.T) {
	for _, f := range []func(e *vigil.Entry, v string){
		func(e *vigil.Entry, v string) { e.Source = v },
		func(e *vigil.Entry, v string) { e.Category = v },
	} {
		e := &vigil.Entry{SignalType: vigil.SignalMD5, Value: strings.Repeat("0", 32)}
		f(e, "ncmec\u202e")
		if code := vigil.ErrorCode(e.Validate()); code != vigil.EINVALID {
			t.Errorf("entry %+v: code %q", e, code)
		}
	}
}

func TestVisibleText(t *testing.T) {
	for in, want := range map[string]string{
		"plain note":            "plain note",
		"two\nlines\tand a tab": "two\nlines\tand a tab",
		"evil\u202etxt.exe":     `evil\u202Etxt.exe`,
		"zero\u200bwidth":       `zero\u200Bwidth`,
		"nul\x00esc\x1b":        `nul\u0000esc\u001B`,
		"cr\r\n":                "cr\\u000D\n",
		"tag\U000e0041":         `tag\U000E0041`,
		"bad\xffbyte":           "bad\ufffdbyte",
		"Équipe 審査 \u00a0space": "Équipe 審査 \u00a0space",
	} {
		if got := vigil.VisibleText(in); got != want {
			t.Errorf("VisibleText(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzVisibleText checks that what VisibleText returns is printable but
// for line breaks and tabs, and that it leaves printable text alone.
func FuzzVisibleText(f *testing.F) {
	for _, s := range hostileNames {
		f.Add(s)
	}
	f.Add("plain\nnote")
	f.Fuzz(func(t *testing.T, s string) {
		got := vigil.VisibleText(s)
		if !utf8.ValidString(got) || !vigil.Printable(strings.NewReplacer("\n", "", "\t", "").Replace(got)) {
			t.Fatalf("VisibleText(%q) = %q, not printable", s, got)
		}
		if vigil.Printable(s) && got != s {
			t.Fatalf("VisibleText(%q) = %q changed printable text", s, got)
		}
	})
}

// TestPrintableMatchesTables checks the merged ranges against the Unicode
// tables they come from, over every code point.
func TestPrintableMatchesTables(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue // not encodable in UTF-8
		}
		want := !unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs, unicode.Zl, unicode.Zp,
			unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) &&
			r&0xFFFE != 0xFFFE && !(r >= 0xFDD0 && r <= 0xFDEF)
		if got := vigil.Printable(string(r)); got != want {
			t.Fatalf("Printable(%U) = %v, want %v", r, got, want)
		}
	}
}
