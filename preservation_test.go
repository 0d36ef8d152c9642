package vigil_test

import (
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

func TestRetainUntil(t *testing.T) {
	p := vigil.RetentionPolicy{Destinations: map[string]int{"eu": 6}}
	jan31 := time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC)
	sub := func(dest string, st vigil.SubmissionState, at time.Time) *vigil.Submission {
		return &vigil.Submission{Destination: dest, State: st, UpdatedAt: at}
	}
	for _, tc := range []struct {
		name string
		subs []*vigil.Submission
		want time.Time
		ok   bool
	}{
		{"unsent", nil, time.Time{}, false},
		{"only failed", []*vigil.Submission{sub("ncmec", vigil.SubmissionFailed, jan31)}, time.Time{}, false},
		{"ncmec a year", []*vigil.Submission{sub("ncmec", vigil.SubmissionFinished, jan31)}, jan31.AddDate(1, 0, 0), true},
		// Months are calendar months: six after January 31 is July 31.
		{"eu six months", []*vigil.Submission{sub("eu", vigil.SubmissionFinished, jan31)}, time.Date(2027, 7, 31, 12, 0, 0, 0, time.UTC), true},
		{"latest counts", []*vigil.Submission{sub("ncmec", vigil.SubmissionFinished, jan31), sub("eu", vigil.SubmissionFinished, jan31.AddDate(0, 8, 0))},
			jan31.AddDate(0, 8, 0).AddDate(0, 6, 0), true},
		{"one under way", []*vigil.Submission{sub("ncmec", vigil.SubmissionFinished, jan31), sub("eu", vigil.SubmissionSubmitted, jan31)}, time.Time{}, false},
		{"stuck", []*vigil.Submission{sub("ncmec", vigil.SubmissionStuck, jan31)}, time.Time{}, false},
	} {
		got, ok := p.RetainUntil(tc.subs)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("%s: %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseRetentionPolicy(t *testing.T) {
	p, err := vigil.ParseRetentionPolicy("18, ncmec=12,eu=6")
	if err != nil || p.Months("") != 18 || p.Months("ncmec") != 12 || p.Months("eu") != 6 || p.Months("other") != 18 {
		t.Fatalf("parsed %+v, %v", p, err)
	}
	if again, err := vigil.ParseRetentionPolicy(p.String()); err != nil || again.String() != "18,eu=6,ncmec=12" {
		t.Errorf("round trip %q: %+v, %v", p.String(), again, err)
	}
	if d, err := vigil.ParseRetentionPolicy(""); err != nil || d.Months("ncmec") != vigil.DefaultReportRetentionMonths {
		t.Errorf("empty policy: %+v, %v", d, err)
	}
	for _, bad := range []string{"0", "121", "x", "12,12", "=3", "eu=1,eu=2", "eu=", "eu=3m", "1e1"} {
		if _, err := vigil.ParseRetentionPolicy(bad); vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("%q: %v, want invalid", bad, err)
		}
	}
}

func TestHoldValidate(t *testing.T) {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	ok := vigil.Hold{IncidentID: 1, Reason: "court order", Until: now.Add(time.Hour)}
	if err := ok.Validate(now); err != nil {
		t.Fatal(err)
	}
	if !ok.Active(now) || ok.Active(now.Add(time.Hour)) {
		t.Errorf("active before and at its end: %v %v", ok.Active(now), ok.Active(now.Add(time.Hour)))
	}
	bad := ok
	bad.Reason = "line\u202eoverride"
	if err := bad.Validate(now); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Errorf("reason with a bidi override: %v", err)
	}
}

func FuzzParseRetentionPolicy(f *testing.F) {
	for _, s := range []string{"12", "12,ncmec=12,eu=6", "eu=1", ",,", "=", "999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := vigil.ParseRetentionPolicy(s)
		if err != nil {
			return
		}
		again, err := vigil.ParseRetentionPolicy(p.String())
		if err != nil || again.String() != p.String() {
			t.Fatalf("%q: round trip of %q: %q, %v", s, p.String(), again.String(), err)
		}
	})
}
