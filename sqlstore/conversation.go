package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-oss/vigil"
)

// Ensure ConversationService implements the interface.
var _ vigil.ConversationService = (*ConversationService)(nil)

// ConversationService stores conversation scoring state.
type ConversationService struct {
	db DB
}

// NewConversationService returns a ConversationService on db.
func NewConversationService(db DB) *ConversationService {
	return &ConversationService{db: db}
}

const conversationColumns = `id, state, risk, messages, score, flagged, created_at, updated_at, expires_at`

func scanConversation(row Scanner) (*vigil.Conversation, error) {
	var c vigil.Conversation
	var created, updated, expires string
	if err := row.Scan(&c.ID, &c.State, &c.Risk, &c.Messages, &c.Score, &c.Flagged, &created, &updated, &expires); err != nil {
		return nil, err
	}
	var err error
	if c.CreatedAt, err = ParseTime(created); err != nil {
		return nil, err
	}
	if c.UpdatedAt, err = ParseTime(updated); err != nil {
		return nil, err
	}
	if c.ExpiresAt, err = ParseTime(expires); err != nil {
		return nil, err
	}
	return &c, nil
}

// UpdateConversation implements vigil.ConversationService.
func (s *ConversationService) UpdateConversation(ctx context.Context, id string, retention time.Duration, fn func(c *vigil.Conversation) error) (*vigil.Conversation, error) {
	if err := vigil.ValidateConversationID(id); err != nil {
		return nil, err
	}
	if retention <= 0 {
		return nil, vigil.Errorf(vigil.EINVALID, "conversation retention must be positive")
	}
	var out *vigil.Conversation
	err := s.db.Write(ctx, func(tx Querier) error {
		now := s.db.Now()
		c, err := scanConversation(tx.QueryRowContext(ctx, `SELECT `+conversationColumns+` FROM conversations WHERE id = ?`, id))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			c = &vigil.Conversation{ID: id, CreatedAt: now}
		case err != nil:
			return err
		case !now.Before(c.ExpiresAt):
			// Expired but not yet purged: start afresh, as if deleted.
			c = &vigil.Conversation{ID: id, CreatedAt: now}
		}
		if err := fn(c); err != nil {
			return err
		}
		c.ID, c.UpdatedAt, c.ExpiresAt = id, now, now.Add(retention)
		if c.State == nil {
			c.State = []byte("null")
		}
		if c.Risk == nil {
			c.Risk = []byte("null")
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO conversations (`+conversationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET state = excluded.state, risk = excluded.risk,
				messages = excluded.messages, score = excluded.score, flagged = excluded.flagged,
				created_at = excluded.created_at, updated_at = excluded.updated_at, expires_at = excluded.expires_at`,
			c.ID, []byte(c.State), []byte(c.Risk), c.Messages, c.Score, c.Flagged,
			FormatTime(c.CreatedAt), FormatTime(c.UpdatedAt), FormatTime(c.ExpiresAt))
		out = c
		return err
	})
	if err != nil {
		if vigil.ErrorCode(err) != vigil.EINTERNAL {
			return nil, err
		}
		return nil, fmt.Errorf("update conversation %q: %w", id, err)
	}
	return out, nil
}

// FindConversation implements vigil.ConversationService.
func (s *ConversationService) FindConversation(ctx context.Context, id string) (*vigil.Conversation, error) {
	c, err := scanConversation(s.db.Reader().QueryRowContext(ctx,
		`SELECT `+conversationColumns+` FROM conversations WHERE id = ? AND expires_at > ?`, id, FormatTime(s.db.Now())))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "conversation %q not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("find conversation %q: %w", id, err)
	}
	return c, nil
}

// DeleteExpiredConversations implements vigil.ConversationService.
func (s *ConversationService) DeleteExpiredConversations(ctx context.Context) (int, error) {
	var n int64
	err := s.db.Write(ctx, func(tx Querier) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM conversations WHERE expires_at <= ?`, FormatTime(s.db.Now()))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete expired conversations: %w", err)
	}
	return int(n), nil
}
