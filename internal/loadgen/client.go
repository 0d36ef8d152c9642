package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Limits on what a client reads of a response: the server under test is
// outside data like any other.
const (
	maxHeaderBytes = 64 << 10 // status line and header lines together
	maxBodyBytes   = 16 << 20
)

// target is one URL with its requests built once, before the load, so
// that sending one is a single Write of bytes made earlier: the client
// costs the server's cores as little as an honest HTTP/1.1 client can.
type target struct {
	addr string      // host:port to dial
	tls  *tls.Config // nil: plain TCP
	reqs [][]byte    // one whole request (line, headers, body) per body
}

// newTarget builds the POST requests of bodies to raw, with header.
func newTarget(raw string, header http.Header, bodies [][]byte) (*target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("loadgen: target %q: %w", raw, err)
	}
	t := &target{addr: u.Host}
	switch u.Scheme {
	case "http":
		if u.Port() == "" {
			t.addr = net.JoinHostPort(u.Hostname(), "80")
		}
	case "https":
		if u.Port() == "" {
			t.addr = net.JoinHostPort(u.Hostname(), "443")
		}
		t.tls = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	default:
		return nil, fmt.Errorf("loadgen: target %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("loadgen: target %q has no host", raw)
	}
	// The head is the same for every body but its length.
	var head bytes.Buffer
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: vigil-loadgen\r\n", u.RequestURI(), u.Host)
	names := make([]string, 0, len(header))
	for k := range header {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		ck := http.CanonicalHeaderKey(k)
		switch ck {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection", "User-Agent":
			return nil, fmt.Errorf("loadgen: header %s is the load tool's own", ck)
		}
		for _, v := range header[k] {
			if strings.ContainsAny(k, "\r\n: ") || strings.ContainsAny(v, "\r\n") {
				return nil, fmt.Errorf("loadgen: header %q has a line break or a bad name", k)
			}
			fmt.Fprintf(&head, "%s: %s\r\n", ck, v)
		}
	}
	t.reqs = make([][]byte, len(bodies))
	for i, b := range bodies {
		req := make([]byte, 0, head.Len()+40+len(b))
		req = append(req, head.Bytes()...)
		req = append(req, "Content-Length: "...)
		req = strconv.AppendInt(req, int64(len(b)), 10)
		req = append(req, "\r\n\r\n"...)
		t.reqs[i] = append(req, b...)
	}
	return t, nil
}

// client is one keep-alive connection to a target, redialled after the
// server closes it or an error leaves it in an unknown state.
type client struct {
	t    *target
	conn net.Conn
	br   *bufio.Reader
	body []byte // the last response's body, reused
	line []byte // a header line longer than the reader's buffer, reused
}

// do sends request i and reads its response: the status and the body (valid
// until the next call).
func (c *client) do(ctx context.Context, i int) (int, []byte, error) {
	if c.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.t.addr)
		if err != nil {
			return 0, nil, fmt.Errorf("dial %s: %w", c.t.addr, err)
		}
		if c.t.tls != nil {
			tc := tls.Client(conn, c.t.tls)
			if err := tc.HandshakeContext(ctx); err != nil {
				conn.Close()
				return 0, nil, fmt.Errorf("TLS handshake with %s: %w", c.t.addr, err)
			}
			conn = tc
		}
		c.conn = conn
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 4096)
		} else {
			c.br.Reset(conn)
		}
	}
	if _, err := c.conn.Write(c.t.reqs[i]); err != nil {
		c.close()
		return 0, nil, fmt.Errorf("send request: %w", err)
	}
	status, keep, err := c.readResponse()
	if err != nil || !keep {
		c.close()
	}
	if err != nil {
		return 0, nil, err
	}
	return status, c.body, nil
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// readResponse reads one response from c.br into c.body: its status, and
// whether the connection may carry the next request.
func (c *client) readResponse() (status int, keep bool, err error) {
	r := responseReader{br: c.br, line: c.line[:0]}
	status, keep, c.body, err = r.read(c.body[:0])
	c.line = r.line
	return status, keep, err
}

// responseReader parses HTTP/1.1 responses to POST requests: a status
// line, header lines, and a body framed by Content-Length, by chunks, or
// (without either) by the end of the connection. 1xx responses before the
// final one are skipped.
type responseReader struct {
	br   *bufio.Reader
	line []byte
	n    int // header bytes read so far, against maxHeaderBytes
}

var errMalformed = errors.New("malformed response")

func (r *responseReader) read(body []byte) (status int, keep bool, _ []byte, err error) {
	for {
		status, keep, length, chunked, err := r.head()
		if err != nil {
			return 0, false, body, err
		}
		if status < 200 {
			if status == http.StatusSwitchingProtocols {
				return 0, false, body, fmt.Errorf("%w: 101 to a POST", errMalformed)
			}
			continue
		}
		switch {
		case chunked:
			body, err = r.chunks(body)
		case length >= 0:
			if length > maxBodyBytes {
				return 0, false, body, fmt.Errorf("response body of %d bytes is over the %d-byte limit", length, maxBodyBytes)
			}
			body = slices.Grow(body, int(length))[:length]
			_, err = io.ReadFull(r.br, body)
		default:
			// Neither: the body runs to the end of the connection.
			keep = false
			body, err = r.toEOF(body)
		}
		if err != nil {
			return 0, false, body, fmt.Errorf("read response body: %w", err)
		}
		return status, keep, body, nil
	}
}

