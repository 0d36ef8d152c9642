package http

import (
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/vigil-oss/vigil/internal/cputime"
)

// BenchmarkServeHTTP measures routing a request through Server.ServeHTTP,
// which looks the route up once more to answer 404 and 405 itself,
// against the mux alone, the in-run baseline.
func BenchmarkServeHTTP(b *testing.B) {
	s := NewServer()
	s.Logger = slog.New(slog.DiscardHandler)
	for _, path := range []string{"/healthz", "/v1/banks/some-bank/entries"} {
		r := httptest.NewRequest("GET", path, nil)
		b.Run("mux"+path, func(b *testing.B) {
			b.ReportAllocs()
			cputime.PerOp(b, func() { s.mux.ServeHTTP(httptest.NewRecorder(), r) })
		})
		b.Run("server"+path, func(b *testing.B) {
			b.ReportAllocs()
			cputime.PerOp(b, func() { s.ServeHTTP(httptest.NewRecorder(), r) })
		})
	}
}
