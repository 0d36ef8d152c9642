package textmatch

import (
	"slices"
	"strings"
	"testing"
)

// MustURLList returns a list of the given patterns, with ids from 1 in order.
func MustURLList(tb testing.TB, mode MatchMode, patterns ...string) *URLList {
	tb.Helper()
	var l URLList
	for i, p := range patterns {
		if err := l.Add(uint64(i+1), p, mode); err != nil {
			tb.Fatal(err)
		}
	}
	return &l
}

func matchIDs(tb testing.TB, l *URLList, raw string) []uint64 {
	tb.Helper()
	ms, err := l.Match(raw)
	if err != nil {
		tb.Fatalf("Match(%q): %v", raw, err)
	}
	var ids []uint64
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

func TestURLListModes(t *testing.T) {
	tests := []struct {
		mode    MatchMode
		pattern string
		url     string
		want    bool
	}{
		{MatchExact, "example.com/a?x=1&y=2", "HTTPS://www.Example.com/a/?y=2&x=1#top", true},
		{MatchExact, "example.com/a", "http://example.com/a/b", false},
		{MatchExact, "example.com/a", "http://example.com/a?x=1", false},
		{MatchExact, "example.com:8080/a", "http://example.com/a", false},
		{MatchHost, "example.com", "http://example.com", true},
		{MatchHost, "example.com", "http://a.b.example.com:8080/x?y", true},
		{MatchHost, "www.example.com", "http://files.example.com/x", true},
		{MatchHost, "example.com", "http://badexample.com/", false},
		{MatchHost, "example.com", "http://example.com.evil.test/", false},
		{MatchHost, "sub.example.com", "http://example.com/", false},
		{MatchHost, "10.0.0.1", "http://10.0.0.1/a", true},
		{MatchHost, "0.0.1", "http://10.0.0.1/a", false},
		{MatchHost, "bücher.example", "http://xn--bcher-kva.example/a", true},
		{MatchPrefix, "example.com/a/b", "http://example.com/a/b", true},
		{MatchPrefix, "example.com/a/b", "http://example.com/a/b/c?q=1", true},
		{MatchPrefix, "example.com/a/b/", "http://example.com/a/b", true},
		{MatchPrefix, "example.com/a/b", "http://example.com/a/bc", false},
		{MatchPrefix, "example.com/a/b", "http://example.com/a", false},
		{MatchPrefix, "example.com/a", "http://sub.example.com/a/b", false},
		{MatchPrefix, "example.com", "http://example.com/anything", true},
		{MatchPrefix, "example.com/a%2fb", "http://example.com/a/b", false},
	}
	for _, tt := range tests {
		l := MustURLList(t, tt.mode, tt.pattern)
		got := len(matchIDs(t, l, tt.url)) > 0
		if got != tt.want {
			t.Errorf("%v %q matching %q = %v, want %v", tt.mode, tt.pattern, tt.url, got, tt.want)
		}
	}
}

func TestURLListOrderAndProvenance(t *testing.T) {
	var l URLList
	for _, e := range []struct {
		id   uint64
		p    string
		mode MatchMode
	}{
		{1, "example.com", MatchHost},
		{2, "a.example.com", MatchHost},
		{3, "a.example.com/x", MatchPrefix},
		{4, "a.example.com/x/y", MatchPrefix},
		{5, "a.example.com/x/y", MatchExact},
		{5, "a.example.com/x/y", MatchExact}, // duplicate: ignored
		{6, "a.example.com/x/y", MatchExact},
	} {
		if err := l.Add(e.id, e.p, e.mode); err != nil {
			t.Fatal(err)
		}
	}
	if l.Len() != 6 {
		t.Errorf("Len = %d, want 6", l.Len())
	}
	ms, err := l.Match("https://A.example.com/x/y")
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, m := range ms {
		ids = append(ids, m.ID)
		if m.URL != "https://a.example.com/x/y" || m.Start != 0 || m.End != 25 {
			t.Errorf("match %+v: wrong URL or span", m)
		}
	}
	if want := []uint64{5, 6, 4, 3, 2, 1}; !slices.Equal(ids, want) {
		t.Errorf("ids = %v, want %v", ids, want)
	}
	if ms[0].Pattern != "http://a.example.com/x/y" || ms[0].Mode != MatchExact {
		t.Errorf("first match %+v", ms[0])
	}
}

func TestURLListAddErrors(t *testing.T) {
	var l URLList
	for _, tt := range []struct {
		p    string
		mode MatchMode
	}{
		{"example.com/a", MatchHost},
		{"example.com:8080", MatchHost},
		{"example.com/a?x=1", MatchPrefix},
		{"example.com", MatchMode(9)},
		{"ftp://example.com", MatchExact},
	} {
		if err := l.Add(1, tt.p, tt.mode); err == nil {
			t.Errorf("Add(%q, %v): no error", tt.p, tt.mode)
		}
	}
	if _, err := l.Match("not a url at all"); err == nil {
		t.Error("Match of a non-URL: no error")
	}
}

func TestExtractURLs(t *testing.T) {
	tests := []struct {
		text string
		want []string // the URLs as written in text
		norm []string
	}{
		{"see https://example.com/a, ok?", []string{"https://example.com/a"}, []string{"https://example.com/a"}},
		{"(www.example.com/x)", []string{"www.example.com/x"}, []string{"http://example.com/x"}},
		{"go to example.com/path.", []string{"example.com/path"}, []string{"http://example.com/path"}},
		{"the wiki (https://example.org/a_(b)) says", []string{"https://example.org/a_(b)"}, []string{"https://example.org/a_(b)"}},
		{"example[.]com and files[.]example(dot)org", []string{"example[.]com", "files[.]example(dot)org"}, []string{"http://example.com", "http://files.example.org"}},
		{"hxxps://example[.]com/a", []string{"hxxps://example[.]com/a"}, []string{"https://example.com/a"}},
		{"hxxp[:]//example.com", []string{"hxxp[:]//example.com"}, []string{"http://example.com"}},
		{"find me on example . com", []string{"example . com"}, []string{"http://example.com"}},
		{"join discord dot gg slash x", []string{"discord dot gg"}, []string{"http://discord.gg"}},
		{"example。com", []string{"example。com"}, []string{"http://example.com"}},
		{"访问http://example.com/a 吧", []string{"http://example.com/a"}, []string{"http://example.com/a"}},
		{"ip 192.168.1.1:8080/x here", []string{"192.168.1.1:8080/x"}, []string{"http://192.168.1.1:8080/x"}},
		{"mail alice@example.com today", nil, nil},
		{"open file.txt, e.g. v1.2.3", nil, nil},
		{"I like apples. Com-munity", nil, nil},
		{"https://example.com/a\nexample.net", []string{"https://example.com/a", "example.net"}, []string{"https://example.com/a", "http://example.net"}},
	}
	for _, tt := range tests {
		spans, err := ExtractURLs(tt.text)
		if err != nil {
			t.Fatal(err)
		}
		var got, norm []string
		for _, s := range spans {
			got = append(got, tt.text[s.Start:s.End])
			norm = append(norm, s.URL)
		}
		if !slices.Equal(got, tt.want) || !slices.Equal(norm, tt.norm) {
			t.Errorf("ExtractURLs(%q) = %q %q, want %q %q", tt.text, got, norm, tt.want, tt.norm)
		}
	}
	if _, err := ExtractURLs(strings.Repeat("a", MaxTextLen+1)); err == nil {
		t.Error("over-long text: no error")
	}
}

func TestURLListMatchText(t *testing.T) {
	l := MustURLList(t, MatchHost, "example.com")
	text := "hey look at files.example[.]com/x or example.org"
	ms, err := l.MatchText(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || text[ms[0].Start:ms[0].End] != "files.example[.]com/x" || ms[0].ID != 1 {
		t.Errorf("MatchText = %+v", ms)
	}
}
