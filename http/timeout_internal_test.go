package http

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The body deadline bounds receiving the body only: a handler that works
// on past it, with or without a body, keeps its request's context.
func TestBodyDeadlineSparesLongHandlers(t *testing.T) {
	s := NewServer()
	s.Logger = slog.New(slog.DiscardHandler)
	s.BodyTimeout = 50 * time.Millisecond
	ctxErr := make(chan error, 1)
	slow := func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			io.Copy(io.Discard, r.Body) // a GET handler reads no body
		}
		time.Sleep(300 * time.Millisecond) // well past BodyTimeout
		ctxErr <- r.Context().Err()
	}
	s.mux.Handle("GET /slow", s.instrument("GET /slow", http.HandlerFunc(slow)))
	s.mux.Handle("POST /slow", s.instrument("POST /slow", http.HandlerFunc(slow)))
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, method := range []string{"GET", "POST"} {
		var body io.Reader
		if method == "POST" {
			body = strings.NewReader(`{"a":1}`)
		}
		req, _ := http.NewRequest(method, ts.URL+"/slow", body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if err := <-ctxErr; err != nil {
			t.Errorf("%s: the handler's context ended: %v", method, err)
		}
	}
}
