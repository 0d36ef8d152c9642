package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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

// TestRunFramings loads handlers that frame their answers each way an
// HTTP/1.1 server may: Content-Length, chunks (a flush before the end),
// and a closed connection after each answer. Every body must arrive whole,
// and a closed connection be redialled.
func TestRunFramings(t *testing.T) {
	long := strings.Repeat("x", 10_000)
	for name, h := range map[string]http.HandlerFunc{
		"length": func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("match")) },
		"chunked": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("mat"))
			w.(http.Flusher).Flush()
			w.Write([]byte("ch" + long))
		},
		"close": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			w.Write([]byte("match" + long))
		},
		"long header": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Long", long)
			w.Write([]byte("match"))
		},
	} {
		t.Run(name, func(t *testing.T) {
			var bodies atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, err := io.ReadAll(r.Body)
				if err != nil || string(b) != `{"n":1}` && string(b) != `{"n":22}` || r.Header.Get("Authorization") != "Bearer k" || r.Method != http.MethodPost || r.URL.Path != "/v1/lookup" {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				bodies.Add(1)
				h(w, r)
			}))
			defer srv.Close()
			res, err := Run(context.Background(), Config{URL: srv.URL + "/v1/lookup", Header: http.Header{"Authorization": {"Bearer k"}},
				Bodies: [][]byte{[]byte(`{"n":1}`), []byte(`{"n":22}`)}, Clients: 3, Requests: 90,
				Check: func(b []byte) bool {
					return strings.HasPrefix(string(b), "match") && (len(b) == 5 || len(b) == 5+len(long))
				}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests != 90 || res.Matched != 90 || res.Failed != 0 || bodies.Load() != 90 {
				t.Fatalf("result %v, first error %v; server saw %d bodies", res, res.FirstError, bodies.Load())
			}
		})
	}
}

// TestRunFailures counts answers that are not 200, and a server that hangs
// up without answering, as failures.
func TestRunFailures(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength == 2 {
			http.Error(w, "no", http.StatusTeapot)
			return
		}
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close()
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{URL: srv.URL, Bodies: [][]byte{[]byte("{}"), []byte("{ }")}, Clients: 2, Requests: 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 20 || res.Failed != 20 || res.FirstError == nil {
		t.Fatalf("result %v", res)
	}
}

// TestResponseReader reads hand-made responses, hostile ones included.
func TestResponseReader(t *testing.T) {
	for _, c := range []struct {
		in     string
		status int
		keep   bool
		body   string
		err    bool
	}{
		{in: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", status: 200, keep: true, body: "abc"},
		{in: "HTTP/1.1 200\r\ncontent-length:3\r\n\r\nabc", status: 200, keep: true, body: "abc"},
		{in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx", status: 404, keep: true, body: "x"},
		{in: "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", status: 200, keep: false, body: "x"},
		{in: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx", status: 200, keep: true, body: "x"},
		{in: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end", status: 200, keep: false, body: "to the end"},
		{in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n1\r\nd\r\n0\r\nTrailer: x\r\n\r\n", status: 200, keep: true, body: "abcd"},
		{in: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, keep: true},
		{in: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab", err: true},
		{in: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", err: true},
		{in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: true},
		{in: "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", err: true},
		{in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", err: true},
		{in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffff\r\n", err: true},
		{in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX", err: true},
		{in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", err: true},
		{in: "HTTP/1.1 2x0 OK\r\n\r\n", err: true},
		{in: "HTTP/2 200\r\n\r\n", err: true},
		{in: "HTTP/1.1 099 x\r\n\r\n", err: true},
		{in: "HTTP/1.1 101 Switching\r\n\r\n", err: true},
		{in: "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", err: true},
		{in: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("y", maxHeaderBytes) + "\r\n\r\n", err: true},
		{in: "", err: true},
	} {
		r := responseReader{br: bufio.NewReaderSize(strings.NewReader(c.in), 64)}
		status, keep, body, err := r.read(nil)
		if (err != nil) != c.err || err == nil && (status != c.status || keep != c.keep || string(body) != c.body) {
			t.Errorf("%.60q: status %d, keep %v, body %q, err %v", c.in, status, keep, body, err)
		}
	}
}

// FuzzResponseReader reads any bytes as a response: no panic, nothing
// over the limits, and where net/http's reader also takes it (as a
// response to a POST), the same status and body.
func FuzzResponseReader(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx"))
	f.Add([]byte("HTTP/1.0 200 OK\r\n\r\nrest"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := responseReader{br: bufio.NewReaderSize(bytes.NewReader(in), 64)}
		status, _, body, err := r.read(nil)
		if err != nil {
			return
		}
		if len(body) > maxBodyBytes || status < 200 || status > 999 {
			t.Fatalf("status %d, %d-byte body", status, len(body))
		}
		resp, herr := http.ReadResponse(bufio.NewReader(bytes.NewReader(in)), &http.Request{Method: http.MethodPost})
		if herr != nil || resp.StatusCode < 200 { // ReadResponse returns a 1xx as it is
			return
		}
		hbody, herr := io.ReadAll(resp.Body)
		if herr != nil {
			return
		}
		if resp.StatusCode != status || !bytes.Equal(hbody, body) {
			t.Fatalf("net/http read status %d, body %q; this reader %d, %q", resp.StatusCode, hbody, status, body)
		}
	})
}
