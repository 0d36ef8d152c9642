package http_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	vhttp "github.com/vigil-oss/vigil/http"
)

// send sends a request with the given headers (name, value pairs) and
// returns the response with its body read.
func (ts *testServer) send(tb testing.TB, method, path string, body []byte, header ...string) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest(method, ts.URL()+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp, string(b)
}

// The authentication scheme is case-insensitive (RFC 7235 §2.1), and may be
// followed by more than one space.
func TestBearerSchemeCaseInsensitive(t *testing.T) {
	ts := mustOpenServer(t)
	for _, scheme := range []string{"Bearer ", "bearer ", "BEARER ", "bEaReR  "} {
		resp, body := ts.send(t, "GET", "/v1/banks", nil, "Authorization", scheme+ts.keys[vigil.RoleCurator])
		if resp.StatusCode != 200 {
			t.Errorf("%q: %d %s", scheme, resp.StatusCode, body)
		}
	}
	for _, auth := range []string{"Basic " + ts.keys[vigil.RoleCurator], "Bearer", "Bearer ", "Bearer" + ts.keys[vigil.RoleCurator]} {
		if resp, _ := ts.send(t, "GET", "/v1/banks", nil, "Authorization", auth); resp.StatusCode != 401 {
			t.Errorf("%q: %d, want 401", auth, resp.StatusCode)
		}
	}
}

// A known path with a method it does not serve is a 405 naming the methods
// it does, with or without a key; an unknown path stays a 404.
func TestWrongMethodIs405(t *testing.T) {
	ts := mustOpenServer(t)
	for _, tc := range []struct {
		method, path, allow string
		role                vigil.Role
	}{
		{"DELETE", "/v1/match", "POST", ""},
		{"GET", "/v1/match", "POST", vigil.RoleMatcher},
		{"PUT", "/v1/banks/x", "DELETE, GET, HEAD, PATCH", vigil.RoleCurator},
		{"POST", "/healthz", "GET, HEAD", ""},
	} {
		hdr := []string{}
		if tc.role != "" {
			hdr = append(hdr, "Authorization", "Bearer "+ts.keys[tc.role])
		}
		resp, body := ts.send(t, tc.method, tc.path, nil, hdr...)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q, want 405 Allow %q (%s)", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), tc.allow, body)
		}
		if !strings.Contains(body, `"code":"method_not_allowed"`) || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: body %s, Content-Type %q; want a JSON error", tc.method, tc.path, body, resp.Header.Get("Content-Type"))
		}
	}
	resp, body := ts.send(t, "GET", "/v1/nothing-here", nil)
	if resp.StatusCode != 404 || !strings.Contains(body, `"code":"not_found"`) {
		t.Errorf("unknown path: %d %s", resp.StatusCode, body)
	}
}

