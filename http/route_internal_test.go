package http

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

// TestExactRoutes checks ServeHTTP's table of literal routes against the
// mux: for every route in it, a request of its method and path is routed
// by the mux to the same pattern and handler, and every route the mux
// has of a method and a literal path is in it. Requests spelt otherwise
// (another case, an escape, a trailing or doubled slash, HEAD to a GET
// route) are not taken by the table, so the mux answers them as before.
func TestExactRoutes(t *testing.T) {
	s := NewServer()
	s.Logger = slog.New(slog.DiscardHandler)
	s.Keys = noKeys{}
	s.hmaRoutes()
	keyed := map[string]bool{}
	for _, p := range s.Routes() {
		keyed[p] = !strings.HasSuffix(p, "z") // all but /healthz and /readyz
	}
	n := 0
	for _, p := range append(s.Routes(), s.HMARoutes()...) {
		method, path, _ := strings.Cut(p, " ")
		literal := !strings.ContainsAny(path, "{}") && !strings.HasSuffix(path, "/")
		var found *exactRoute
		for i, e := range s.exact[path] {
			if e.method == method {
				found = &s.exact[path][i]
			}
		}
		if literal != (found != nil) {
			t.Errorf("%s: literal %v, in the table %v", p, literal, found != nil)
			continue
		}
		if found == nil {
			continue
		}
		n++
		r := httptest.NewRequest(method, path, nil)
		h, pattern := s.mux.Handler(r)
		if pattern != p || found.pattern != p {
			t.Errorf("%s: the mux routes %s %s to %q, the table to %q", p, method, path, pattern, found.pattern)
		}
		if !keyed[p] {
			continue // needs a store to answer
		}
		// The handlers are all instrument's closures: compare them by
		// what they answer a request with an unknown key.
		a, b := httptest.NewRecorder(), httptest.NewRecorder()
		r.Header.Set("Authorization", "Bearer nobody")
		h.ServeHTTP(a, r)
		r = httptest.NewRequest(method, path, nil)
		r.Header.Set("Authorization", "Bearer nobody")
		found.h.ServeHTTP(b, r)
		if a.Code != b.Code || a.Body.String() != b.Body.String() {
			t.Errorf("%s: mux's handler %d %q, table's %d %q", p, a.Code, a.Body, b.Code, b.Body)
		}
	}
	if n < 20 {
		t.Fatalf("only %d literal routes in the table", n)
	}
	for _, target := range []string{"/V1/lookup", "/v1/%6cookup", "/v1/lookup/", "/v1//lookup", "/v1/./lookup", "/v1/lookup?x=1"} {
		r := httptest.NewRequest(http.MethodPost, target, nil)
		if _, ok := s.exact[r.URL.Path]; ok && r.URL.RawPath == "" && target != "/v1/lookup?x=1" {
			t.Errorf("%s is taken by the table", target)
		}
	}
}

// noKeys knows no key.
type noKeys struct{ vigil.KeyService }

func (noKeys) FindKeyBySecret(context.Context, string) (*vigil.Key, error) {
	return nil, vigil.Errorf(vigil.EUNAUTHORIZED, "invalid API key")
}

// TestExactRouteAnswers sends requests spelt in ways the table does not
// take, and one it does, through ServeHTTP: each gets what the mux gives
// it (a redirect to the clean path, 404, 405 with Allow, or the route).
func TestExactRouteAnswers(t *testing.T) {
	s := NewServer()
	s.Logger = slog.New(slog.DiscardHandler)
	for _, c := range []struct {
		method, target string
		status         int
	}{
		{"POST", "/v1/lookup", http.StatusUnauthorized},
		{"POST", "/v1/lookup?dihedral=1", http.StatusUnauthorized},
		{"POST", "/v1//lookup", http.StatusTemporaryRedirect},
		{"POST", "/v1/./lookup", http.StatusTemporaryRedirect},
		{"POST", "/V1/lookup", http.StatusNotFound},
		{"GET", "/v1/lookup", http.StatusMethodNotAllowed},
		{"HEAD", "/v1/index/status", http.StatusUnauthorized},
		{"GET", "/healthz", http.StatusOK},
		{"HEAD", "/healthz", http.StatusOK},
		{"POST", "/healthz", http.StatusMethodNotAllowed},
	} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(c.method, c.target, nil))
		if w.Code != c.status {
			t.Errorf("%s %s: %d %q, want %d", c.method, c.target, w.Code, w.Body, c.status)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" || w.Header().Get("Cache-Control") != "no-store" || w.Header().Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s %s: security headers %v", c.method, c.target, w.Header())
		}
	}
}
