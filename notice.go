package vigil

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Event types of users' rights, delivered to the platform's notice
// webhook.
const (
	// EventUserNotice says the platform may now tell its user of the
	// action on their content, with the statement of reasons.
	EventUserNotice = "user.notice"
	// EventActionReversed says a complaint was upheld: the platform should
	// undo the action (restore the content, lift the restriction).
	EventActionReversed = "action.reversed"
)

// Kinds of notice.
const (
	NoticeKindNotice   = "notice"
	NoticeKindReversal = "reversal"
)

// DefaultNoticeDelay is how long after a confirmed decision the platform
// is told it may notify its user, unless configured otherwise: a day,
// for reviewers to build and approve an incident (whose report then asks
// for silence) before the user can learn of it.
const DefaultNoticeDelay = 24 * time.Hour

// MaxNoticeDelay bounds the configured delay.
const MaxNoticeDelay = 366 * 24 * time.Hour

// Notice is one event due to the platform about an action on a user's
// content: a notice that it may tell the user, or a reversal after an
// upheld complaint.
type Notice struct {
	Kind        string     `json:"kind"`
	Case        *Case      `json:"case"`
	Complaint   *Complaint `json:"complaint,omitempty"`
	ComplaintID int64      `json:"-"`
}

// EventID is the notice's event id: the same for every attempt, so that
// the platform drops a repeat after a crash between delivery and the
// record of it.
func (n *Notice) EventID() string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d", n.Kind, n.Case.ID, n.ComplaintID))
	return "ntc_" + hex.EncodeToString(sum[:16])
}

// NoticeService finds the notices due and records those delivered.
type NoticeService interface {
	// DueNotices returns up to limit notices due at now, oldest first:
	// a notice for each case decided confirmed at least delay before now
	// that has had none, unless silence is asked for it (an active legal
	// hold on the case or its incident, or an incident of it not yet
	// purged whose report is not sent: a draft, an approved incident with
	// no finished submission, or a submission under way); and a reversal
	// for each upheld complaint that has had none, at once.
	DueNotices(ctx context.Context, now time.Time, delay time.Duration, limit int) ([]*Notice, error)
	// MarkNoticeSent records n as delivered under eventID: ECONFLICT if
	// it was already, so a notice is recorded once.
	MarkNoticeSent(ctx context.Context, n *Notice, eventID string) error
}
