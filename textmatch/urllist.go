package textmatch

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vigil-oss/vigil/internal/verror"
)

// MaxURLListLen is the most entries a URLList holds; Add refuses more so a
// malformed import cannot grow memory without bound.
const MaxURLListLen = 10_000_000

// MatchMode says how a URL list entry matches.
type MatchMode uint8

// Match modes. All ignore the scheme (http and https match alike), the
// fragment and everything else NormalizeURL removes.
const (
	// MatchExact matches the normalised URL exactly, query included.
	MatchExact MatchMode = iota + 1
	// MatchHost matches any URL on the host or on one of its subdomains:
	// "example.com" matches "a.b.example.com/x" but not "badexample.com".
	// The pattern may not have a port, path or query.
	MatchHost
	// MatchPrefix matches URLs on the same host and port whose path starts
	// with the pattern's path at a segment boundary, whatever their query:
	// "example.com/a" matches "example.com/a/b" but not "example.com/ab".
	// The pattern may not have a query.
	MatchPrefix
)

// String returns the mode's name: exact, host or prefix.
func (m MatchMode) String() string {
	switch m {
	case MatchExact:
		return "exact"
	case MatchHost:
		return "host"
	case MatchPrefix:
		return "prefix"
	}
	return fmt.Sprintf("MatchMode(%d)", uint8(m))
}

// URLMatch is one list entry that a URL matched.
type URLMatch struct {
	ID      uint64    // the entry's id, as given to Add
	Pattern string    // the entry's pattern, normalised
	Mode    MatchMode // the entry's mode
	URL     string    // the URL that matched, normalised
	// Start and End are the byte span of the URL in the input: the whole
	// input for Match, the place in the text for MatchText.
	Start, End int
}

type urlEntry struct {
	id      uint64
	pattern string
}

// URLList is a list of URL patterns. The zero value is an empty list ready
// for Add. Match and MatchText are safe for concurrent use, but Add is not
// safe to call concurrently with anything: build a list, then share it, and
// build a new one to change it.
type URLList struct {
	exact  map[string][]urlEntry // by normURL.key
	prefix map[string][]urlEntry // by host[:port]path
	host   map[string][]urlEntry // by host
	n      int
}

// Len returns the number of entries in the list.
func (l *URLList) Len() int { return l.n }

// Add adds pattern, matched according to mode, under id. Adding the same id,
// pattern and mode again changes nothing.
func (l *URLList) Add(id uint64, pattern string, mode MatchMode) error {
	u, err := parsePattern(pattern, mode)
	if err != nil {
		return fmt.Errorf("add url %d: %w", id, err)
	}
	var m *map[string][]urlEntry
	var key string
	switch mode {
	case MatchExact:
		m, key = &l.exact, u.key()
	case MatchHost:
		m, key = &l.host, u.host
	case MatchPrefix:
		m, key = &l.prefix, u.hostPort()+u.path
	}
	if *m == nil {
		*m = make(map[string][]urlEntry)
	}
	if slices.ContainsFunc((*m)[key], func(e urlEntry) bool { return e.id == id }) {
		return nil
	}
	if l.n >= MaxURLListLen {
		return verror.Errorf(verror.ETOOLARGE, "add url %d: list has %d entries already", id, MaxURLListLen)
	}
	(*m)[key] = append((*m)[key], urlEntry{id: id, pattern: u.String()})
	l.n++
	return nil
}

// CheckURLPattern returns an error (EINVALID, or ETOOLARGE for a pattern
// over MaxURLLen) if Add would refuse pattern in mode. It is the test Add
// applies, so a store that refuses what it refuses never holds a URL entry
// that cannot match.
func CheckURLPattern(pattern string, mode MatchMode) error {
	_, err := parsePattern(pattern, mode)
	return err
}

// parsePattern parses a list entry and checks that mode can use it.
func parsePattern(pattern string, mode MatchMode) (*normURL, error) {
	u, err := parseURL(pattern)
	if err != nil {
		return nil, err
	}
	switch mode {
	case MatchExact:
	case MatchHost:
		if u.port != "" || u.path != "" || u.query != "" {
			return nil, verror.Errorf(verror.EINVALID, "host pattern has a port, path or query")
		}
	case MatchPrefix:
		if u.query != "" {
			return nil, verror.Errorf(verror.EINVALID, "prefix pattern has a query")
		}
	default:
		return nil, verror.Errorf(verror.EINVALID, "unknown match mode %d", mode)
	}
	return u, nil
}

// Match normalises rawURL and returns the entries it matches: exact matches
// first, then prefix matches from the longest prefix, then host matches from
// the most specific host. It returns an error if rawURL is not a URL that
// NormalizeURL accepts.
func (l *URLList) Match(rawURL string) ([]URLMatch, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return l.match(nil, u, 0, len(rawURL)), nil
}

// MatchText finds URLs in text as ExtractURLs does and returns the entries
// they match, with the span of each URL in text.
func (l *URLList) MatchText(text string) ([]URLMatch, error) {
	found, err := extractURLs(text)
	if err != nil {
		return nil, err
	}
	var out []URLMatch
	for _, f := range found {
		out = l.match(out, f.u, f.start, f.end)
	}
	return out, nil
}

func (l *URLList) match(out []URLMatch, u *normURL, start, end int) []URLMatch {
	var norm string
	add := func(es []urlEntry, mode MatchMode) {
		if len(es) > 0 && norm == "" {
			norm = u.String()
		}
		for _, e := range es {
			out = append(out, URLMatch{ID: e.id, Pattern: e.pattern, Mode: mode, URL: norm, Start: start, End: end})
		}
	}
	if len(l.exact) > 0 {
		add(l.exact[u.key()], MatchExact)
	}
	if len(l.prefix) > 0 {
		// Slicing one string for every shorter prefix avoids building a key
		// per path segment.
		hp := u.hostPort()
		full := hp + u.path
		for p := len(u.path); ; {
			add(l.prefix[full[:len(hp)+p]], MatchPrefix)
			if p == 0 {
				break
			}
			p = strings.LastIndexByte(u.path[:p], '/')
		}
	}
	if len(l.host) > 0 {
		h := u.host
		add(l.host[h], MatchHost)
		// Parents of an IP address ("0.0.1" of "10.0.0.1") are not hosts.
		if !isIPHost(h) {
			for i := strings.IndexByte(h, '.'); i >= 0; i = strings.IndexByte(h, '.') {
				h = h[i+1:]
				add(l.host[h], MatchHost)
			}
		}
	}
	return out
}

func isIPHost(h string) bool {
	return strings.HasPrefix(h, "[") || isNumericLabel(h[strings.LastIndexByte(h, '.')+1:])
}
