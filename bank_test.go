package vigil_test

import (
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

func TestCanonicalValue(t *testing.T) {
	pdq := strings.Repeat("ab", 32)
	tests := []struct {
		typ  vigil.SignalType
		in   string
		want string
		code string
	}{
		{vigil.SignalPDQ, pdq, pdq, ""},
		{vigil.SignalPDQ, " " + strings.ToUpper(pdq) + "\t", pdq, ""},
		{vigil.SignalPDQ, pdq[:63], "", vigil.EINVALID},
		{vigil.SignalPDQ, pdq[:63] + "g", "", vigil.EINVALID},
		{vigil.SignalMD5, strings.Repeat("0F", 16), strings.Repeat("0f", 16), ""},
		{vigil.SignalMD5, pdq, "", vigil.EINVALID},
		{vigil.SignalSHA1, strings.Repeat("a", 40), strings.Repeat("a", 40), ""},
		{vigil.SignalSHA256, pdq, pdq, ""},
		{vigil.SignalSHA256, "", "", vigil.EINVALID},
		{vigil.SignalURL, " https://Example.com/a ", "https://Example.com/a", ""},
		{vigil.SignalURL, "HOST:example.com", "host:example.com", ""},
		{vigil.SignalURL, "prefix:", "", vigil.EINVALID},
		{vigil.SignalURL, "https://example.com/a b", "", vigil.EINVALID},
		{vigil.SignalKeyword, "  Add  Me\tOn ", "add me on", ""},
		{vigil.SignalKeyword, " ", "", vigil.EINVALID},
		{vigil.SignalKeyword, strings.Repeat("k", 257), "", vigil.EINVALID},
		{vigil.SignalVPDQ, pdq, "", vigil.EINVALID},
		{vigil.SignalVPDQ, "0,100," + strings.ToUpper(pdq) + ",0.0\r\n30,99," + pdq + ",1\n", "0,100," + pdq + ",0.000;30,99," + pdq + ",1.000", ""},
		{vigil.SignalVPDQ, "0,101," + pdq + ",0.0", "", vigil.EINVALID},
		{vigil.SignalVPDQ, " ; ", "", vigil.EINVALID},
		{"crc32", "00000000", "", vigil.EINVALID},
	}
	for _, tt := range tests {
		got, err := vigil.CanonicalValue(tt.typ, tt.in)
		if code := vigil.ErrorCode(err); code != tt.code {
			t.Errorf("CanonicalValue(%s, %q) error %v, want code %q", tt.typ, tt.in, err, tt.code)
		}
		if got != tt.want {
			t.Errorf("CanonicalValue(%s, %q) = %q, want %q", tt.typ, tt.in, got, tt.want)
		}
	}
}

func TestValidateBankName(t *testing.T) {
	for _, name := range []string{"a", "ncmec", "iwf-2026_01", strings.Repeat("z", 64)} {
		if err := vigil.ValidateBankName(name); err != nil {
			t.Errorf("ValidateBankName(%q) = %v", name, err)
		}
	}
	for _, name := range []string{"", "NCMEC", "a b", "a/b", "é", strings.Repeat("z", 65)} {
		if code := vigil.ErrorCode(vigil.ValidateBankName(name)); code != vigil.EINVALID {
			t.Errorf("ValidateBankName(%q) code %q, want invalid", name, code)
		}
	}
}

func TestBankThreshold(t *testing.T) {
	b := &vigil.Bank{Name: "b"}
	if got := b.Threshold(vigil.SignalPDQ); got != vigil.DefaultPDQThreshold {
		t.Errorf("default pdq threshold = %d", got)
	}
	if got := b.Threshold(vigil.SignalMD5); got != 0 {
		t.Errorf("default md5 threshold = %d", got)
	}
	b.Thresholds = map[vigil.SignalType]int{vigil.SignalPDQ: 10}
	if got := b.Threshold(vigil.SignalPDQ); got != 10 {
		t.Errorf("pdq threshold = %d, want 10", got)
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, m := range []map[vigil.SignalType]int{
		{vigil.SignalPDQ: -1},
		{vigil.SignalPDQ: 129},
		{vigil.SignalMD5: 1},
		{"nope": 0},
	} {
		b.Thresholds = m
		if code := vigil.ErrorCode(b.Validate()); code != vigil.EINVALID {
			t.Errorf("Validate with thresholds %v: code %q", m, code)
		}
	}
}

func TestEntryValidate(t *testing.T) {
	e := &vigil.Entry{SignalType: vigil.SignalMD5, Value: strings.Repeat("A", 32), Source: "local"}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	if e.Value != strings.Repeat("a", 32) {
		t.Errorf("value not canonicalised: %q", e.Value)
	}
	for _, bad := range []string{strings.Repeat("c", vigil.MaxEntryFieldLen+1), "a\nb", "\x1b[31m", "\xff"} {
		e.Category = bad
		if code := vigil.ErrorCode(e.Validate()); code != vigil.EINVALID {
			t.Errorf("category %q: code %q", bad, code)
		}
	}
	e.Category = "Kategorie Ä"
	if err := e.Validate(); err != nil {
		t.Errorf("category %q: %v", e.Category, err)
	}
}

// TestCanonicalValueRefusesUnmatchable checks that a text or video value
// the index could never match is refused at input with EINVALID: stored,
// it used to make every keyword index build fail (issue 10).
func TestCanonicalValueRefusesUnmatchable(t *testing.T) {
	pdq := strings.Repeat("ab", 32)
	for _, tt := range []struct {
		typ vigil.SignalType
		in  string
	}{
		{vigil.SignalKeyword, "\u200b"},
		{vigil.SignalKeyword, "\u0301"},
		{vigil.SignalKeyword, "\u200b\u0301\u2060"},
		{vigil.SignalKeyword, "\u00a8"}, // a spacing diaeresis: NFKD makes it a space and a mark
		{vigil.SignalKeyword, "\u3164"}, // Hangul filler
		{vigil.SignalURL, "a,b,c"},
		{vigil.SignalURL, "prefix:javascript:alert(1)"},
		{vigil.SignalURL, "javascript:alert(1)"},
		{vigil.SignalURL, "host:example.com/path"},
		{vigil.SignalURL, "prefix:https://example.com/a?q=1"},
		{vigil.SignalVPDQ, "0,100," + pdq + ",NaN"},
		{vigil.SignalVPDQ, "0,100," + pdq + ",1e308"},
		{vigil.SignalVPDQ, "0,100," + pdq + ",+Inf"},
		{vigil.SignalVPDQ, "99999999999,100," + pdq + ",1"},
	} {
		got, err := vigil.CanonicalValue(tt.typ, tt.in)
		if vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("CanonicalValue(%s, %q) = %q, %v; want EINVALID", tt.typ, tt.in, got, err)
		}
	}
	// What can match still passes, keeping its stored form.
	for _, tt := range []struct {
		typ      vigil.SignalType
		in, want string
	}{
		{vigil.SignalKeyword, "te\u200blegram", "te\u200blegram"},
		{vigil.SignalKeyword, "café", "café"},
		{vigil.SignalURL, "example.com/a", "example.com/a"},
		{vigil.SignalURL, "Prefix:https://example.com/a", "prefix:https://example.com/a"},
		{vigil.SignalVPDQ, "0,100," + pdq + ",2147483647", "0,100," + pdq + ",2147483647.000"},
	} {
		got, err := vigil.CanonicalValue(tt.typ, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("CanonicalValue(%s, %q) = %q, %v; want %q", tt.typ, tt.in, got, err, tt.want)
		}
	}
}

// TestCanonicalSignals checks the one canonicalisation of looked-up
// signals: a hash with white space around it or in upper case becomes the
// stored form, so that cases made from the lookup accept it (issue 10).
func TestCanonicalSignals(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	sigs := []vigil.Signal{
		{Type: vigil.SignalSHA256, Value: sha + "\n"},
		{Type: vigil.SignalMD5, Value: " " + strings.ToUpper(sha[:32])},
		{Type: vigil.SignalPDQ, Value: "\t" + sha, Dihedral: map[string]string{"rot90": strings.ToUpper(sha) + "\r\n"}},
		{Type: vigil.SignalURL, Value: " https://example.com/a\n"},
		{Type: vigil.SignalText, Value: " as sent \n"},
	}
	if err := vigil.CanonicalSignals(sigs); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{sha, sha[:32], sha, "https://example.com/a", " as sent \n"} {
		if sigs[i].Value != want {
			t.Errorf("signal %d: value %q, want %q", i, sigs[i].Value, want)
		}
	}
	if sigs[2].Dihedral["rot90"] != sha {
		t.Errorf("dihedral %q", sigs[2].Dihedral["rot90"])
	}
	err := vigil.CanonicalSignals([]vigil.Signal{{Type: vigil.SignalSHA256, Value: sha}, {Type: vigil.SignalSHA256, Value: sha + "x"}})
	if vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(vigil.ErrorMessage(err), "signal 1") {
		t.Errorf("bad hash: %v", err)
	}
}
