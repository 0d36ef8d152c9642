package textmatch

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vigil-oss/vigil/internal/verror"
	"golang.org/x/net/idna"
)

// MaxURLLen is the longest URL, in bytes, that NormalizeURL and URLList
// accept. Real URLs on lists are far shorter; the limit bounds the work an
// outside caller can ask for.
const MaxURLLen = 8 << 10

// hostLenShare bounds the host part of a URL as written to this share of
// the URL's limit: 1024 bytes of MaxURLLen.
const hostLenShare = 8

// hostProfile maps hosts the way browsers do for lookup (case, width,
// Unicode to punycode) but without STD3 or hyphen rules: hosts on abuse lists
// are often not valid registrable names ("under_score", "-x-"), and
// rejecting them would let them go unmatched. A *idna.Profile is immutable.
var hostProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.StrictDomainName(false),
	idna.CheckHyphens(false),
)

// normURL is a URL in canonical form, split so that URLList can match on parts.
type normURL struct {
	scheme string // "http" or "https"
	host   string // lower-case ASCII, no "www.", no trailing dot; IPv6 in brackets
	port   string // "" for the scheme's default
	path   string // "" or "/seg/seg", no dot-segments, no empty segments
	query  string // "" or sorted "k=v&k=v", without the "?"
}

// hostPort is the host with its port, if any.
func (u *normURL) hostPort() string {
	if u.port == "" {
		return u.host
	}
	return u.host + ":" + u.port
}

// key is the URL without its scheme: lists treat http and https alike
// because the same content is usually served on both.
func (u *normURL) key() string {
	k := u.hostPort() + u.path
	if u.query != "" {
		k += "?" + u.query
	}
	return k
}

func (u *normURL) String() string { return u.scheme + "://" + u.key() }

// NormalizeURL returns the canonical form of raw: scheme and host lower-cased,
// default port, userinfo, fragment, "www." and trailing slashes removed,
// Unicode hosts in punycode, IPv4 hosts in dotted decimal, percent escapes of
// unreserved characters decoded and all others upper-cased, dot-segments and
// empty segments removed, query parameters sorted. A URL without a scheme
// ("example.com/path") is taken as http. Only http and https (and their
// defanged spellings hxxp and hxxps) are accepted. NormalizeURL is
// idempotent: normalising its output again returns the same string.
func NormalizeURL(raw string) (string, error) {
	u, err := parseURL(raw)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

func invalidURL(format string, args ...any) error {
	return verror.Errorf(verror.EINVALID, "invalid url: "+format, args...)
}

func parseURL(raw string) (*normURL, error) { return parseURLMax(raw, MaxURLLen) }

// parseURLMax is parseURL with the length limit as an argument. The fuzz
// target passes a small one, so that every branch the limits guard is
// reachable with short inputs: at MaxURLLen, the inputs that reach the
// "longer once normalised" branch are several kilobytes, and the fuzzer,
// which minimises every new input with a number of runs quadratic in its
// length, then stalled for up to a minute with no execution counted.
func parseURLMax(raw string, maxLen int) (*normURL, error) {
	if len(raw) > maxLen {
		return nil, verror.Errorf(verror.ETOOLARGE, "url longer than %d bytes", maxLen)
	}
	s := strings.Trim(raw, " \t\r\n\f\v\x00")
	// Browsers drop tabs and newlines anywhere in a URL, so a list entry
	// wrapped over two lines still names the same address.
	if strings.ContainsAny(s, "\t\r\n") {
		s = strings.NewReplacer("\t", "", "\r", "", "\n", "").Replace(s)
	}
	if s == "" {
		return nil, invalidURL("empty")
	}
	u := &normURL{}
	var err error
	u.scheme, s, err = splitScheme(s)
	if err != nil {
		return nil, err
	}
	end := strings.IndexAny(s, "/\\?#")
	if end < 0 {
		end = len(s)
	}
	auth, rest := s[:end], s[end:]
	if at := strings.LastIndexByte(auth, '@'); at >= 0 {
		auth = auth[at+1:]
	}
	host, port, err := splitHostPort(auth)
	if err != nil {
		return nil, err
	}
	if u.host, err = normalizeHost(host, maxLen/hostLenShare); err != nil {
		return nil, err
	}
	if u.port, err = normalizePort(port, u.scheme); err != nil {
		return nil, err
	}
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest = rest[:i]
	}
	path, query, _ := strings.Cut(rest, "?")
	u.path = normalizePath(path)
	u.query = normalizeQuery(query)
	// Escaping can triple the length; capping the result too keeps every
	// normal form acceptable as input, which idempotence needs.
	if len(u.scheme)+3+len(u.key()) > maxLen {
		return nil, verror.Errorf(verror.ETOOLARGE, "url longer than %d bytes once normalised", maxLen)
	}
	return u, nil
}

