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

	// BeatReplica records that the replica named replica is alive at now
	// (its clock) and returns how many replicas, itself included, beat
	// within live before now: the replicas a key's rate limit is shared
	// among. Replicas silent for much longer are forgotten. EINVALID for
	// an empty or overlong name or a live that is not positive.
	BeatReplica(ctx context.Context, replica string, now time.Time, live time.Duration) (int, error)

	// ForgetReplica deletes replica's beat: a replica that stops is not
	// counted by the others from their next beat. Nothing for an unknown
	// replica.
	ForgetReplica(ctx context.Context, replica string) error
}

// MaxReplicaName bounds the name a replica beats under.
const MaxReplicaName = 64

// ReplicaForget is how many live windows a replica may stay silent
// before BeatReplica deletes its row.
const ReplicaForget = 100

// ValidateReplicaBeat returns an EINVALID error unless replica and live
// are as BeatReplica needs them.
func ValidateReplicaBeat(replica string, live time.Duration) error {
	if replica == "" || len(replica) > MaxReplicaName {
		return Errorf(EINVALID, "replica name must be 1 to %d bytes, got %d", MaxReplicaName, len(replica))
	}
	if live <= 0 || live > 24*time.Hour {
		return Errorf(EINVALID, "live window must be positive and at most a day, got %s", live)
	}
	return nil
}

// ValidateLookupDay returns an EINVALID error unless day is a date in
// LookupDayLayout.
func ValidateLookupDay(day string) error {
	if t, err := time.Parse(LookupDayLayout, day); err != nil || t.Format(LookupDayLayout) != day {
		return Errorf(EINVALID, "day must be YYYY-MM-DD, got %q", day)
	}
	return nil
}
