package vigil

import (
	"context"
	"math"
	"time"
)

// MaxTransparencyPeriod bounds the period of one transparency report.
const MaxTransparencyPeriod = 5 * 366 * 24 * time.Hour

// Count is one figure of a breakdown: how many of Name.
type Count struct {
	Name string `json:"name"`
	N    int64  `json:"n"`
}

// Rate is how often review confirmed a detection: Confirmed of Decided,
// with its Wilson score interval at 95% (Low, High). With nothing decided
// the rate is unknown and Rate, Low and High are -1.
type Rate struct {
	Name           string  `json:"name"`
	Decided        int64   `json:"decided"`
	Confirmed      int64   `json:"confirmed"`
	FalsePositives int64   `json:"false_positives"`
	Rate           float64 `json:"confirmed_rate"`
	Low            float64 `json:"confirmed_rate_low"`
	High           float64 `json:"confirmed_rate_high"`
	// FalsePositiveRate is 1 - Rate, with interval 1-High to 1-Low.
	FalsePositiveRate float64 `json:"false_positive_rate"`
}

// NewRate returns the rate of confirmed among confirmed + false positives.
func NewRate(name string, confirmed, falsePositives int64) Rate {
	r := Rate{Name: name, Confirmed: confirmed, FalsePositives: falsePositives, Decided: confirmed + falsePositives,
		Rate: -1, Low: -1, High: -1, FalsePositiveRate: -1}
	if r.Decided > 0 {
		r.Rate = float64(confirmed) / float64(r.Decided)
		r.Low, r.High = Wilson(confirmed, r.Decided, 1.959963984540054)
		r.FalsePositiveRate = 1 - r.Rate
	}
	return r
}

// Wilson returns the Wilson score interval of k successes in n trials for
// the normal quantile z (1.96 for 95%): unlike the normal approximation,
// it stays within [0, 1] and is sound for small n and rates near 0 or 1,
// which is where error rates of good lists live.
func Wilson(k, n int64, z float64) (low, high float64) {
	if n <= 0 {
		return 0, 1
	}
	p := float64(k) / float64(n)
	nf := float64(n)
	z2 := z * z
	centre := (p + z2/(2*nf)) / (1 + z2/nf)
	half := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / (1 + z2/nf)
	return math.Max(0, centre-half), math.Min(1, centre+half)
}

// Durations summarises how long something took: N durations, their median
// and 90th percentile (nearest rank), in seconds. Zero N: no figures.
type Durations struct {
	N             int64   `json:"n"`
	MedianSeconds float64 `json:"median_seconds"`
	P90Seconds    float64 `json:"p90_seconds"`
}

// NearestRank returns the 0-based offset of the q-quantile (0 < q <= 1)
// of n ordered values by the nearest-rank method: ceil(q*n)-1.
func NearestRank(q float64, n int64) int64 {
	if n <= 0 {
		return 0
	}
	r := int64(math.Ceil(q*float64(n))) - 1
	return min(max(r, 0), n-1)
}

// SubmissionCount is how many reports went to a destination and how they
// ended.
type SubmissionCount struct {
	Destination string `json:"destination"`
	State       string `json:"state"`
	N           int64  `json:"n"`
}

// Transparency holds the figures a provider publishes for a period
// [From, To): what was checked, what matched, what review found and how
// often it was wrong, what was reported and how users' complaints ended.
type Transparency struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`

	// ItemsChecked counts items looked at, by kind (image, video, text,
	// conversation, signals), from the daily counters.
	ItemsChecked []Count `json:"items_checked"`
	// MatchesByBank and MatchesBySource count the entry matches of cases
	// opened in the period.
	MatchesByBank   []Count `json:"matches_by_bank"`
	MatchesBySource []Count `json:"matches_by_source"`
	// CasesOpened counts cases opened in the period by kind; CasesDecided
	// cases decided in it by standing verdict.
	CasesOpened  []Count `json:"cases_opened"`
	CasesDecided []Count `json:"cases_decided"`
	// RatesByBank and RatesBySource are the confirmed and false-positive
	// rates of the cases decided in the period, by the banks and entry
	// sources they matched (a case counts once per bank or source).
	RatesByBank   []Rate `json:"rates_by_bank"`
	RatesBySource []Rate `json:"rates_by_source"`
	// QuarantinedEntries counts entries quarantined now (at To, for a
	// period ending in the future).
	QuarantinedEntries int64 `json:"quarantined_entries"`
	// Incidents counts incidents created in the period; Submissions the
	// reports started in it, by destination and state.
	Incidents   int64             `json:"incidents"`
	Submissions []SubmissionCount `json:"submissions"`
	// Complaints counts complaints made in the period by state.
	Complaints []Count `json:"complaints"`
	// HostedLookups counts the signals other platforms looked up through
	// hosted lookups (lookup-role keys), by key ("key:ID"), from the daily
	// counts that quotas keep: a period covers the days it touches.
	HostedLookups []Count `json:"hosted_lookups"`
	// ToDecision is the time from a case's opening (the detection) to its
	// decision, for cases decided in the period; ToReport from the
	// earliest case of an incident to a finished submission of it, for
	// submissions finished in the period.
	ToDecision Durations `json:"detection_to_decision"`
	ToReport   Durations `json:"detection_to_report"`
	// Grooming is the conversation cases: opened in the period, and the
	// confirmed rate of those decided in it.
	GroomingDetections int64 `json:"grooming_detections"`
	Grooming           Rate  `json:"grooming"`
}

// ValidatePeriod returns an EINVALID error unless from is before to and
// the period is at most MaxTransparencyPeriod.
func ValidatePeriod(from, to time.Time) error {
	if from.IsZero() || to.IsZero() || !from.Before(to) {
		return Errorf(EINVALID, "a period needs from before to")
	}
	if to.Sub(from) > MaxTransparencyPeriod {
		return Errorf(EINVALID, "a period is at most %d days", int(MaxTransparencyPeriod.Hours()/24))
	}
	return nil
}

// ParsePeriodBound reads one end of a period: a day YYYY-MM-DD (UTC),
// which names its start, or with end set its whole day (the next
// midnight, the period's end being excluded); or an RFC 3339 time.
func ParsePeriodBound(s string, end bool) (time.Time, error) {
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			return d.AddDate(0, 0, 1), nil
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, Errorf(EINVALID, "want a day YYYY-MM-DD or an RFC 3339 time, got %q", s)
	}
	return t, nil
}

// TransparencyService computes the transparency figures from the store,
// with aggregate queries: nothing is loaded row by row.
type TransparencyService interface {
	Transparency(ctx context.Context, from, to time.Time) (*Transparency, error)
	// CountChecked adds to the items-checked counters of day (UTC), by
	// kind.
	CountChecked(ctx context.Context, day time.Time, counts map[string]int64) error
}
