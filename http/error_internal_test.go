package http

import (
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
