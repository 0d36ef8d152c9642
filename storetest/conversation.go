package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestConversationService checks storing, updating, concurrent appends and
// retention of conversation state.
func TestConversationService(t *testing.T, open Opener) {
	ctx := context.Background()
	t.Run("CreateUpdateFind", func(t *testing.T) {
		s := open(t)
		clock := NewClock()
		s.SetNow(clock.Now)
		c, err := s.Conversations.UpdateConversation(ctx, "chat-1", time.Hour, func(c *vigil.Conversation) error {
			if c.Messages != 0 || c.State != nil {
				t.Errorf("new conversation not empty: %+v", c)
			}
			c.State, c.Risk, c.Messages, c.Score = json.RawMessage(`{"n":1}`), json.RawMessage(`{"score":0.1}`), 1, 0.1
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !c.ExpiresAt.Equal(clock.Now().Add(time.Hour)) {
			t.Errorf("expires %v", c.ExpiresAt)
		}
		clock.Advance(time.Minute)
		if _, err := s.Conversations.UpdateConversation(ctx, "chat-1", time.Hour, func(c *vigil.Conversation) error {
			if string(c.State) != `{"n":1}` || c.Messages != 1 {
				t.Errorf("stored state not handed back: %+v", c)
			}
			c.State, c.Messages, c.Flagged = json.RawMessage(`{"n":2}`), 2, true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Conversations.FindConversation(ctx, "chat-1")
		if err != nil {
			t.Fatal(err)
		}
		if string(got.State) != `{"n":2}` || got.Messages != 2 || !got.Flagged || !got.UpdatedAt.After(got.CreatedAt) {
			t.Errorf("find: %+v", got)
		}
		if _, err := s.Conversations.FindConversation(ctx, "nope"); vigil.ErrorCode(err) != vigil.ENOTFOUND {
			t.Errorf("unknown conversation: %v", err)
		}
		// An error from fn stores nothing.
		boom := errors.New("boom")
		if _, err := s.Conversations.UpdateConversation(ctx, "chat-1", time.Hour, func(c *vigil.Conversation) error {
			c.Messages = 99
			return boom
		}); !errors.Is(err, boom) {
			t.Errorf("fn error: %v", err)
		}
		if got, _ := s.Conversations.FindConversation(ctx, "chat-1"); got.Messages != 2 {
			t.Errorf("failed update stored: %+v", got)
		}
		for _, bad := range []string{"", string(make([]byte, vigil.MaxConversationIDLen+1)), "a\nb"} {
			if _, err := s.Conversations.UpdateConversation(ctx, bad, time.Hour, func(*vigil.Conversation) error { return nil }); vigil.ErrorCode(err) != vigil.EINVALID {
				t.Errorf("id %q: %v", bad, err)
			}
		}
	})
	t.Run("Retention", func(t *testing.T) {
		s := open(t)
		clock := NewClock()
		s.SetNow(clock.Now)
		for _, id := range []string{"short", "long"} {
			ret := time.Hour
			if id == "long" {
				ret = 48 * time.Hour
			}
			if _, err := s.Conversations.UpdateConversation(ctx, id, ret, func(c *vigil.Conversation) error { c.Messages = 1; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		clock.Advance(2 * time.Hour)
		if _, err := s.Conversations.FindConversation(ctx, "short"); vigil.ErrorCode(err) != vigil.ENOTFOUND {
			t.Errorf("expired conversation found: %v", err)
		}
		// An append after expiry starts afresh.
		if _, err := s.Conversations.UpdateConversation(ctx, "short", time.Hour, func(c *vigil.Conversation) error {
			if c.Messages != 0 {
				t.Errorf("expired state handed back: %+v", c)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(2 * time.Hour)
		n, err := s.Conversations.DeleteExpiredConversations(ctx)
		if err != nil || n != 1 {
			t.Fatalf("purge: %d %v", n, err)
		}
		if _, err := s.Conversations.FindConversation(ctx, "long"); err != nil {
			t.Errorf("unexpired conversation purged: %v", err)
		}
	})
	t.Run("ConcurrentAppends", func(t *testing.T) {
		s := open(t)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 10 {
					if _, err := s.Conversations.UpdateConversation(ctx, "busy", time.Hour, func(c *vigil.Conversation) error {
						c.Messages++
						return nil
					}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if c, err := s.Conversations.FindConversation(ctx, "busy"); err != nil || c.Messages != 80 {
			t.Fatalf("after 80 concurrent appends: %+v %v", c, err)
		}
	})
}
