package vigil

import (
	"context"
	"encoding/json"
	"time"
)

// MaxConversationIDLen bounds a platform's conversation id.
const MaxConversationIDLen = 128

// Conversation is the stored scoring state of one conversation. The state
// is the grooming detector's own bounded, serialised form: the store keeps
// it opaque, and never the messages' text.
type Conversation struct {
	ID        string          `json:"id"`
	State     json.RawMessage `json:"-"`
	Risk      json.RawMessage `json:"-"` // the latest risk, as last returned; the API shows it beside the record
	Messages  int             `json:"messages"`
	Score     float64         `json:"score"`
	Flagged   bool            `json:"flagged"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	ExpiresAt time.Time       `json:"expires_at"`
}

// ValidateConversationID checks a platform's conversation id: 1 to
// MaxConversationIDLen printable characters.
func ValidateConversationID(id string) error {
	if id == "" || len(id) > MaxConversationIDLen || !Printable(id) {
		return Errorf(EINVALID, "conversation id must be 1 to %d printable characters", MaxConversationIDLen)
	}
	return nil
}

// ConversationService stores conversation scoring state with a retention
// period.
type ConversationService interface {
	// UpdateConversation reads the conversation (a zero Conversation with
	// only ID set if there is none), lets fn change it, and stores the
	// result with ExpiresAt = now + retention, all in one transaction so
	// that concurrent appends to one conversation do not lose messages.
	// An error from fn aborts the update and is returned.
	UpdateConversation(ctx context.Context, id string, retention time.Duration, fn func(c *Conversation) error) (*Conversation, error)
	// FindConversation returns a stored conversation, or ENOTFOUND (also
	// once it has expired).
	FindConversation(ctx context.Context, id string) (*Conversation, error)
	// DeleteExpiredConversations deletes conversations past their expiry
	// and returns how many.
	DeleteExpiredConversations(ctx context.Context) (int, error)
}
