package postgres

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// ConversationService implements vigil.ConversationService on PostgreSQL,
// with the SQL of package sqlstore.
type ConversationService struct{ *conversationService }

type conversationService = sqlstore.ConversationService

// NewConversationService returns a ConversationService on db.
func NewConversationService(db *DB) *ConversationService {
	return &ConversationService{sqlstore.NewConversationService(db.shared())}
}

var _ vigil.ConversationService = (*ConversationService)(nil)