// readLine returns the next line without its CRLF (or LF), valid until
// the next call.
func (r *responseReader) readLine() ([]byte, error) {
	r.line = r.line[:0]
	for {
		frag, err := r.br.ReadSlice('\n')
		r.n += len(frag)
		if r.n > maxHeaderBytes {
			return nil, fmt.Errorf("response head over the %d-byte limit", maxHeaderBytes)
		}
		if err == nil {
			if len(r.line) == 0 {
				return trimEOL(frag), nil
			}
			r.line = append(r.line, frag...)
			return trimEOL(r.line), nil
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		r.line = append(r.line, frag...)
	}
}

func trimEOL(b []byte) []byte {
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}

// head reads a status line and its header lines.
func (r *responseReader) head() (status int, keep bool, length int64, chunked bool, err error) {
	line, err := r.readLine()
	if err != nil {
		return 0, false, 0, false, fmt.Errorf("read status line: %w", err)
	}
	// "HTTP/1.x NNN reason"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return 0, false, 0, false, fmt.Errorf("%w: status line %.80q", errMalformed, line)
	}
	http11 := line[7] == '1'
	if !http11 && line[7] != '0' {
		return 0, false, 0, false, fmt.Errorf("%w: status line %.80q", errMalformed, line)
	}
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return 0, false, 0, false, fmt.Errorf("%w: status line %.80q", errMalformed, line)
		}
		status = status*10 + int(d-'0')
	}
	if status < 100 {
		return 0, false, 0, false, fmt.Errorf("%w: status %d", errMalformed, status)
	}
	keep, length = http11, -1
	for {
		line, err := r.readLine()
		if err != nil {
			return 0, false, 0, false, fmt.Errorf("read header: %w", err)
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			return 0, false, 0, false, fmt.Errorf("%w: header line %.80q", errMalformed, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || length >= 0 && n != length {
				return 0, false, 0, false, fmt.Errorf("%w: Content-Length %.40q", errMalformed, value)
			}
			length = n
		case asciiEqualFold(name, "Transfer-Encoding") && http11:
			// HTTP/1.0 has no transfer codings: net/http, too, ignores
			// the header there.
			if !asciiEqualFold(value, "chunked") {
				return 0, false, 0, false, fmt.Errorf("%w: Transfer-Encoding %.40q", errMalformed, value)
			}
			chunked = true
		case asciiEqualFold(name, "Connection"):
			for tok := range bytes.SplitSeq(value, []byte(",")) {
				tok = bytes.TrimSpace(tok)
				switch {
				case asciiEqualFold(tok, "close"):
					keep = false
				case asciiEqualFold(tok, "keep-alive") && !http11:
					keep = true
				}
			}
		}
	}
	if status == http.StatusNoContent || status == http.StatusNotModified || status < 200 {
		length, chunked = 0, false
	}
	if chunked {
		length = -1 // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3)
	}
	return status, keep, length, chunked, nil
}

// chunks reads a chunked body and its trailer.
func (r *responseReader) chunks(body []byte) ([]byte, error) {
	for {
		line, err := r.readLine()
		if err != nil {
			return body, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 || len(line) > 8 {
			return body, fmt.Errorf("%w: chunk size %.40q", errMalformed, line)
		}
		n, err := strconv.ParseUint(string(line), 16, 32)
		if err != nil {
			return body, fmt.Errorf("%w: chunk size %.40q", errMalformed, line)
		}
		if n == 0 {
			for { // trailer fields, then the empty line
				line, err := r.readLine()
				if err != nil {
					return body, err
				}
				if len(line) == 0 {
					return body, nil
				}
			}
		}
		if uint64(len(body))+n > maxBodyBytes {
			return body, fmt.Errorf("response body over the %d-byte limit", maxBodyBytes)
		}
		at := len(body)
		body = slices.Grow(body, int(n))[:at+int(n)]
		if _, err := io.ReadFull(r.br, body[at:]); err != nil {
			return body, err
		}
		if line, err := r.readLine(); err != nil {
			return body, err
		} else if len(line) != 0 {
			return body, fmt.Errorf("%w: no line end after a chunk", errMalformed)
		}
	}
}

// toEOF reads a body delimited by the end of the connection.
func (r *responseReader) toEOF(body []byte) ([]byte, error) {
	for {
		if len(body) == cap(body) {
			if len(body) >= maxBodyBytes {
				return body, fmt.Errorf("response body over the %d-byte limit", maxBodyBytes)
			}
			body = slices.Grow(body, 4096)
		}
		n, err := r.br.Read(body[len(body):min(cap(body), maxBodyBytes)])
		body = body[:len(body)+n]
		if err == io.EOF {
			return body, nil
		}
		if err != nil {
			return body, err
		}
	}
}

// asciiEqualFold reports whether b is s, ignoring ASCII case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
