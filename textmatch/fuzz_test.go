package textmatch

import (
	"testing"
	"unicode/utf8"
)

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
		once, err := NormalizeURL(raw)
		if err != nil {
			return
		}
		twice, err := NormalizeURL(once)
		if err != nil {
			t.Fatalf("NormalizeURL(%q) = %q, which fails: %v", raw, once, err)
		}
		if twice != once {
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
