package postgres

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// NoticeService implements vigil.NoticeService on PostgreSQL, with the SQL
// of package sqlstore: the notices due to the platform, and those
// delivered.
type NoticeService struct{ *noticeService }

type noticeService = sqlstore.NoticeService

// NewNoticeService returns the notice store of db.
func NewNoticeService(db *DB) *NoticeService {
	return &NoticeService{sqlstore.NewNoticeService(db.shared())}
}

var _ vigil.NoticeService = (*NoticeService)(nil)
