package vigil

import (
	"context"
	"time"
)

// LookupDayLayout is the form of LookupCount.Day: a UTC date.
const LookupDayLayout = "2006-01-02"

// LookupDay returns the UTC day t falls on, as LookupCount.Day.
func LookupDay(t time.Time) string { return t.UTC().Format(LookupDayLayout) }

// LookupCount is how many signals one key looked up (POST /v1/lookup) on
// one UTC day.
type LookupCount struct {
	KeyID   int64  `json:"key_id"`
	Day     string `json:"day"` // LookupDayLayout
	Lookups int64  `json:"lookups"`
}

// LookupCounter keeps the per-key daily lookup counts that daily quotas
// are checked against and transparency figures are made of. Every
// replica adds its own counts, in batches, to the one total per key and
// day.
type LookupCounter interface {
	// AddLookups adds each count to its key's total for its day, all in
	// one transaction, and returns the totals after, in the same order.
	// EINVALID for a malformed day or a negative count.
	AddLookups(ctx context.Context, counts []LookupCount) ([]LookupCount, error)

	// LookupCounts returns the totals of the days from through to (both
	// included, LookupDayLayout), by day then key; keyID 0 means every
	// key.
	LookupCounts(ctx context.Context, from, to string, keyID int64) ([]LookupCount, error)
}

// ValidateLookupDay returns an EINVALID error unless day is a date in
// LookupDayLayout.
func ValidateLookupDay(day string) error {
	if t, err := time.Parse(LookupDayLayout, day); err != nil || t.Format(LookupDayLayout) != day {
		return Errorf(EINVALID, "day must be YYYY-MM-DD, got %q", day)
	}
	return nil
}
