package sqlite

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// ContentItemService implements vigil.ContentItemService on SQLite,
// with the SQL of package sqlstore.
type ContentItemService struct{ *contentItemService }

type contentItemService = sqlstore.ContentItemService

// NewContentItemService returns a ContentItemService on db.
func NewContentItemService(db *DB) *ContentItemService {
	return &ContentItemService{sqlstore.NewContentItemService(db.shared())}
}

var _ vigil.ContentItemService = (*ContentItemService)(nil)
