package textmatch

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vigil-oss/vigil/internal/verror"
	"golang.org/x/net/publicsuffix"
)

// MaxTextLen is the longest text, in bytes, that ExtractURLs, Normalize and
// KeywordList.Match accept. It is far above a chat message and bounds the
// memory one call can take (about 30 bytes per input byte at worst).
const MaxTextLen = 1 << 20

// MaxTextURLs is the most URLs ExtractURLs returns from one text; a text
// made of nothing but short URLs is a flood, not a message.
const MaxTextURLs = 1000

// Span is a URL found in a text.
type Span struct {
	Start, End int    // byte offsets of the URL as written in the text
	URL        string // the URL, de-obfuscated and normalised
}

type extracted struct {
	start, end int
	u          *normURL
}

// ExtractURLs returns the URLs in text, in order: with a scheme
// ("https://…"), starting "www.", or bare hosts whose last label is a
// top-level domain ("example.com/path"). It sees through common defanging
// and obfuscation: "example[.]com", "example(dot)com", "example . com",
// "example dot com", "hxxp://", "http[:]//" and full-width dots. Email
// addresses are not URLs and are skipped.
func ExtractURLs(text string) ([]Span, error) {
	found, err := extractURLs(text)
	if err != nil {
		return nil, err
	}
	spans := make([]Span, len(found))
	for i, f := range found {
		spans[i] = Span{Start: f.start, End: f.end, URL: f.u.String()}
	}
	return spans, nil
}

func extractURLs(text string) ([]extracted, error) {
	if len(text) > MaxTextLen {
		return nil, verror.Errorf(verror.ETOOLARGE, "text longer than %d bytes", MaxTextLen)
	}
	clean, pos := deobfuscate(text)
	var out []extracted
	for i := 0; i < len(clean) && len(out) < MaxTextURLs; {
		end, ok := i, false
		// A scheme marks a URL even right after non-Latin text with no
		// space ("访问http://…"); a bare host needs a clear start.
		if (i == 0 || !isASCIIAlnum(clean[i-1])) &&
			(hasPrefixFold(clean[i:], "http://") || hasPrefixFold(clean[i:], "https://")) {
			end, ok = urlEnd(clean, i), true
		} else if i == 0 || startsToken(clean[i-1]) {
			end, ok = bareURLAt(clean, i)
		}
		if end <= i {
			i++
			continue
		}
		if ok {
			if u, err := parseURL(string(clean[i:end])); err == nil {
				out = append(out, extracted{start: pos[i], end: pos[end], u: u})
			}
		}
		i = end
	}
	return out, nil
}

// startsToken reports whether a URL may start right after byte c: not in
// the middle of a word, a path or an email address.
func startsToken(c byte) bool {
	if c >= utf8.RuneSelf {
		return false
	}
	return !isHostByte(c) && !strings.ContainsRune("/:@%~+=&?#", rune(c))
}

func isHostByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c >= utf8.RuneSelf
}

