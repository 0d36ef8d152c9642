package vigil

import (
	"context"
	"encoding/json"
	"time"
)

// Event types delivered to webhooks.
const (
	EventJobCompleted     = "job.completed"     // a background job finished (its result inline)
	EventRetroactiveMatch = "match.retroactive" // content seen before matched a new bank entry
	EventRuleMatched      = "rule.matched"      // a rule's webhook action fired
)

// Event is one notification to a platform. Data is the event's payload.
type Event struct {
	ID   string          `json:"id"` // unique per event, for the receiver to drop duplicate deliveries
	Type string          `json:"type"`
	Time time.Time       `json:"time"`
	Data json.RawMessage `json:"data"`
}

// Notifier delivers events to the platform's webhooks: durably (the event
// is stored before Notify returns), signed with HMAC-SHA256 and retried
// with backoff until the receiver accepts it or the retries run out.
type Notifier interface {
	// Notify queues ev for delivery to the named webhook. ENOTFOUND for a
	// webhook that is not configured.
	Notify(ctx context.Context, webhook string, ev Event) error
}
