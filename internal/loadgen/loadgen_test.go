package loadgen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestRunSpreadsOverURLs sends a load to two targets: each client keeps to
// one, so both are sent half of it, and their answers are counted as one
// result.
func TestRunSpreadsOverURLs(t *testing.T) {
	var hits [2]atomic.Int64
	var urls []string
	for i := range hits {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			w.Write([]byte("match"))
		}))
		defer srv.Close()
		urls = append(urls, srv.URL)
	}
	res, err := Run(context.Background(), Config{URLs: urls, Bodies: [][]byte{[]byte("{}")}, Clients: 4, Requests: 400,
		Check: func(b []byte) bool { return string(b) == "match" }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 400 || res.Matched != 400 || res.Failed != 0 {
		t.Fatalf("result %v", res)
	}
	if a, b := hits[0].Load(), hits[1].Load(); a+b != 400 || a == 0 || b == 0 {
		t.Fatalf("targets got %d and %d requests, want 400 between both", a, b)
	}
}
