package sqlite

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// Ensure the services implement their interfaces.
var (
	_ vigil.FeedService         = (*FeedService)(nil)
	_ vigil.SubscriptionService = (*FeedService)(nil)
)

// FeedService stores published feeds and subscriptions in SQLite, with
// the SQL of package sqlstore; a batch's changes are applied one by one,
// with statements prepared once per batch (on the one writer's
// connection each is cheap).
type FeedService struct{ *feedService }

type feedService = sqlstore.FeedService

// NewFeedService returns a FeedService on db.
func NewFeedService(db *DB) *FeedService {
	return &FeedService{sqlstore.NewFeedService(db.shared(), nil)}
}
