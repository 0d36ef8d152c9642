package vigil_test

import (
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

func TestParseComplaintReference(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want int64
	}{
		{"12", 12}, {"case:12", 12}, {" case:7 ", 7},
		{"vigil-incident-3-case-12", 12}, {"acme_eu-case-99", 99},
		{"", 0}, {"case:", 0}, {"case:-1", 0}, {"0", 0}, {"incident-3", 0}, {"case:1x", 0},
		{strings.Repeat("9", 600), 0}, {"case:\x00", 0},
	} {
		got, err := vigil.ParseComplaintReference(tc.ref)
		if tc.want == 0 {
			if vigil.ErrorCode(err) != vigil.EINVALID {
				t.Errorf("%q: got %d, %v; want EINVALID", tc.ref, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %d, %v; want %d", tc.ref, got, err, tc.want)
		}
	}
}

func TestSameReviewer(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"key:1:alice", "key:1:alice", true}, {"key:1:alice", "key:7:alice", true},
		{"key:1:alice", "key:2:bob", false}, {"cli", "cli", true}, {"alice", "key:3:alice", true},
	} {
		if got := vigil.SameReviewer(tc.a, tc.b); got != tc.want {
			t.Errorf("SameReviewer(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}

func FuzzParseComplaintReference(f *testing.F) {
	for _, s := range []string{"12", "case:12", "vigil-incident-3-case-12", "", "case:-1", "x-case-99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		id, err := vigil.ParseComplaintReference(ref)
		if err != nil {
			if vigil.ErrorCode(err) != vigil.EINVALID {
				t.Fatalf("%q: error code %s", ref, vigil.ErrorCode(err))
			}
			return
		}
		if id <= 0 || len(ref) > vigil.MaxComplaintReference {
			t.Fatalf("%q: accepted as case %d", ref, id)
		}
	})
}
