package http

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/grooming"
)

// decodeJSON refuses what encoding/json would take silently: a key given
// twice (nested objects too, and two spellings of one field), and null
// where it would leave a zero value.
func TestDecodeJSONStrict(t *testing.T) {
	type update struct {
		Name  *string        `json:"name,omitempty"`
		Tags  map[string]int `json:"tags,omitempty"`
		Extra any            `json:"extra,omitempty"`
	}
	for _, tc := range []struct {
		name, body string
		into       func() any
		msg        string // "" when accepted
	}{
		{"duplicate key", `{"signals":[],"signals":[{"type":"md5","value":"x"}]}`, func() any { return &lookupRequest{} }, "signals is given twice"},
		{"duplicate in nested object", `{"signals":[{"type":"md5","type":"sha256","value":"x"}]}`, func() any { return &lookupRequest{} }, ".signals[0].type is given twice"},
		{"two spellings of one field", `{"user_id":"a","USER_ID":"b","signals":[]}`, func() any { return &lookupRequest{} }, "USER_ID is given twice"},
		{"duplicate map key", `{"tags":{"a":1,"a":2}}`, func() any { return &update{} }, ".tags.a is given twice"},
		{"duplicate inside any", `{"extra":{"x":{"y":1,"y":2}}}`, func() any { return &update{} }, ".extra.x.y is given twice"},
		{"map keys differing in case", `{"tags":{"a":1,"A":2}}`, func() any { return &update{} }, ""},
		{"null body", `null`, func() any { return &lookupRequest{} }, "request body is null"},
		{"null body, spaced", " null\n", func() any { return &grooming.Conversation{} }, "request body is null"},
		{"null message", `{"messages":[null]}`, func() any { return &appendRequest{} }, ".messages[0] is null"},
		{"null message field", `{"messages":[{"from":"a","text":null}]}`, func() any { return &appendRequest{} }, ".messages[0].text is null"},
		{"null list", `{"messages":null}`, func() any { return &appendRequest{} }, ".messages is null"},
		{"null time", `{"messages":[{"from":"a","text":"hi","time":null}]}`, func() any { return &appendRequest{} }, ".messages[0].time is null"},
		{"null pointer field", `{"name":null,"tags":null}`, func() any { return &update{} }, ""},
		{"null inside any", `{"extra":[null]}`, func() any { return &update{} }, ""},
		{"null update field", `{"description":null}`, func() any { return &vigil.BankUpdate{} }, ""},
		{"empty", "  ", func() any { return &lookupRequest{} }, "empty"},
		{"trailing data", `{} {}`, func() any { return &lookupRequest{} }, "data after the value"},
		{"unknown field", `{"signal":[]}`, func() any { return &lookupRequest{} }, "unknown field"},
		{"truncated", `{"signals":[`, func() any { return &lookupRequest{} }, "unexpected EOF"},
		{"good", `{"signals":[{"type":"md5","value":"d41d8cd98f00b204e9800998ecf8427e"}],"min_quality":5}`, func() any { return &lookupRequest{} }, ""},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
		err := decodeJSON(httptest.NewRecorder(), r, tc.into())
		switch {
		case tc.msg == "" && err != nil:
			t.Errorf("%s: %v, want it accepted", tc.name, err)
		case tc.msg != "" && (vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(vigil.ErrorMessage(err), tc.msg)):
			t.Errorf("%s: %v, want EINVALID saying %q", tc.name, err, tc.msg)
		}
	}
}

// FuzzDecodeJSON checks that the strict reader never panics, and that
// what it accepts encoding/json accepts too.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"signals":[{"type":"md5","value":"x"}],"min_quality":5}`,
		`{"messages":[{"from":"a","text":"hi","time":"2024-01-01T00:00:00Z"}],"participants":[{"id":"a","age":12}]}`,
		`{"description":null,"thresholds":{"pdq":31}}`,
		`{"a":1,"a":2}`, `null`, `[]`, `{"messages":[null]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Into an interface, where null is fine and keys are exact, the
		// byte scanner must agree with a walk of the decoder's tokens.
		var v any
		err := decodeJSON(httptest.NewRecorder(), httptest.NewRequest("POST", "/", bytes.NewReader(data)), &v)
		// What encoding/json itself refuses (a number too large for a
		// float64) is refused too.
		var ref any
		decodes := json.Unmarshal(data, &ref) == nil
		if want := len(bytes.TrimSpace(data)) > 0 && json.Valid(data) && decodes && !hasDuplicateKey(data); (err == nil) != want {
			t.Fatalf("%q: error %v, want accepted %v", data, err, want)
		}
		for _, into := range []func() any{
			func() any { return &lookupRequest{} },
			func() any { return &appendRequest{} },
			func() any { return &vigil.BankUpdate{} },
		} {
			r := httptest.NewRequest("POST", "/", bytes.NewReader(data))
			if err := decodeJSON(httptest.NewRecorder(), r, into()); err == nil {
				if !json.Valid(data) {
					t.Fatalf("accepted invalid JSON %q", data)
				}
			} else if vigil.ErrorCode(err) != vigil.EINVALID && vigil.ErrorCode(err) != vigil.ETOOLARGE {
				t.Fatalf("%q: error %v is neither EINVALID nor ETOOLARGE", data, err)
			}
		}
	})
}

// hasDuplicateKey reports whether valid JSON has an object with a key
// given twice, walking the decoder's tokens: the reference for the byte
// scanner.
func hasDuplicateKey(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, _ := dec.Token()
				if seen[k.(string)] || walk() {
					return true
				}
				seen[k.(string)] = true
			}
			dec.Token()
		case json.Delim('['):
			for dec.More() {
				if walk() {
					return true
				}
			}
			dec.Token()
		}
		return false
	}
	return walk()
}