// Content sent with a Content-Encoding would be hashed as its compressed
// bytes; it is refused instead, for uploads and JSON bodies alike.
func TestContentEncodingRefused(t *testing.T) {
	ts := mustOpenServer(t)
	img, err := os.ReadFile("testdata/smooth-129x300.png")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(img)
	zw.Close()
	auth := "Bearer " + ts.keys[vigil.RoleMatcher]
	for _, path := range []string{"/v1/hash", "/v1/match"} {
		resp, body := ts.send(t, "POST", path, gz.Bytes(), "Authorization", auth, "Content-Encoding", "gzip", "Content-Type", "image/png")
		if resp.StatusCode != 415 || !strings.Contains(body, "Content-Encoding") {
			t.Errorf("%s gzip: %d %s, want 415", path, resp.StatusCode, body)
		}
		if resp, body := ts.send(t, "POST", path, img, "Authorization", auth, "Content-Encoding", "identity"); resp.StatusCode != 200 {
			t.Errorf("%s identity: %d %s", path, resp.StatusCode, body)
		}
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	part, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Disposition": {`form-data; name="file"; filename="a.png"`}, "Content-Encoding": {"gzip"}})
	part.Write(gz.Bytes())
	mw.Close()
	if resp, body := ts.send(t, "POST", "/v1/hash", form.Bytes(), "Authorization", auth, "Content-Type", mw.FormDataContentType()); resp.StatusCode != 415 {
		t.Errorf("multipart part gzip: %d %s, want 415", resp.StatusCode, body)
	}
	resp, body := ts.send(t, "POST", "/v1/lookup", []byte(`{"signals":[{"type":"md5","value":"d41d8cd98f00b204e9800998ecf8427e"}]}`), "Authorization", auth, "Content-Encoding", "br")
	if resp.StatusCode != 415 {
		t.Errorf("lookup br: %d %s, want 415", resp.StatusCode, body)
	}
}

// accessLog collects the access-log lines of a server.
type accessLog struct {
	slog.Handler
	lines chan map[string]any
}

func newAccessLog() *accessLog {
	return &accessLog{Handler: slog.DiscardHandler, lines: make(chan map[string]any, 100)}
}

func (l *accessLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *accessLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "access" {
		return nil
	}
	m := map[string]any{"level": r.Level.String()}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
	l.lines <- m
	return nil
}

// next returns the next access-log line for path.
func (l *accessLog) next(tb testing.TB, path string) map[string]any {
	tb.Helper()
	for m := range l.lines {
		if m["path"] == path {
			return m
		}
	}
	return nil
}

// A client that goes away mid-upload is logged and counted as 499, not as
// a server error.
func TestClientDisconnectIs499(t *testing.T) {
	log := newAccessLog()
	ts := mustOpenServer(t, func(s *vhttp.Server) { s.Logger = slog.New(log) })
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/banks", "", jsonBody(map[string]string{"name": "x"}), nil); code != 201 {
		t.Fatalf("create bank: %d", code)
	}
	for _, path := range []string{"/v1/match", "/v1/lookup", "/v1/banks/x/import?signal_type=md5"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL(), "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 100000\r\n\r\n", path, ts.keys[vigil.RoleAdmin])
		conn.Write([]byte(`{"signals": [` + strings.Repeat(" ", 1000)))
		conn.Close()
		line := log.next(t, strings.Split(path, "?")[0])
		if line["status"] != int64(499) || line["level"] != "INFO" {
			t.Errorf("%s: access log %v, want status 499 at INFO", path, line)
		}
	}
	_, metrics := ts.send(t, "GET", "/metrics", nil, "Authorization", "Bearer "+ts.keys[vigil.RoleAdmin])
	if !strings.Contains(metrics, `vigil_http_request_duration_seconds_count{route="POST /v1/match",status="499"} 1`) {
		t.Errorf("metrics do not count the 499:\n%s", grepLines(metrics, "POST /v1/match"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// slowBody sends the headers of a POST with a 100-byte body to path, then
// only part of the body, and returns what the server answers before
// closing the connection.
func slowBody(t *testing.T, ts *testServer, path, auth string) string {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Only so that a server that never times out fails the test instead
	// of hanging it.
	conn.SetDeadline(time.Now().Add(time.Minute))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n{", path, auth)
	out, _ := io.ReadAll(conn)
	return string(out)
}

// A client that sends its body too slowly is cut off with a 408 and its
// connection closed, on API and UI routes alike; an upload route allows
// more time than a JSON one.
func TestSlowBodyTimesOut(t *testing.T) {
	log := newAccessLog()
	ts := mustOpenServer(t, func(s *vhttp.Server) {
		s.Logger = slog.New(log)
		s.BodyTimeout, s.UploadTimeout = 100*time.Millisecond, time.Minute
	})
	for _, path := range []string{"/ui/login", "/v1/lookup"} {
		out := slowBody(t, ts, path, "Bearer "+ts.keys[vigil.RoleMatcher])
		if !strings.HasPrefix(out, "HTTP/1.1 408") {
			t.Errorf("%s: got %q, want a 408", path, out)
		}
		if line := log.next(t, path); line["status"] != int64(408) {
			t.Errorf("%s: access log %v", path, line)
		}
	}
	// An upload may take longer than BodyTimeout.
	img, err := os.ReadFile("testdata/smooth-129x300.png")
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < len(img); i += len(img) / 3 {
			pw.Write(img[i:min(i+len(img)/3, len(img))])
			time.Sleep(150 * time.Millisecond)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", ts.URL()+"/v1/hash", pr)
	req.Header.Set("Authorization", "Bearer "+ts.keys[vigil.RoleMatcher])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("slow upload: %d, want 200", resp.StatusCode)
	}
}

// With the decode memory all taken, an image upload waits its bounded
// time and is then refused with a 503 and Retry-After; a 154-byte BMP
// claiming 8000x8000 is refused as a bad image without taking any.
func TestDecodeBudgetFullIs503(t *testing.T) {
	budget := hashing.NewDecodeBudget(64<<20, time.Millisecond)
	ts := mustOpenServer(t, func(s *vhttp.Server) { s.Hashing.Limits.Memory = budget })
	img, err := os.ReadFile("testdata/smooth-129x300.png")
	if err != nil {
		t.Fatal(err)
	}
	auth := "Bearer " + ts.keys[vigil.RoleMatcher]
	release, err := budget.Reserve(t.Context(), budget.Size())
	if err != nil {
		t.Fatal(err)
	}
	resp, body := ts.send(t, "POST", "/v1/match", img, "Authorization", auth)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, `"code":"unavailable"`) {
		t.Errorf("full budget: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	release()
	if resp, body := ts.send(t, "POST", "/v1/match", img, "Authorization", auth); resp.StatusCode != 200 {
		t.Errorf("after release: %d %s", resp.StatusCode, body)
	}
	bmp := make([]byte, 154)
	copy(bmp, "BM")
	for i, v := range map[int]uint32{10: 54, 14: 40, 18: 8000, 22: uint32(0xffffffff - 8000 + 1), 26: 1 | 32<<16} {
		binary.LittleEndian.PutUint32(bmp[i:], v)
	}
	resp, body = ts.send(t, "POST", "/v1/hash", bmp, "Authorization", auth)
	if resp.StatusCode != 200 || !strings.Contains(body, "claims 8000x8000") {
		t.Errorf("tiny bmp: %d %s, want its digests and a pdq_error saying what it claims", resp.StatusCode, body)
	}
}

// Every JSON endpoint reads its body with the one strict reader.
func TestJSONEndpointsStrict(t *testing.T) {
	ts := mustOpenServer(t)
	for _, tc := range []struct {
		path, body string
		role       vigil.Role
	}{
		{"/v1/lookup", `null`, vigil.RoleMatcher},
		{"/v1/lookup", `{"signals":[{"type":"md5","value":"d41d8cd98f00b204e9800998ecf8427e","type":"sha256"}]}`, vigil.RoleMatcher},
		{"/v1/conversations/score", `{"messages":[{"from":"a","text":null}]}`, vigil.RoleMatcher},
		{"/v1/conversations/c1/messages", `{"messages":[null]}`, vigil.RoleMatcher},
		{"/v1/banks", `{"name":"a","name":"b"}`, vigil.RoleCurator},
	} {
		resp, body := ts.send(t, "POST", tc.path, []byte(tc.body), "Authorization", "Bearer "+ts.keys[tc.role])
		if resp.StatusCode != 400 {
			t.Errorf("%s %s: %d %s, want 400", tc.path, tc.body, resp.StatusCode, body)
		}
	}
}

// peakHeapInUse runs f while sampling the heap in use, and returns its
// peak above the level before f.
func peakHeapInUse(f func()) uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak uint64
	done, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base {
				peak = max(peak, ms.HeapInuse-base)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	f()
	close(done)
	<-sampled
	return peak
}

// Sixteen uploads at once to /v1/match, each an image that decodes to
// 16 MB, keep the server's heap near its decode memory; sixteen 154-byte
// BMPs claiming 8000x8000 (256 MB each to decode) take nothing.
func TestParallelMatchMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 256 MB of images")
	}
	const budget = 40 << 20
	defer debug.SetGCPercent(debug.SetGCPercent(25))
	ts := mustOpenServer(t, func(s *vhttp.Server) { s.Hashing.Limits.Memory = hashing.NewDecodeBudget(budget, time.Minute) })
	flat := image.NewGray(image.Rect(0, 0, 4000, 4000)) // 16 MB decoded
	var png16 bytes.Buffer
	if err := png.Encode(&png16, flat); err != nil {
		t.Fatal(err)
	}
	bmp := make([]byte, 154)
	copy(bmp, "BM")
	for i, v := range map[int]uint32{10: 54, 14: 40, 18: 8000, 22: uint32(0xffffffff - 8000 + 1), 26: 1 | 32<<16} {
		binary.LittleEndian.PutUint32(bmp[i:], v)
	}
	auth := "Bearer " + ts.keys[vigil.RoleMatcher]
	for _, tc := range []struct {
		name  string
		data  []byte
		bound uint64
	}{
		// Live images within the budget; garbage the concurrent GC has
		// yet to collect (GOGC 25), the client's and server's buffers
		// and the store account for the rest. Without a budget the
		// images alone would take 256 MB.
		{"16 MB PNGs", png16.Bytes(), 2*budget + 32<<20},
		{"tiny BMPs", bmp, 32 << 20},
	} {
		peak := peakHeapInUse(func() {
			var wg sync.WaitGroup
			for range 16 {
				wg.Go(func() {
					if resp, body := ts.send(t, "POST", "/v1/match", tc.data, "Authorization", auth); resp.StatusCode != 200 {
						t.Errorf("%s: %d %s", tc.name, resp.StatusCode, body)
					}
				})
			}
			wg.Wait()
		})
		t.Logf("%s: peak heap in use %d MB (bound %d MB)", tc.name, peak>>20, tc.bound>>20)
		if peak > tc.bound {
			t.Errorf("%s: peak heap in use %d MB, over the %d MB bound", tc.name, peak>>20, tc.bound>>20)
		}
	}
}
