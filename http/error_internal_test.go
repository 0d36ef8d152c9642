package http

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/vigil-oss/vigil"
)

func TestPageParams(t *testing.T) {
	for _, tc := range []struct {
		query     string
		after     int64
		limit     int
		afterCode string
		limitCode string
	}{
		{"", 0, 10, "", ""},
		{"after_id=7&limit=3", 7, 3, "", ""},
		{"after_id=-1&limit=0", 0, 0, vigil.EINVALID, vigil.EINVALID},
		{"after_id=x&limit=101", 0, 0, vigil.EINVALID, vigil.EINVALID},
		{"limit=100", 0, 100, "", ""},
	} {
		q, _ := url.ParseQuery(tc.query)
		after, err := queryAfterID(q)
		if vigil.ErrorCode(err) != tc.afterCode || after != tc.after {
			t.Errorf("%q: after_id %d %v", tc.query, after, err)
		}
		limit, err := queryLimit(q, 10, 100)
		if vigil.ErrorCode(err) != tc.limitCode || limit != tc.limit {
			t.Errorf("%q: limit %d %v", tc.query, limit, err)
		}
	}
}

// An internal error after the client has gone (its request context
// cancelled) is the client's outcome, 499, not a 500.
func TestWriteErrorClientGone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)
	rec := &recorder{ResponseWriter: httptest.NewRecorder()}
	writeError(rec, r, fmt.Errorf("find case: %w", context.Canceled))
	if rec.status != statusClientClosedRequest || rec.err != nil {
		t.Errorf("status %d err %v, want 499 and no internal error", rec.status, rec.err)
	}
	rec = &recorder{ResponseWriter: httptest.NewRecorder()}
	writeError(rec, httptest.NewRequest("GET", "/", nil), fmt.Errorf("find case: %w", context.Canceled))
	if rec.status != 500 {
		t.Errorf("client still there: status %d, want 500", rec.status)
	}
}
