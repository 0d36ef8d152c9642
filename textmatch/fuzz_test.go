package textmatch

import (
	"slices"
	"testing"
	"unicode/utf8"
)

// fuzzURLLen is the URL limit FuzzNormalizeURL normalises with.
const fuzzURLLen = 256

func FuzzNormalizeURL(f *testing.F) {
	for _, s := range []string{
		"http://example.com", "HTTPS://WWW.Example.COM:443/a/../b/?z=1&a=%7e#x",
		"example.com/path", "hxxp://example[.]com", "http://[2001:db8::1]:80/",
		"http://0x7f.1/%zz", "http://bücher.example/ü?ö", "//a@b:c@www.www.com./",
		"http://xn--bcher-kva.example", "http://ex%61mple.com", "http:8080",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		// A small limit keeps inputs short: see parseURLMax.
		u, err := parseURLMax(raw, fuzzURLLen)
		if err != nil {
			return
		}
		once := u.String()
		v, err := parseURLMax(once, fuzzURLLen)
		if err != nil {
			t.Fatalf("NormalizeURL(%q) = %q, which fails: %v", raw, once, err)
		}
		if twice := v.String(); twice != once {
			t.Fatalf("not idempotent: %q -> %q -> %q", raw, once, twice)
		}
		// A list built from the normal form must match the raw URL.
		var l URLList
		if err := l.Add(1, once, MatchExact); err != nil {
			t.Fatalf("Add(%q): %v", once, err)
		}
		ms, err := l.Match(raw)
		if err != nil || len(ms) == 0 || ms[0].ID != 1 {
			t.Fatalf("%q does not match its own normal form %q: %v %v", raw, once, ms, err)
		}
	})
}

func FuzzExtractURLs(f *testing.F) {
	for _, s := range []string{
		"see https://example.com/a, ok?", "example[.]com and hxxp[:]//x(dot)org",
		"find me on example . com", "访问http://example.com/a 吧", "(www.example.com/x))",
		"alice@example.com", "192.168.1.1:8080/x", "a . b [.] c (dot) d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		spans, err := ExtractURLs(text)
		if err != nil {
			return
		}
		last := 0
		for _, s := range spans {
			if s.Start < last || s.End <= s.Start || s.End > len(text) {
				t.Fatalf("span %+v out of order or bounds (len %d, last %d)", s, len(text), last)
			}
			last = s.End
			if n, err := NormalizeURL(s.URL); err != nil || n != s.URL {
				t.Fatalf("extracted URL %q is not normal: %q %v", s.URL, n, err)
			}
		}
		if utf8.ValidString(text) && len(spans) > MaxTextURLs {
			t.Fatalf("%d spans", len(spans))
		}
	})
}

func FuzzKeywordMatch(f *testing.F) {
	f.Add("telegram", true, "add me on T E L E G R A M!")
	f.Add("d1sc0rd", false, "my D!SCORD and discord")
	f.Add("apple", true, "pineapple, apple, aple, appple")
	f.Add("ﬁg", false, "ﬁg fig FIG ｆｉｇ")
	f.Add("ab", false, "a\u0301b\u200b\u0301 a b c \xff")
	f.Fuzz(func(t *testing.T, kw string, wholeWord bool, text string) {
		l, err := NewKeywordList([]Keyword{{ID: 1, Text: kw, WholeWord: wholeWord}, {ID: 2, Text: "telegram"}})
		if err != nil {
			return
		}
		ms, err := l.Match(text)
		if err != nil {
			return
		}
		for _, m := range ms {
			if m.Start < 0 || m.Start >= m.End || m.End > len(text) {
				t.Fatalf("match %+v out of bounds (len %d)", m, len(text))
			}
		}
		norm, offs, err := Normalize(text)
		if err != nil {
			t.Fatal(err)
		}
		if len(offs) != len(norm)+1 || offs[len(norm)] != len(text) {
			t.Fatalf("%d offsets for %d bytes", len(offs), len(norm))
		}
		for i := 1; i < len(offs); i++ {
			if offs[i] < offs[i-1] {
				t.Fatalf("offsets decrease at %d: %v", i, offs)
			}
		}
		// A keyword standing alone is found in itself.
		self, err := l.Match(kw)
		if err != nil || !slices.ContainsFunc(self, func(m KeywordMatch) bool { return m.ID == 1 }) {
			t.Fatalf("keyword %q not found in itself: %v %v", kw, self, err)
		}
	})
}
