package http

import (
	"bytes"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

// lookupSeeds are bodies for FuzzDecodeLookup: what clients send, and
// what sits just outside the fast path's subset.
var lookupSeeds = []string{
	`{"signals":[{"type":"pdq","value":"f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"}]}`,
	`{"signals":[{"type":"md5","value":"x"},{"value":"y","type":"sha256"}],"min_quality":5,"dihedral":true,"user_id":"u1","content_id":"c"}`,
	` { "signals" : [ ] , "min_quality" : -1 } `,
	`{}`, `{"signals":[]}`, `{"min_quality":0}`, `{"dihedral":false}`,
	// Outside the subset: each must reach the strict reader.
	`{"signals":[{"type":"pdq","value":"x"}],"signals":[]}`,
	`{"Signals":[{"type":"pdq","value":"x"}]}`,
	`{"signals":[{"type":"pdq","value":"x","Type":"md5"}]}`,
	`{"signals":[{"type":"pdq","value":"x","quality":50}]}`,
	`{"signals":[{"type":"pdq","value":"x","dihedral":{"rot90":"y"}}]}`,
	`{"signals":null}`, `{"min_quality":null}`, `null`, ``, `[]`,
	`{"signals":[{"type":"pd\u0071","value":"x"}]}`,
	`{"user_id":"é"}`, "{\"user_id\":\"\xff\"}", "{\"user_id\":\"a\tb\"}",
	`{"min_quality":007}`, `{"min_quality":-0}`, `{"min_quality":1.0}`, `{"min_quality":1e2}`, `{"min_quality":9999999999}`,
	`{"dihedral":truex}`, `{"dihedral":tru}`, `{"signals":[{"type":"pdq","value":"x"},]}`, `{"signals":[,]}`,
	`{"signals":[{"type":"pdq","value":"x"}]} {}`, `{"signals":[{"type":"pdq","value":"x"}]`, `{"extra":1}`,
	`{"signals":[{"type":"pdq","value":"x"}],}`, `{"signals":[{"type":"pdq" "value":"x"}]}`,
}

// FuzzDecodeLookup checks the fast path against the strict reader: what
// fastLookup accepts, unmarshalStrict accepts with the same result, so
// that decodeLookup answers every body as decodeJSON does.
func FuzzDecodeLookup(f *testing.F) {
	for _, s := range lookupSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast lookupRequest
		if !fastLookup(data, &fast) {
			return
		}
		var strict lookupRequest
		if err := unmarshalStrict(data, &strict); err != nil {
			t.Fatalf("%q: the fast path took what the strict reader refuses: %v", data, err)
		}
		if !reflect.DeepEqual(fast, strict) {
			t.Fatalf("%q: fast path %+v, strict reader %+v", data, fast, strict)
		}
	})
}

// The bodies outside the subset are left to the strict reader, and
// decodeLookup then answers exactly as decodeJSON.
func TestDecodeLookupDefers(t *testing.T) {
	fastOnes := map[string]bool{}
	for _, s := range lookupSeeds[:7] {
		fastOnes[s] = true
	}
	for _, s := range lookupSeeds {
		var req lookupRequest
		if got := fastLookup([]byte(s), &req); got != fastOnes[s] {
			t.Errorf("%q: fast path took it %v, want %v", s, got, fastOnes[s])
		}
		var viaLookup, viaStrict lookupRequest
		errL := decodeLookup(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(s)), &viaLookup)
		errS := decodeJSON(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(s)), &viaStrict)
		if (errL == nil) != (errS == nil) || errL != nil && errL.Error() != errS.Error() {
			t.Errorf("%q: decodeLookup %v, decodeJSON %v", s, errL, errS)
		}
		if errL == nil && !reflect.DeepEqual(viaLookup, viaStrict) {
			t.Errorf("%q: decodeLookup %+v, decodeJSON %+v", s, viaLookup, viaStrict)
		}
	}
	// The size limit is the strict reader's.
	big := bytes.Repeat([]byte(" "), maxJSONBody+1)
	var req lookupRequest
	if err := decodeLookup(httptest.NewRecorder(), httptest.NewRequest("POST", "/", bytes.NewReader(big)), &req); vigil.ErrorCode(err) != vigil.ETOOLARGE {
		t.Errorf("oversized body: %v, want ETOOLARGE", err)
	}
}
