package http

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/vigil-oss/vigil"
)

// The lookup response is written by hand rather than by encoding/json's
// reflection: it is the one body every lookup returns, and reflection over
// MatchResult cost 8–14 µs a request. appendLookupResponse writes the very
// bytes that writeJSON would (TestAppendLookupResponse fills every field
// of every type by reflection, so that a field added to one of them and
// not here fails it; FuzzAppendLookupResponse compares any value).

// responseBuffers holds the buffers of lookup responses between requests.
var responseBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledResponse bounds the buffers kept in responseBuffers, so that
// one large response does not pin its memory.
const maxPooledResponse = 64 << 10

// writeLookupResponse writes resp with the given status, as writeJSON
// would.
func writeLookupResponse(w http.ResponseWriter, status int, resp *lookupResponse) {
	bp := responseBuffers.Get().(*[]byte)
	b, err := appendLookupResponse((*bp)[:0], resp)
	if err != nil {
		// A value encoding/json refuses too (a NaN in a video match):
		// let it answer as it did before.
		writeJSON(w, status, resp)
	} else {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(b)
	}
	if cap(b) <= maxPooledResponse {
		*bp = b[:0]
		responseBuffers.Put(bp)
	}
}

// appendLookupResponse appends r to b as json.Encoder with SetEscapeHTML
// (false) encodes it, final newline included.
func appendLookupResponse(b []byte, r *lookupResponse) ([]byte, error) {
	var err error
	b = append(b, `{"results":`...)
	if r.Results == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Results {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendMatchResult(b, &r.Results[i]); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	if r.Actions != nil {
		b = append(b, `,"actions":`...)
		b = appendOutcome(b, r.Actions)
	}
	return append(b, "}\n"...), nil
}

func appendMatchResult(b []byte, r *vigil.MatchResult) ([]byte, error) {
	var err error
	b = append(b, `{"signal":`...)
	b = appendSignal(b, &r.Signal)
	b = append(b, `,"matches":`...)
	if r.Matches == nil {
		b = append(b, "null"...)
	} else if b, err = appendMatches(b, r.Matches); err != nil {
		return b, err
	}
	if len(r.SuppressedBy) > 0 {
		b = append(b, `,"suppressed_by":`...)
		if b, err = appendMatches(b, r.SuppressedBy); err != nil {
			return b, err
		}
	}
	if len(r.Suppressed) > 0 {
		b = append(b, `,"suppressed":`...)
		if b, err = appendMatches(b, r.Suppressed); err != nil {
			return b, err
		}
	}
	if r.Skipped != "" {
		b = append(b, `,"skipped":`...)
		b = appendJSONString(b, r.Skipped)
	}
	return append(b, '}'), nil
}

func appendSignal(b []byte, s *vigil.Signal) []byte {
	b = append(b, `{"type":`...)
	b = appendJSONString(b, string(s.Type))
	b = append(b, `,"value":`...)
	b = appendJSONString(b, s.Value)
	if s.Quality != nil {
		b = append(b, `,"quality":`...)
		b = strconv.AppendInt(b, int64(*s.Quality), 10)
	}
	if len(s.Dihedral) > 0 {
		b = append(b, `,"dihedral":{`...)
		keys := make([]string, 0, len(s.Dihedral))
		for k := range s.Dihedral {
			keys = append(keys, k)
		}
		// encoding/json sorts a map's keys as strings.
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, s.Dihedral[k])
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendMatches appends a non-nil list of matches.
func appendMatches(b []byte, ms []vigil.Match) ([]byte, error) {
	var err error
	b = append(b, '[')
	for i := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendMatch(b, &ms[i]); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

func appendMatch(b []byte, m *vigil.Match) ([]byte, error) {
	b = append(b, '{')
	if m.BankID != 0 {
		b = append(b, `"bank_id":`...)
		b = strconv.AppendInt(b, m.BankID, 10)
		b = append(b, ',')
	}
	b = append(b, `"bank":`...)
	b = appendJSONString(b, m.Bank)
	if m.EntryID != 0 {
		b = append(b, `,"entry_id":`...)
		b = strconv.AppendInt(b, m.EntryID, 10)
	}
	b = append(b, `,"signal_type":`...)
	b = appendJSONString(b, string(m.SignalType))
	b = appendOptString(b, `,"value":`, m.Value)
	b = append(b, `,"distance":`...)
	b = strconv.AppendInt(b, int64(m.Distance), 10)
	b = append(b, `,"threshold":`...)
	b = strconv.AppendInt(b, int64(m.Threshold), 10)
	b = appendOptString(b, `,"variant":`, m.Variant)
	b = appendOptString(b, `,"source":`, m.Source)
	b = appendOptString(b, `,"source_entry_id":`, m.SourceEntryID)
	b = appendOptString(b, `,"category":`, m.Category)
	if m.Negative {
		b = append(b, `,"negative":true`...)
	}
	if m.BankDisabled {
		b = append(b, `,"bank_disabled":true`...)
	}
	if len(m.Span) > 0 {
		b = append(b, `,"span":`...)
		b = appendInts(b, m.Span)
	}
	if m.Video != nil {
		// Floats, and only in video lookups: left to encoding/json, whose
		// float format this would otherwise have to copy. It escapes
		// nothing in numbers, so Marshal's bytes are the Encoder's.
		v, err := json.Marshal(m.Video)
		if err != nil {
			return b, err
		}
		b = append(b, `,"video":`...)
		b = append(b, v...)
	}
	return append(b, '}'), nil
}

func appendOutcome(b []byte, o *vigil.Outcome) []byte {
	b = append(b, `{"rules":`...)
	if o.Rules == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range o.Rules {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFiredRule(b, &o.Rules[i])
		}
		b = append(b, ']')
	}
	if len(o.Cases) > 0 {
		b = append(b, `,"cases":[`...)
		for i, id := range o.Cases {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, id, 10)
		}
		b = append(b, ']')
	}
	b = appendOptStrings(b, `,"auto":`, o.Auto)
	if o.Vetoed {
		b = append(b, `,"vetoed":true`...)
	}
	b = appendOptStrings(b, `,"queued":`, o.Queued)
	b = appendOptStrings(b, `,"errors":`, o.Errors)
	return append(b, '}')
}

func appendFiredRule(b []byte, r *vigil.FiredRule) []byte {
	b = append(b, `{"name":`...)
	b = appendJSONString(b, r.Name)
	b = append(b, `,"action":`...)
	b = appendJSONString(b, r.Action)
	b = appendOptString(b, `,"queue":`, r.Queue)
	b = appendOptString(b, `,"webhook":`, r.Webhook)
	b = appendOptString(b, `,"auto":`, r.Auto)
	b = appendOptStrings(b, `,"sources":`, r.Sources)
	if r.CaseID != 0 {
		b = append(b, `,"case_id":`...)
		b = strconv.AppendInt(b, r.CaseID, 10)
	}
	return append(b, '}')
}

// appendOptString appends key and s unless s is empty (omitempty).
func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONString(append(b, key...), s)
}

// appendOptStrings appends key and ss unless ss is empty (omitempty).
func appendOptStrings(b []byte, key string, ss []string) []byte {
	if len(ss) == 0 {
		return b
	}
	b = append(b, key...)
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

func appendInts(b []byte, ns []int) []byte {
	b = append(b, '[')
	for i, n := range ns {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return append(b, ']')
}

// appendJSONString appends s as a JSON string. Printable ASCII other than
// the quote and the backslash goes as it is, which is all a lookup's
// strings hold (hashes, bank and source names); anything else is left to
// encoding/json, whose escapes (invalid UTF-8, U+2028, control
// characters) this would otherwise have to copy.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return appendEscapedString(b, s)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendEscapedString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
