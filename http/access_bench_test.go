package http

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/cputime"
)

// BenchmarkAccessLog measures what instrument adds to a request (the
// latency metric and the access log line, here a text handler writing to
// io.Discard, as `vigil bench lookup` sets it up) around a handler that
// only names the request's key, against the same handler alone, the
// in-run baseline.
func BenchmarkAccessLog(b *testing.B) {
	s := NewServer()
	s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	k := &vigil.Key{ID: 7, Name: "bench", Role: vigil.RoleMatcher}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec, ok := w.(*recorder); ok {
			rec.key = k
		}
		w.WriteHeader(http.StatusOK)
	})
	r := httptest.NewRequest("POST", "/v1/lookup", nil)
	r.RemoteAddr = "127.0.0.1:54321"
	w := httptest.NewRecorder()
	b.Run("handler", func(b *testing.B) {
		b.ReportAllocs()
		cputime.PerOp(b, func() { h.ServeHTTP(w, r) })
	})
	logged := s.instrument("POST /v1/lookup", h)
	b.Run("instrumented", func(b *testing.B) {
		b.ReportAllocs()
		cputime.PerOp(b, func() { logged.ServeHTTP(w, r) })
	})
}
