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
	// Auto is set for the notice of an automatic action: the decision was
	// the rule's, not a reviewer's.
	Auto *AutoAction `json:"auto,omitempty"`
}

// AutoAction is an automatic action (a corroborated auto rule's block,
// suspend, …) taken on content, recorded on the case opened for it: that
// case is the action's durable reference, for its notice and for a
// complaint about it.
type AutoAction struct {
	CaseID  int64     `json:"case_id"`
	Rule    string    `json:"rule"`
	Actions []string  `json:"actions"`
	TakenAt time.Time `json:"taken_at"`
}

// MaxAutoActions bounds the actions recorded of one detection.
const MaxAutoActions = 16

// Validate returns an EINVALID error if a cannot be recorded.
func (a *AutoAction) Validate() error {
	if a.CaseID <= 0 || a.Rule == "" || len(a.Rule) > MaxEntryFieldLen || !Printable(a.Rule) || a.TakenAt.IsZero() {
		return Errorf(EINVALID, "an automatic action needs its case, rule and time")
	}
	if len(a.Actions) == 0 || len(a.Actions) > MaxAutoActions {
		return Errorf(EINVALID, "an automatic action records 1 to %d actions", MaxAutoActions)
	}
	for _, x := range a.Actions {
		if x == "" || len(x) > MaxEntryFieldLen || !Printable(x) {
			return Errorf(EINVALID, "automatic action names must be printable")
		}
	}
	return nil
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
	// a notice for each case with an automatic action taken at least
	// delay before now (Notice.Auto set), and for each other case decided
	// confirmed at least delay before now, that has had none, unless silence is asked for it (an active legal
	// hold on the case or its incident, or an incident of it not yet
	// purged whose report is not sent: a draft, an approved incident with
	// no finished submission, or a submission under way); and a reversal
	// for each upheld complaint that has had none, at once.
	DueNotices(ctx context.Context, now time.Time, delay time.Duration, limit int) ([]*Notice, error)
	// MarkNoticeSent records n as delivered under eventID: ECONFLICT if
	// it was already, so a notice is recorded once.
	MarkNoticeSent(ctx context.Context, n *Notice, eventID string) error
	// RecordAutoAction records an automatic action on its case, once: its
	// notice falls due at a.TakenAt, and a reviewer's later confirmation
	// of the case sends none of its own. Recording the same case again
	// changes nothing. ENOTFOUND for an unknown case.
	RecordAutoAction(ctx context.Context, a *AutoAction) error
}