// bareURLAt returns the end of a URL without a scheme starting at clean[i].
// If the host there is not plausible it returns i and false; the rest of
// the run is then passed over byte by byte, since a scheme may start in it.
func bareURLAt(clean []byte, i int) (int, bool) {
	j := hostRunEnd(clean, i)
	host := strings.TrimRight(string(clean[i:j]), ".-_")
	if !plausibleHost(host) {
		return i, false
	}
	j = i + len(host)
	if j < len(clean) && strings.IndexByte(":/?#", clean[j]) >= 0 {
		return urlEnd(clean, i), true
	}
	return j, true
}

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// hostRunEnd returns the end of the run of host characters at clean[i]:
// ASCII letters, digits, '-', '_', '.', and non-ASCII letters and digits.
func hostRunEnd(clean []byte, i int) int {
	for i < len(clean) {
		c := clean[i]
		if c < utf8.RuneSelf {
			if !isHostByte(c) {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(clean[i:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.Is(unicode.Mn, r) {
			break
		}
		i += n
	}
	return i
}

// plausibleHost reports whether host, written without a scheme, is taken for
// a host: a dotted-quad IPv4 address, or a dotted name whose last label is a
// top-level domain on the public suffix list. The TLD check is what keeps
// "file.txt" and "e.g" out.
func plausibleHost(host string) bool {
	dot := strings.LastIndexByte(host, '.')
	if dot <= 0 {
		return false
	}
	if parts := strings.Split(host, "."); len(parts) == 4 {
		ip := true
		for _, p := range parts {
			ip = ip && p != "" && len(p) <= 3 && strings.Trim(p, "0123456789") == ""
		}
		if ip {
			return true
		}
	}
	tld := host[dot+1:]
	if tld == "" || strings.IndexByte(tld, '_') >= 0 {
		return false
	}
	a, err := hostProfile.ToASCII(tld)
	if err != nil {
		return false
	}
	suffix, icann := publicsuffix.PublicSuffix(a)
	return icann && suffix == a
}

// urlEnd returns where a URL starting at clean[i] ends: at white space, a
// control character or a character that cannot be in a URL, less trailing
// punctuation and closing brackets that do not belong to it.
func urlEnd(clean []byte, i int) int {
	j := i
	for j < len(clean) {
		c := clean[j]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == 0x7f || strings.IndexByte("<>\"`", c) >= 0 {
				break
			}
			j++
			continue
		}
		r, n := utf8.DecodeRune(clean[j:])
		if unicode.IsSpace(r) || unicode.Is(unicode.Cc, r) {
			break
		}
		j += n
	}
	// Count brackets once: re-counting per trimmed ')' would be quadratic
	// on a text of nothing but brackets.
	var opens, closes [3]int
	for _, c := range clean[i:j] {
		if k := strings.IndexByte("([{", c); k >= 0 {
			opens[k]++
		} else if k := strings.IndexByte(")]}", c); k >= 0 {
			closes[k]++
		}
	}
	for j > i {
		c := clean[j-1]
		if strings.IndexByte(".,;:!?'*", c) >= 0 {
			j--
			continue
		}
		if k := strings.IndexByte(")]}", c); k >= 0 && opens[k] < closes[k] {
			closes[k]--
			j--
			continue
		}
		break
	}
	return j
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}

// deobfuscate undoes defanging in text. pos maps each byte of clean to the
// offset in text of the construct it came from, with one more entry for the
// end of text.
func deobfuscate(text string) (clean []byte, pos []int) {
	clean = make([]byte, 0, len(text))
	pos = make([]int, 0, len(text)+1)
	emit := func(s string, at int) {
		for k := 0; k < len(s); k++ {
			clean = append(clean, s[k])
			pos = append(pos, at)
		}
	}
	for i := 0; i < len(text); {
		c := text[i]
		prevAlnum := len(clean) > 0 && isAlnumByte(clean[len(clean)-1])
		if prevAlnum {
			if n := obfuscatedDot(text, i); n > 0 {
				emit(".", i)
				i += n
				continue
			}
		}
		if c == '[' || c == '(' || c == '{' {
			if s, n := bracketed(text, i); n > 0 {
				emit(s, i)
				i += n
				continue
			}
		}
		if (c == 'h' || c == 'H') && !prevAlnum {
			if s, n := defangedScheme(text, i); n > 0 {
				emit(s, i)
				i += n
				continue
			}
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(text[i:])
			if r == '\u3002' || r == '\uFF0E' || r == '\uFF61' {
				emit(".", i)
			} else {
				for k := 0; k < n; k++ {
					clean = append(clean, text[i+k])
					pos = append(pos, i+k)
				}
			}
			i += n
			continue
		}
		clean = append(clean, c)
		pos = append(pos, i)
		i++
	}
	pos = append(pos, len(text))
	return clean, pos
}

func isAlnumByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c >= utf8.RuneSelf
}

// obfuscatedDot returns the length of a dot written as "[.]", "(dot)",
// " . ", " dot " and the like at text[i], or 0. A plain dot followed by a
// space is the end of a sentence, not a host, so a bare dot counts only with
// space before it.
func obfuscatedDot(text string, i int) int {
	j := skipSpaces(text, i)
	spaced := j > i
	switch {
	case j < len(text) && strings.IndexByte("[({", text[j]) >= 0:
		k := skipSpaces(text, j+1)
		switch {
		case strings.HasPrefix(text[k:], "."):
			k++
		case hasPrefixFoldString(text[k:], "dot"):
			k += 3
		default:
			return 0
		}
		k = skipSpaces(text, k)
		if k >= len(text) || text[k] != ")]}"[strings.IndexByte("([{", text[j])] {
			return 0
		}
		j = k + 1
	case spaced && strings.HasPrefix(text[j:], "."):
		j++
	case spaced && hasPrefixFoldString(text[j:], "dot") && skipSpaces(text, j+3) > j+3:
		j += 3
	default:
		return 0
	}
	j = skipSpaces(text, j)
	if j >= len(text) || !isAlnumByte(text[j]) {
		return 0
	}
	return j - i
}

// bracketed returns the punctuation inside "[:]", "[://]", "[/]" and the
// like at text[i], and the construct's length, or 0.
func bracketed(text string, i int) (string, int) {
	closer := ")]}"[strings.IndexByte("([{", text[i])]
	for _, s := range []string{"://", ":", "/", "."} {
		if strings.HasPrefix(text[i+1:], s) && i+1+len(s) < len(text) && text[i+1+len(s)] == closer {
			return s, len(s) + 2
		}
	}
	return "", 0
}

// defangedScheme returns "http" or "https" for "hxxp", "hXXps", "h**p" and
// the like at text[i] when a ':' (or "[:]") follows, and the length read.
func defangedScheme(text string, i int) (string, int) {
	if len(text) < i+5 {
		return "", 0
	}
	s := text[i : i+4]
	for k := 1; k <= 2; k++ {
		if strings.IndexByte("xXtT*", s[k]) < 0 {
			return "", 0
		}
	}
	if s[3] != 'p' && s[3] != 'P' {
		return "", 0
	}
	scheme, n := "http", 4
	if text[i+4] == 's' || text[i+4] == 'S' {
		scheme, n = "https", 5
	}
	if i+n >= len(text) || (text[i+n] != ':' && text[i+n] != '[' && text[i+n] != '(') {
		return "", 0
	}
	return scheme, n
}

func skipSpaces(text string, i int) int {
	for i < len(text) && (text[i] == ' ' || text[i] == '\t') {
		i++
	}
	return i
}

func hasPrefixFoldString(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
