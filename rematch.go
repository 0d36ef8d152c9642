package vigil

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"
)

// SeenSignal is one signal of an item that was matched against the banks,
// kept (never the content itself) for a retention period, so that entries
// added to a bank later can be checked against content seen before.
type SeenSignal struct {
	ID            int64      `json:"id"`
	ContentSHA256 string     `json:"content_sha256"` // which item: the platform can look it up
	Type          SignalType `json:"type"`
	Value         string     `json:"value"`
	SeenAt        time.Time  `json:"seen_at"`
	ExpiresAt     time.Time  `json:"expires_at"`
}

// Rematch is a match found retroactively: an entry added to a bank after
// the content was seen.
type Rematch struct {
	ID            int64     `json:"id"`
	ContentSHA256 string    `json:"content_sha256"`
	Match         Match     `json:"match"`
	SeenAt        time.Time `json:"seen_at"`
	FoundAt       time.Time `json:"found_at"`
}

// SignalStore keeps the signals of seen content and the matches found for
// it later.
type SignalStore interface {
	// KeepSignals stores the signals of one item until now + retention
	// (extending the expiry of signals already kept).
	KeepSignals(ctx context.Context, contentSHA256 string, sigs []Signal, retention time.Duration) error
	// FindSeenSignals returns the unexpired kept signals of type t whose
	// value is one of values (canonical form).
	FindSeenSignals(ctx context.Context, t SignalType, values []string) ([]*SeenSignal, error)
	// ForEachSeenSignal calls fn for every unexpired kept signal of type t.
	ForEachSeenSignal(ctx context.Context, t SignalType, fn func(s *SeenSignal) error) error
	// AddRematches stores retroactive matches, setting their ID and FoundAt.
	AddRematches(ctx context.Context, rs []*Rematch) error
	// ListRematches returns up to limit retroactive matches after afterID.
	ListRematches(ctx context.Context, afterID int64, limit int) ([]*Rematch, error)
	// DeleteExpiredSignals deletes kept signals past their expiry.
	DeleteExpiredSignals(ctx context.Context) (int, error)
}

// KeepableSignals returns the signals worth keeping for retroactive
// matching: PDQ hashes of sufficient quality and exact digests, without
// their dihedral variants.
func KeepableSignals(sigs []Signal) []Signal {
	var out []Signal
	for _, sg := range sigs {
		switch sg.Type {
		case SignalPDQ:
			if sg.Quality == nil || *sg.Quality >= DefaultMinQuality {
				out = append(out, Signal{Type: sg.Type, Value: sg.Value})
			}
		case SignalMD5, SignalSHA1, SignalSHA256:
			if _, err := hex.DecodeString(sg.Value); err == nil {
				out = append(out, Signal{Type: sg.Type, Value: sg.Value})
			}
		}
	}
	return out
}

// KeepSeen stores the keepable signals of one item of content (see
// KeepableSignals) in store under the content's SHA-256, found among sigs,
// for retention. It does nothing without a store, a positive retention, a
// SHA-256 signal or anything worth keeping.
func KeepSeen(ctx context.Context, store SignalStore, sigs []Signal, retention time.Duration) error {
	if store == nil || retention <= 0 {
		return nil
	}
	var content string
	for _, sg := range sigs {
		if sg.Type == SignalSHA256 {
			content = sg.Value
		}
	}
	keep := KeepableSignals(sigs)
	if content == "" || len(keep) == 0 {
		return nil
	}
	if err := store.KeepSignals(ctx, content, keep, retention); err != nil {
		return fmt.Errorf("keep signals: %w", err)
	}
	return nil
}
