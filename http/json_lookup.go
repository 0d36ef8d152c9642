package http

import (
	"net/http"

	"github.com/vigil-oss/vigil"
)

// decodeLookup reads a POST /v1/lookup body into req: decodeJSON, with a
// fast path for the body every client sends. fastLookup takes only a
// strict subset of JSON (the fields of lookupRequest and of its signals'
// type and value, each once, spelt exactly, strings without escapes,
// small integers, no null) and decodes it without reflection; anything
// else, valid or not, goes to the strict reader, so every refusal and its
// message stay the strict reader's own. FuzzDecodeLookup checks that what
// the fast path accepts the strict reader accepts, with the same result.
func decodeLookup(w http.ResponseWriter, r *http.Request, req *lookupRequest) error {
	data, err := readJSONBody(w, r)
	if err != nil {
		return err
	}
	if fastLookup(data, req) {
		return nil
	}
	*req = lookupRequest{}
	return unmarshalStrict(data, req)
}

// fastLookup decodes data into req if it is in the subset described at
// decodeLookup, and reports whether it was.
func fastLookup(data []byte, req *lookupRequest) bool {
	p := lookupParser{data: data}
	*req = lookupRequest{}
	if !p.object(func(key []byte) bool {
		switch string(key) {
		case "signals":
			return p.signals(&req.Signals)
		case "dihedral":
			return p.bool(&req.Dihedral)
		case "min_quality":
			return p.int(&req.MinQuality)
		case "user_id":
			return p.string(&req.UserID)
		case "content_id":
			return p.string(&req.ContentID)
		}
		return false
	}, 5) {
		return false
	}
	p.space()
	return p.pos == len(data)
}

// lookupParser reads the subset of JSON that fastLookup takes. Every
// method returns false, leaving the input to the strict reader, at the
// first byte outside the subset.
type lookupParser struct {
	data []byte
	pos  int
}

func (p *lookupParser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// consume skips white space and then c, if c is next.
func (p *lookupParser) consume(c byte) bool {
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// object reads an object of at most maxKeys distinct keys, calling member
// with each key once the colon is read; member reads the value. A key seen
// twice is outside the subset (the strict reader refuses it).
func (p *lookupParser) object(member func(key []byte) bool, maxKeys int) bool {
	if !p.consume('{') {
		return false
	}
	if p.consume('}') {
		return true
	}
	var seen [5][]byte
	n := 0
	for {
		p.space()
		key, ok := p.raw()
		if !ok || n == maxKeys {
			return false
		}
		for _, k := range seen[:n] {
			if string(k) == string(key) {
				return false
			}
		}
		seen[n], n = key, n+1
		if !p.consume(':') {
			return false
		}
		p.space()
		if !member(key) {
			return false
		}
		if p.consume('}') {
			return true
		}
		if !p.consume(',') {
			return false
		}
	}
}

// raw reads a string of printable ASCII without escapes and returns its
// bytes: such a string decodes to itself.
func (p *lookupParser) raw() ([]byte, bool) {
	if p.pos >= len(p.data) || p.data[p.pos] != '"' {
		return nil, false
	}
	start := p.pos + 1
	for i := start; i < len(p.data); i++ {
		switch c := p.data[i]; {
		case c == '"':
			p.pos = i + 1
			return p.data[start:i], true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

func (p *lookupParser) string(s *string) bool {
	b, ok := p.raw()
	if ok {
		*s = string(b)
	}
	return ok
}

func (p *lookupParser) bool(b *bool) bool {
	rest := p.data[p.pos:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		*b, p.pos = true, p.pos+4
	case len(rest) >= 5 && string(rest[:5]) == "false":
		*b, p.pos = false, p.pos+5
	default:
		return false
	}
	return p.delimited()
}

// int reads an integer of at most 9 digits without a leading zero (nor
// "-0"): one that every int holds, read as encoding/json reads it.
func (p *lookupParser) int(v *int) bool {
	i, neg := p.pos, false
	if i < len(p.data) && p.data[i] == '-' {
		neg, i = true, i+1
	}
	start, n := i, 0
	for ; i < len(p.data) && p.data[i] >= '0' && p.data[i] <= '9'; i++ {
		n = n*10 + int(p.data[i]-'0')
	}
	digits := i - start
	if digits == 0 || digits > 9 || p.data[start] == '0' && (digits > 1 || neg) {
		return false
	}
	if neg {
		n = -n
	}
	*v, p.pos = n, i
	return p.delimited()
}

// delimited reports whether a literal just read ends where JSON lets it:
// "truex" or "12.5" are not a literal followed by something else.
func (p *lookupParser) delimited() bool {
	if p.pos == len(p.data) {
		return true
	}
	switch p.data[p.pos] {
	case ' ', '\t', '\n', '\r', ',', '}', ']':
		return true
	}
	return false
}

// signals reads an array of signal objects with a type and a value only.
func (p *lookupParser) signals(out *[]vigil.Signal) bool {
	if !p.consume('[') {
		return false
	}
	sigs := make([]vigil.Signal, 0, 1)
	if p.consume(']') {
		*out = sigs
		return true
	}
	for len(sigs) <= vigil.MaxLookupSignals {
		var s vigil.Signal
		if !p.object(func(key []byte) bool {
			switch string(key) {
			case "type":
				var t string
				ok := p.string(&t)
				s.Type = vigil.SignalType(t)
				return ok
			case "value":
				return p.string(&s.Value)
			}
			return false
		}, 2) {
			return false
		}
		sigs = append(sigs, s)
		if p.consume(']') {
			*out = sigs
			return true
		}
		if !p.consume(',') {
			return false
		}
	}
	return false // more than a lookup takes: the strict reader, then the handler's refusal
}
