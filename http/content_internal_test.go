package http

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/vigil-oss/vigil/hashing"
)

// TestReadContentKeepsItsBytes: the bytes of an upload stay the upload's
// until its request ends, though the hasher that read them serves the
// next request. They go to the media store and to classifiers after
// readContent returns; the hasher's buffer is reused by its next read.
func TestReadContentKeepsItsBytes(t *testing.T) {
	s := NewServer()
	s.Hashing = hashing.Options{Limits: hashing.Limits{MaxBytes: 1 << 20}}
	read := func(body []byte) *hashResponse {
		r := httptest.NewRequest("POST", "/v1/hash", bytes.NewReader(body))
		r.Header.Set("Content-Type", "text/plain")
		resp, err := s.readContent(httptest.NewRecorder(), r, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	first := read([]byte("first upload, to be kept for review"))
	defer first.release()
	second := read([]byte("SECOND UPLOAD, another user's words"))
	defer second.release()
	if string(first.media) != "first upload, to be kept for review" {
		t.Fatalf("the first upload's bytes became %q", first.media)
	}
}

// TestReadContentWaitsForReaders: work started on the bytes while they
// are hashed (classifiers) is waited for before the hasher is reused,
// also when hashing fails.
func TestReadContentWaitsForReaders(t *testing.T) {
	s := NewServer()
	s.Hashing = hashing.Options{Limits: hashing.Limits{MaxBytes: 1 << 20}}
	var seen string
	waited := false
	r := httptest.NewRequest("POST", "/v1/match", bytes.NewReader([]byte("not UTF-8: \xff")))
	r.Header.Set("Content-Type", "text/plain")
	_, err := s.readContent(httptest.NewRecorder(), r, func(data []byte, sha string) func() {
		seen = sha
		return func() { waited = true }
	}, nil)
	if err == nil {
		t.Fatal("text that is not UTF-8 was accepted")
	}
	if !waited || len(seen) != 64 {
		t.Errorf("reader not waited for (%v) or no digest (%q)", waited, seen)
	}
}
