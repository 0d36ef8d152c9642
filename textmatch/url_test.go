package textmatch

import (
	"strings"
	"testing"

	"github.com/vigil-oss/vigil/internal/verror"
)

func TestNormalizeURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://example.com", "http://example.com"},
		{"HTTP://EXAMPLE.COM/", "http://example.com"},
		{"https://Example.COM:443/a/", "https://example.com/a"},
		{"http://example.com:80/a", "http://example.com/a"},
		{"https://example.com:80/a", "https://example.com:80/a"},
		{"http://example.com:08080", "http://example.com:8080"},
		{"http://example.com:/x", "http://example.com/x"},
		{"http://www.example.com/a", "http://example.com/a"},
		{"http://www.www.example.com", "http://example.com"},
		{"http://www.com", "http://www.com"},
		{"http://example.com./a", "http://example.com/a"},
		{"example.com/path", "http://example.com/path"},
		{"example.com:8080/path", "http://example.com:8080/path"},
		{"//example.com/a", "http://example.com/a"},
		{"hxxp://example.com", "http://example.com"},
		{"hXXps://example.com", "https://example.com"},
		{"https:\\\\example.com\\a\\b", "https://example.com/a/b"},
		{"http://user:pass@example.com/a", "http://example.com/a"},
		{"http://a@b@example.com/a", "http://example.com/a"},
		{"http://example.com/a#frag", "http://example.com/a"},
		{"http://example.com/a?#frag", "http://example.com/a"},
		{"http://example.com/a/./b/../c", "http://example.com/a/c"},
		{"http://example.com/../../a", "http://example.com/a"},
		{"http://example.com//a///b/", "http://example.com/a/b"},
		{"http://example.com/%7euser/%41%2f/%2e%2E/x", "http://example.com/~user/x"},
		{"http://example.com/%41%2f%3a", "http://example.com/A%2F%3A"},
		{"http://example.com/a b/ü", "http://example.com/a%20b/%C3%BC"},
		{"http://example.com/%zz%", "http://example.com/%25zz%25"},
		{"http://example.com/?b=2&a=1&&c", "http://example.com?a=1&b=2&c"},
		{"http://example.com/p?z=%7e&y=%2f", "http://example.com/p?y=%2F&z=~"},
		{"http://example.com?", "http://example.com"},
		{"http://BÜCHER.example/", "http://xn--bcher-kva.example"},
		{"http://xn--bcher-kva.example", "http://xn--bcher-kva.example"},
		{"http://ｅｘａｍｐｌｅ．ｃｏｍ/", "http://example.com"},
		{"http://ex%61mple.com", "http://example.com"},
		{"http://under_score.example.com", "http://under_score.example.com"},
		{"http://3232235777/", "http://192.168.1.1"},
		{"http://0xc0.0250.1.1", "http://192.168.1.1"},
		{"http://127.1", "http://127.0.0.1"},
		{"http://[2001:DB8::0:1]:8080/a", "http://[2001:db8::1]:8080/a"},
		{"  http://example.com/a\n ", "http://example.com/a"},
		{"http://exa\tmple.com/a", "http://example.com/a"},
	}
	for _, tt := range tests {
		got, err := NormalizeURL(tt.in)
		if err != nil {
			t.Errorf("NormalizeURL(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("NormalizeURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		again, err := NormalizeURL(got)
		if err != nil || again != got {
			t.Errorf("NormalizeURL(%q) = %q, %v; not idempotent", got, again, err)
		}
	}
}

func TestNormalizeURLErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"   ",
		"ftp://example.com/a",
		"javascript://example.com",
		"http://",
		"http://exa mple.com",
		"http://example.com:99999",
		"http://example.com:8x",
		"http://[::1",
		"http://[zz::1]",
		"http://256.1.1.1",
		"http://1.2.3.4.5",
		"http://example.123",
		"http://a..b.example",
		"http://ex%zzample.com",
		"http://" + strings.Repeat("a", MaxURLLen),
		"http://" + strings.Repeat("a.", 600) + "com/",
	} {
		if got, err := NormalizeURL(in); err == nil {
			t.Errorf("NormalizeURL(%q) = %q, want error", in, got)
		}
	}
	_, err := NormalizeURL(strings.Repeat("a", MaxURLLen+1))
	if verror.ErrorCode(err) != verror.ETOOLARGE {
		t.Errorf("long url: error code %q, want %q", verror.ErrorCode(err), verror.ETOOLARGE)
	}
}

// TestURLLimitsReachableWithShortInputs checks that with the fuzz
// target's small limit every length branch is reached by inputs of a few
// hundred bytes, which the fuzzer minimises in well under a second. At
// MaxURLLen those branches need inputs of kilobytes, and minimising each
// new one stalled FuzzNormalizeURL for up to a minute (issue 10).
func TestURLLimitsReachableWithShortInputs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		code string
		msg  string
	}{
		{strings.Repeat("a", fuzzURLLen+1), verror.ETOOLARGE, "longer than"},
		{"http://x/" + strings.Repeat("\x01", fuzzURLLen/3+1), verror.ETOOLARGE, "once normalised"},
		{"http://" + strings.Repeat("a", fuzzURLLen/hostLenShare+1) + "/", verror.EINVALID, "host too long"},
	} {
		if len(tc.in) > 2*fuzzURLLen {
			t.Fatalf("input of %d bytes", len(tc.in))
		}
		_, err := parseURLMax(tc.in, fuzzURLLen)
		if verror.ErrorCode(err) != tc.code || !strings.Contains(verror.ErrorMessage(err), tc.msg) {
			t.Errorf("parseURLMax(%.20q…, %d) = %v, want %s %q", tc.in, fuzzURLLen, err, tc.code, tc.msg)
		}
	}
	// The production limits are unchanged: a 1024-byte host passes.
	if _, err := NormalizeURL("http://" + strings.Repeat("a", 1024) + "/"); err != nil {
		t.Errorf("1024-byte host: %v", err)
	}
	if _, err := NormalizeURL("http://" + strings.Repeat("a", 1025) + "/"); err == nil {
		t.Error("1025-byte host: no error")
	}
}

// TestNormalizeURLPunycodeHostLimit checks idempotence for a Unicode host
// under the host limit whose punycode is over it, as FuzzNormalizeURL
// found once its limit made such hosts short (testdata 01d807e0b0e16f6e).
func TestNormalizeURLPunycodeHostLimit(t *testing.T) {
	raw := "http://ü" + strings.Repeat("0", MaxURLLen/hostLenShare-2) + "/"
	once, err := NormalizeURL(raw)
	if err != nil {
		return // refusing it is fine
	}
	if twice, err := NormalizeURL(once); err != nil || twice != once {
		t.Errorf("NormalizeURL(%.20q…) = %.30q…, then %.30q…, %v", raw, once, twice, err)
	}
}
