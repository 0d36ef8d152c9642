package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/cputime"
)

// decodeJSONLoose is decodeJSON as it was before the duplicate-key and
// null checks: the in-run baseline of BenchmarkDecodeJSON.
func decodeJSONLoose(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) || errors.Is(err, io.EOF) {
			return err
		}
		return vigil.Errorf(vigil.EINVALID, "invalid JSON body: %v", err)
	}
	if dec.More() {
		return vigil.Errorf(vigil.EINVALID, "invalid JSON body: data after the value")
	}
	return nil
}

// BenchmarkDecodeJSON reads the largest common bodies: a lookup of 1000
// signals and a batch of 10000 entries, strict against the old reader.
func BenchmarkDecodeJSON(b *testing.B) {
	var lookup lookupRequest
	for i := range vigil.MaxLookupSignals {
		lookup.Signals = append(lookup.Signals, vigil.Signal{Type: vigil.SignalMD5, Value: fmt.Sprintf("%032x", i)})
	}
	var entries addEntriesRequest
	for i := range 10000 {
		entries.Entries = append(entries.Entries, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: fmt.Sprintf("%064x", i), Source: "bench", SourceEntryID: fmt.Sprint(i), Category: "test"})
	}
	for _, body := range []struct {
		name string
		v    any
		into func() any
	}{
		{"lookup-1000", lookup, func() any { return &lookupRequest{} }},
		{"entries-10000", entries, func() any { return &addEntriesRequest{} }},
	} {
		data, err := json.Marshal(body.v)
		if err != nil {
			b.Fatal(err)
		}
		for _, dec := range []struct {
			name string
			f    func(http.ResponseWriter, *http.Request, any) error
		}{{"loose", decodeJSONLoose}, {"strict", decodeJSON}} {
			b.Run(body.name+"/"+dec.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				cputime.PerOp(b, func() {
					r := httptest.NewRequest("POST", "/", bytes.NewReader(data))
					if err := dec.f(httptest.NewRecorder(), r, body.into()); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}
}
