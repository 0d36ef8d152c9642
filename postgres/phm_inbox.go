package postgres

import "github.com/vigil-oss/vigil"

// The PHM inbox is package sqlstore's SQL on PHMService. PostgreSQL keeps
// a deleted voucher's tuple until VACUUM reclaims it: it has no secure
// deletion, so an operator who wants the bytes gone sooner vacuums
// phm_inbox.
var _ vigil.PHMInbox = (*PHMService)(nil)
