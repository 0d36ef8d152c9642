// Package exchange holds what the clients of outside hash exchanges
// (feed/ncmec, feed/stopncii, feed/threatexchange) share: one HTTP request
// with a bounded read and retries, and errors that never carry a URL or a
// credential.
//
// Retries follow python-threatexchange's clients, which all mount the
// same urllib3 policy: GETs (never POSTs or PUTs, which may have been
// applied) are retried on 429 and 5xx answers and on network errors, at
// most four times, with a growing pause; a 429's Retry-After is obeyed up
// to a bound. 4xx answers other than 429 are final: the error names the
// status and a short excerpt of the exchange's own error body, with every
// secret removed from it.
package exchange

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-oss/vigil"
)

// Defaults of HTTP.
const (
	DefaultAttempts = 4
	DefaultTimeout  = 60 * time.Second // pytx's TimeoutHTTPAdapter
	maxRetryAfter   = 5 * time.Minute
	maxErrorExcerpt = 400
)

// HTTP sends requests to one exchange.
type HTTP struct {
	// Name names the exchange in errors ("ncmec").
	Name string
	// Client sends the requests; nil uses a client with DefaultTimeout.
	Client *http.Client
	// Sleep waits between attempts; nil uses a timer that obeys ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Attempts bounds the tries of a GET; 0 means DefaultAttempts.
	Attempts int
	// Secrets are removed from every error text (tokens, passwords, keys).
	Secrets []string
}

var defaultClient = &http.Client{Timeout: DefaultTimeout}

// Do sends the request build returns (called again for each attempt) and
// returns the body of a 200 answer, at most limit bytes (ETOOLARGE over
// it). what names the request in errors ("get entries"). Errors are
// EUNAUTHORIZED for 401, EFORBIDDEN for 403, EUNAVAILABLE for 429, 5xx
// and network failures after the retries, EINVALID for other answers.
func (h *HTTP) Do(ctx context.Context, what string, limit int64, build func(ctx context.Context) (*http.Request, error)) ([]byte, error) {
	hc := h.Client
	if hc == nil {
		hc = defaultClient
	}
	attempts := h.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	var last error
	var pause time.Duration
	for attempt := 1; attempt <= attempts; attempt++ {
		if attempt > 1 {
			if err := h.sleep(ctx, pause); err != nil {
				return nil, err
			}
		}
		pause = time.Duration(attempt) * 500 * time.Millisecond
		req, err := build(ctx)
		if err != nil {
			return nil, vigil.Errorf(vigil.EINVALID, "%s %s: %s", h.Name, what, h.scrub(err.Error()))
		}
		retryable := req.Method == http.MethodGet || req.Method == http.MethodHead
		resp, err := hc.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // without the URL: it may hold a token or a cursor
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			last = vigil.Errorf(vigil.EUNAVAILABLE, "%s %s: %s", h.Name, what, h.scrub(err.Error()))
			if !retryable {
				return nil, last
			}
			continue
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
		resp.Body.Close()
		switch {
		case err != nil:
			last = vigil.Errorf(vigil.EUNAVAILABLE, "%s %s: reading the answer: %s", h.Name, what, h.scrub(err.Error()))
		case resp.StatusCode == http.StatusOK:
			if int64(len(b)) > limit {
				return nil, vigil.Errorf(vigil.ETOOLARGE, "%s %s: answer over %d bytes", h.Name, what, limit)
			}
			return b, nil
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			last = vigil.Errorf(vigil.EUNAVAILABLE, "%s %s answered %s%s", h.Name, what, resp.Status, h.excerpt(b))
			if d, ok := retryAfter(resp.Header.Get("Retry-After")); ok && resp.StatusCode == http.StatusTooManyRequests {
				pause = d
			}
		default:
			code := vigil.EINVALID
			switch resp.StatusCode {
			case http.StatusUnauthorized:
				code = vigil.EUNAUTHORIZED
			case http.StatusForbidden:
				code = vigil.EFORBIDDEN
			}
			return nil, vigil.Errorf(code, "%s %s answered %s%s", h.Name, what, resp.Status, h.excerpt(b))
		}
		if !retryable {
			return nil, last
		}
	}
	return nil, last
}

// retryAfter reads a Retry-After of seconds, bounded.
func retryAfter(v string) (time.Duration, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, false
	}
	return min(time.Duration(n)*time.Second, maxRetryAfter), true
}

// excerpt returns ": " and the start of an error body, printable and
// without secrets, or "" for an empty one.
func (h *HTTP) excerpt(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	s := h.scrub(string(b))
	if len(s) > maxErrorExcerpt {
		s = s[:maxErrorExcerpt]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return ": " + s
}

// scrub removes every secret, plain or URL-escaped, from s.
func (h *HTTP) scrub(s string) string {
	for _, sec := range h.Secrets {
		if sec == "" {
			continue
		}
		for _, form := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec)} {
			s = strings.ReplaceAll(s, form, "[secret]")
		}
	}
	return s
}

// Scrub removes every secret from s, for errors built outside Do.
func (h *HTTP) Scrub(s string) string { return h.scrub(s) }

func (h *HTTP) sleep(ctx context.Context, d time.Duration) error {
	if h.Sleep != nil {
		return h.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
