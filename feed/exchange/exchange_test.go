package exchange_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed/exchange"
)

const token = "123456789|s3cr3t-t0ken_abcdefghijkl"

func TestDo(t *testing.T) {
	ctx := context.Background()
	var requests atomic.Int32
	var status atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch st := int(status.Load()); st {
		case http.StatusOK:
			w.Write([]byte("0123456789"))
		case http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(st)
		default:
			// Graph API style error body, echoing the token as a careless server might.
			w.WriteHeader(st)
			w.Write([]byte(`{"error":{"message":"Invalid OAuth access token ` + token + `","type":"OAuthException","code":190}}`))
		}
	}))
	defer srv.Close()
	var pauses []time.Duration
	h := exchange.HTTP{Name: "te", Secrets: []string{token},
		Sleep: func(ctx context.Context, d time.Duration) error { pauses = append(pauses, d); return nil }}
	get := func(method string) func(ctx context.Context) (*http.Request, error) {
		return func(ctx context.Context) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, method, srv.URL+"/x?access_token="+token, nil)
		}
	}
	for _, c := range []struct {
		status   int
		method   string
		code     string
		requests int32
	}{
		{http.StatusUnauthorized, http.MethodGet, vigil.EUNAUTHORIZED, 1},
		{http.StatusForbidden, http.MethodGet, vigil.EFORBIDDEN, 1},
		{http.StatusBadRequest, http.MethodGet, vigil.EINVALID, 1},
		{http.StatusServiceUnavailable, http.MethodGet, vigil.EUNAVAILABLE, exchange.DefaultAttempts},
		{http.StatusTooManyRequests, http.MethodGet, vigil.EUNAVAILABLE, exchange.DefaultAttempts},
		{http.StatusServiceUnavailable, http.MethodPost, vigil.EUNAVAILABLE, 1}, // might have been applied
	} {
		status.Store(int32(c.status))
		requests.Store(0)
		pauses = nil
		_, err := h.Do(ctx, "get updates", 1000, get(c.method))
		if vigil.ErrorCode(err) != c.code || requests.Load() != c.requests {
			t.Errorf("%d %s: %v after %d requests, want %s after %d", c.status, c.method, err, requests.Load(), c.code, c.requests)
		}
		if err != nil && (strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), srv.URL)) {
			t.Errorf("%d: error shows the token or URL: %v", c.status, err)
		}
		if c.status == http.StatusUnauthorized && !strings.Contains(err.Error(), "OAuthException") {
			t.Errorf("401 error without the exchange's own message: %v", err)
		}
		if c.status == http.StatusTooManyRequests && (len(pauses) != 3 || pauses[0] != 7*time.Second) {
			t.Errorf("429 pauses %v, want Retry-After's 7s", pauses)
		}
	}
	status.Store(http.StatusOK)
	if b, err := h.Do(ctx, "get", 10, get(http.MethodGet)); err != nil || string(b) != "0123456789" {
		t.Errorf("200: %q, %v", b, err)
	}
	if _, err := h.Do(ctx, "get", 9, get(http.MethodGet)); vigil.ErrorCode(err) != vigil.ETOOLARGE {
		t.Errorf("answer over the limit: %v", err)
	}
	// A network failure names neither the URL nor the token.
	srv.Close()
	_, err := h.Do(ctx, "get", 10, get(http.MethodGet))
	if vigil.ErrorCode(err) != vigil.EUNAVAILABLE || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "access_token") {
		t.Errorf("network failure: %v", err)
	}
}