// splitScheme returns the canonical scheme and the rest of s after the
// scheme's slashes. Without a scheme, s is taken to start with the host.
func splitScheme(s string) (scheme, rest string, err error) {
	if strings.HasPrefix(s, "//") || strings.HasPrefix(s, `\\`) {
		return "http", strings.TrimLeft(s, `/\`), nil
	}
	i := 0
	for i < len(s) && isSchemeChar(s[i], i) {
		i++
	}
	if i == 0 || i == len(s) || s[i] != ':' {
		return "http", s, nil
	}
	after := s[i+1:]
	slashes := len(after) - len(strings.TrimLeft(after, `/\`))
	switch strings.ToLower(s[:i]) {
	case "http", "hxxp":
		scheme = "http"
	case "https", "hxxps":
		scheme = "https"
	default:
		if slashes >= 2 {
			return "", "", invalidURL("unsupported scheme")
		}
		// "example.com:8080/path": what looked like a scheme is a host.
		return "http", s, nil
	}
	if slashes == 0 {
		// "http:8080" is a host named http, as browsers read it.
		return "http", s, nil
	}
	return scheme, after[slashes:], nil
}

func isSchemeChar(c byte, i int) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		return true
	case '0' <= c && c <= '9', c == '+', c == '-', c == '.':
		return i > 0
	}
	return false
}

func splitHostPort(auth string) (host, port string, err error) {
	if strings.HasPrefix(auth, "[") {
		j := strings.IndexByte(auth, ']')
		if j < 0 {
			return "", "", invalidURL("unclosed ipv6 host")
		}
		host, after := auth[:j+1], auth[j+1:]
		if after != "" {
			if after[0] != ':' {
				return "", "", invalidURL("text after ipv6 host")
			}
			port = after[1:]
		}
		return host, port, nil
	}
	if i := strings.LastIndexByte(auth, ':'); i >= 0 {
		return auth[:i], auth[i+1:], nil
	}
	return auth, "", nil
}

func normalizePort(port, scheme string) (string, error) {
	if port == "" {
		return "", nil
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return "", invalidURL("bad port")
		}
	}
	trimmed := strings.TrimLeft(port, "0")
	if len(trimmed) > 5 {
		return "", invalidURL("bad port")
	}
	n, _ := strconv.Atoi(trimmed) // "" (port 0) parses as an error and 0
	if n > 65535 {
		return "", invalidURL("bad port")
	}
	if (scheme == "http" && n == 80) || (scheme == "https" && n == 443) {
		return "", nil
	}
	return strconv.Itoa(n), nil
}

func normalizeHost(h string, maxHostLen int) (string, error) {
	if strings.HasPrefix(h, "[") {
		if !strings.HasSuffix(h, "]") {
			return "", invalidURL("bad ipv6 host")
		}
		a, err := netip.ParseAddr(h[1 : len(h)-1])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", invalidURL("bad ipv6 host")
		}
		return "[" + a.String() + "]", nil
	}
	// DNS names stop at 253 bytes; the looser cap leaves room for Unicode
	// and escapes while keeping punycode, quadratic in label length, cheap.
	if len(h) > maxHostLen {
		return "", invalidURL("host too long")
	}
	if strings.IndexByte(h, '%') >= 0 {
		d, ok := unescapeAll(h)
		if !ok {
			return "", invalidURL("bad escape in host")
		}
		h = d
	}
	h = strings.TrimRight(h, ".")
	if !isPlainHost(h) && isASCII(h) {
		// For ASCII, IDNA mapping is only lower-casing; doing it here
		// keeps the common "WWW.Example.COM" off the slow path.
		h = strings.ToLower(h)
	}
	if !isPlainHost(h) {
		if !utf8.ValidString(h) {
			return "", invalidURL("bad host")
		}
		a, err := hostProfile.ToASCII(h)
		if err != nil {
			return "", invalidURL("bad host")
		}
		// A few inputs map to punycode that does not map to itself; a host
		// that is not a fixed point would break idempotence, so refuse it.
		if b, err := hostProfile.ToASCII(a); err != nil || b != a {
			return "", invalidURL("bad host")
		}
		h = strings.TrimRight(a, ".")
	}
	if h == "" {
		return "", invalidURL("empty host")
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(isLowerAlnum(c) || c == '-' || c == '_' || c == '.') {
			return "", invalidURL("bad character in host")
		}
		if c == '.' && (i == 0 || h[i-1] == '.') {
			return "", invalidURL("empty label in host")
		}
	}
	last := h[strings.LastIndexByte(h, '.')+1:]
	if isNumericLabel(last) {
		ip, ok := parseIPv4(h)
		if !ok {
			return "", invalidURL("bad ipv4 host")
		}
		return ip, nil
	}
	// Stripping repeatedly, but never down to a bare top-level label, keeps
	// the function idempotent ("www.www.example.com", "www.com").
	for strings.HasPrefix(h, "www.") && strings.IndexByte(h[4:], '.') >= 0 {
		h = h[4:]
	}
	// Punycode can make a host longer than it was written; one the limit
	// would refuse as input must not come out, or normalising the output
	// again would fail.
	if len(h) > maxHostLen {
		return "", invalidURL("host too long")
	}
	return h, nil
}

// isPlainHost reports whether h is already lower-case ASCII in the host
// alphabet without punycode, so the costly IDNA mapping can be skipped.
func isPlainHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(isLowerAlnum(c) || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return !strings.HasPrefix(h, "xn--") && !strings.Contains(h, ".xn--")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// isNumericLabel follows the WHATWG URL standard: a host whose last label is
// a number must be an IPv4 address.
func isNumericLabel(l string) bool {
	if l == "" {
		return false
	}
	if strings.HasPrefix(l, "0x") {
		for i := 2; i < len(l); i++ {
			if !isHex(l[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return true
}

// parseIPv4 parses the forms browsers accept ("3232235777", "0x7f.1",
// "0177.0.0.1") and returns dotted decimal, so that an address spelled in
// octal or hex to dodge a list still matches.
func parseIPv4(h string) (string, bool) {
	parts := strings.Split(h, ".")
	if len(parts) > 4 {
		return "", false
	}
	var nums [4]uint64
	for i, p := range parts {
		base := 10
		switch {
		case strings.HasPrefix(p, "0x"):
			base, p = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		if p == "" {
			if base != 16 {
				return "", false
			}
			p = "0" // "0x" alone is zero in the WHATWG parser
		}
		if len(p) > 12 {
			return "", false
		}
		n, err := strconv.ParseUint(p, base, 64)
		if err != nil {
			return "", false
		}
		nums[i] = n
	}
	n := len(parts)
	for i := 0; i < n-1; i++ {
		if nums[i] > 255 {
			return "", false
		}
	}
	if nums[n-1] >= 1<<(8*(5-n)) {
		return "", false
	}
	v := nums[n-1]
	for i := 0; i < n-1; i++ {
		v |= nums[i] << (8 * (3 - i))
	}
	return strconv.Itoa(int(v>>24)) + "." + strconv.Itoa(int(v>>16&255)) + "." +
		strconv.Itoa(int(v>>8&255)) + "." + strconv.Itoa(int(v&255)), true
}

func normalizePath(p string) string {
	if p == "" {
		return ""
	}
	p = strings.ReplaceAll(p, `\`, "/")
	p = normalizeEscapes(p, false)
	segs := strings.Split(p, "/")
	out := segs[:0]
	for _, s := range segs {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "/" + strings.Join(out, "/")
}

func normalizeQuery(q string) string {
	if q == "" {
		return ""
	}
	params := strings.Split(q, "&")
	out := params[:0]
	for _, p := range params {
		if p != "" {
			out = append(out, normalizeEscapes(p, true))
		}
	}
	slices.Sort(out)
	return strings.Join(out, "&")
}

// normalizeEscapes decodes escapes of unreserved characters, upper-cases the
// hex of all other escapes, and escapes bytes that may not appear raw
// (including a '%' that starts no valid escape). The output is a fixed
// point: running it again changes nothing.
func normalizeEscapes(s string, query bool) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] == '%' || !rawOK(s[i], query) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(v) {
				b = append(b, v)
			} else {
				b = append(b, '%', hexDigits[v>>4], hexDigits[v&15])
			}
			i += 2
			continue
		}
		if c != '%' && rawOK(c, query) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return string(b)
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// rawOK reports whether c may appear unescaped in a path (or query), per
// RFC 3986's pchar: unreserved, sub-delims, ':' and '@', plus '/' (and '?').
func rawOK(c byte, query bool) bool {
	if isUnreserved(c) {
		return true
	}
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '/':
		return true
	case '?':
		return query
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// unescapeAll decodes every escape in s; ok is false for a malformed one.
func unescapeAll(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", false
		}
		b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
		i += 2
	}
	return string(b), true
}
