package http

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
)

// codes maps error codes to HTTP statuses.
var codes = map[string]int{
	vigil.ECONFLICT:     http.StatusConflict,
	vigil.EINVALID:      http.StatusBadRequest,
	vigil.ENOTFOUND:     http.StatusNotFound,
	vigil.EUNAUTHORIZED: http.StatusUnauthorized,
	vigil.EFORBIDDEN:    http.StatusForbidden,
	vigil.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	vigil.EUNSUPPORTED:  http.StatusUnsupportedMediaType,
	vigil.EUNAVAILABLE:  http.StatusServiceUnavailable,
	vigil.EINTERNAL:     http.StatusInternalServerError,
}

// retryAfter is the Retry-After, in seconds, of a 503: a bound such as the
// decode memory frees up as the requests in flight finish.
const retryAfter = "5"

// statusClientClosedRequest is the status logged and counted for a request
// whose client went away before it was answered (nginx's 499): it is not
// the server's fault, and must not look like a 500.
const statusClientClosedRequest = 499

// bodyReadError is an error reading a request body from the client: the
// connection closed, reset or timed out mid-body.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return "read request body: " + e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }

func (e *bodyReadError) timeout() bool {
	var ne net.Error
	return errors.Is(e.err, os.ErrDeadlineExceeded) || errors.As(e.err, &ne) && ne.Timeout()
}

// bodyReader marks the errors of reading a request body as the client's,
// however deep in a handler (JSON decoder, multipart reader, hasher) they
// surface, and lifts the body's read deadline once it is all in.
type bodyReader struct {
	io.ReadCloser
	rc *http.ResponseController
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF && b.rc != nil:
		// The deadline is for receiving the body; left set, it would end
		// the server's wait for the client to go away (and so cancel
		// the request's context) while the handler still works.
		b.rc.SetReadDeadline(time.Time{})
		b.rc = nil
	case err != nil && err != io.EOF:
		var mbe *http.MaxBytesError
		if !errors.As(err, &mbe) {
			err = &bodyReadError{err}
		}
	}
	return n, err
}

// limitBodyTime sets the deadline to receive r's body, by route class,
// and returns the body to read instead of r.Body.
func (s *Server) limitBodyTime(w http.ResponseWriter, r *http.Request, route string) io.ReadCloser {
	rc := http.NewResponseController(w)
	if r.Body == nil || r.Body == http.NoBody {
		// Nothing to receive. The server already waits, in the
		// background, for the client to go away; a deadline (the
		// server's ReadTimeout backstop) would end that wait and cancel
		// the request's context while a long handler (an export) runs.
		rc.SetReadDeadline(time.Time{})
		return r.Body
	}
	d := s.BodyTimeout
	if isUpload(route) {
		d = s.UploadTimeout
	}
	if d <= 0 || rc.SetReadDeadline(time.Now().Add(d)) != nil {
		rc = nil // no deadline (a test's recorder): none to lift
	}
	return &bodyReader{ReadCloser: r.Body, rc: rc}
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError writes err as JSON. Caller mistakes get their message;
// internal errors are logged by the access log and shown as "internal
// error" only.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := vigil.ErrorCode(err)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		code, err = vigil.ETOOLARGE, vigil.Errorf(vigil.ETOOLARGE, "request body is larger than the %d-byte limit", mbe.Limit)
	}
	if status, code, message, ok := clientFault(r, err); ok {
		writeErrorBody(w, status, code, message)
		return
	}
	if code == vigil.EINTERNAL {
		if rec, ok := w.(*recorder); ok {
			rec.err = err
		}
	}
	switch code {
	case vigil.EUNAUTHORIZED:
		w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
	case vigil.EUNAVAILABLE:
		w.Header().Set("Retry-After", retryAfter)
	}
	writeErrorBody(w, codes[code], code, vigil.ErrorMessage(err))
}

// clientFault returns the status, code and message of an error that is
// the client connection's doing, not the server's: a body too slow (408),
// or cut short or abandoned (499; nobody may be left to read that answer,
// it is for the access log and metrics).
func clientFault(r *http.Request, err error) (status int, code, message string, ok bool) {
	var bre *bodyReadError
	switch {
	case errors.As(err, &bre) && bre.timeout():
		return http.StatusRequestTimeout, "request_timeout", "the request body was not received in time", true
	case errors.As(err, &bre), vigil.ErrorCode(err) == vigil.EINTERNAL && r.Context().Err() != nil:
		return statusClientClosedRequest, "client_closed_request", "the client closed the request before it was answered", true
	}
	return 0, "", "", false
}

// writeErrorBody writes an error response with the given status, code and
// caller-safe message: the one shape of every error, including those that
// have no vigil.Error code (405).
func writeErrorBody(w http.ResponseWriter, status int, code, message string) {
	var body errorBody
	body.Error.Code, body.Error.Message = code, message
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// checkContentEncoding refuses a body sent with a Content-Encoding (or, in
// a multipart part, a Content-Transfer-Encoding) other than identity:
// Vigil does not decompress, and hashing or parsing the encoded bytes as
// if they were the content would give wrong signals without an error.
func checkContentEncoding(h textproto.MIMEHeader) error {
	for _, name := range []string{"Content-Encoding", "Content-Transfer-Encoding"} {
		for _, v := range h[name] {
			for enc := range strings.SplitSeq(v, ",") {
				switch strings.ToLower(strings.TrimSpace(enc)) {
				case "", "identity", "binary", "7bit", "8bit":
				default:
					return vigil.Errorf(vigil.EUNSUPPORTED, "%s %q is not accepted: send the body unencoded", name, strings.TrimSpace(enc))
				}
			}
		}
	}
	return nil
}

func badRequest(format string, args ...any) error {
	return vigil.Errorf(vigil.EINVALID, format, args...)
}

// queryAfterID reads a paged list's after_id parameter: a non-negative
// integer, 0 when absent.
func queryAfterID(q url.Values) (int64, error) {
	v := q.Get("after_id")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest("after_id must be a non-negative integer")
	}
	return n, nil
}

// queryLimit reads a paged list's limit parameter: 1 to max, def when
// absent.
func queryLimit(q url.Values, def, max int) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, badRequest("limit must be 1 to %d", max)
	}
	return n, nil
}
