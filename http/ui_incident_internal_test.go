package http

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestKeptText checks what the incident page says of an incident's
// preservation, which must be what the purge decides.
func TestKeptText(t *testing.T) {
	s := &Server{Retention: vigil.RetentionPolicy{Destinations: map[string]int{"eu": 6}}}
	done := time.Date(2027, 3, 1, 10, 0, 0, 0, time.UTC)
	purged := done.AddDate(1, 0, 1)
	for _, tc := range []struct {
		name string
		inc  *vigil.Incident
		subs []*vigil.Submission
		held bool
		want []string
	}{
		{"unsent", &vigil.Incident{State: vigil.IncidentApproved}, nil, false, []string{"has not been sent"}},
		{"draft", &vigil.Incident{State: vigil.IncidentDraft, UpdatedAt: done}, nil, false,
			[]string{"discarded at 2027-05-30 10:00 UTC", "unless edited, approved or held"}},
		{"held draft", &vigil.Incident{State: vigil.IncidentDraft, UpdatedAt: done}, nil, true, []string{"a legal hold keeps it"}},
		{"under way", &vigil.Incident{}, []*vigil.Submission{{Destination: "ncmec", State: vigil.SubmissionSubmitted}}, true,
			[]string{"under way", "A legal hold keeps it longer"}},
		{"sent to the eu", &vigil.Incident{}, []*vigil.Submission{{Destination: "eu", State: vigil.SubmissionFinished, UpdatedAt: done}}, false,
			[]string{"until 2027-09-01 10:00 UTC", "12,eu=6"}},
		{"purged", &vigil.Incident{PurgedAt: &purged}, nil, false, []string{"Purged 2028-03-02"}},
		{"discarded", &vigil.Incident{State: vigil.IncidentDraft, PurgedAt: &purged}, nil, false, []string{"Discarded 2028-03-02", "never approved"}},
	} {
		got := s.keptText(tc.inc, tc.subs, tc.held)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tc.name, got, w)
			}
		}
	}
}
