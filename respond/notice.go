package respond

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/report"
)

// Notices tells the platform, through its notice webhook, when it may
// notify a user of an action on their content (vigil.EventUserNotice, with
// the statement of reasons) and when an upheld complaint asks it to undo
// one (vigil.EventActionReversed). What is due comes from the store
// (vigil.NoticeService.DueNotices: the delay, legal holds and reports
// under way), so a notice held back goes out on the first pass after the
// silence ends, and nothing is lost to a restart. Each event has a stable
// id and is recorded as sent after the notifier has it durably: a crash in
// between sends it again with the same id, which the receiver drops.
type Notices struct {
	Store    vigil.NoticeService
	Notifier vigil.Notifier
	Webhook  string
	// Delay is how long after a confirmed decision the notice waits; 0
	// means vigil.DefaultNoticeDelay.
	Delay time.Duration
	// DSA renders the statement of reasons each notice carries; nil: the
	// notice carries none.
	DSA    *report.DSAConfig
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now
}

// noticeBatch is how many notices one pass sends at most.
const noticeBatch = 100

// noticeContent is what a notice says of the content: the platform's ids
// and the digest, never the media store's id.
type noticeContent struct {
	ContentID string `json:"content_id,omitempty"`
	UserID    string `json:"user_id,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	MediaType string `json:"media_type,omitempty"`
	// ConversationID is set for a conversation case.
	ConversationID string `json:"conversation_id,omitempty"`
}

// noticeEvent is the data of a user.notice or action.reversed event.
type noticeEvent struct {
	CaseID      int64                `json:"case_id"`
	ComplaintID int64                `json:"complaint_id,omitempty"`
	Content     noticeContent        `json:"content"`
	DecidedAt   *time.Time           `json:"decided_at,omitempty"`
	Statement   *report.DSAStatement `json:"statement,omitempty"`
	// Auto is the automatic action a notice is about (then decided_at is
	// when it was taken).
	Auto    *vigil.AutoAction `json:"auto,omitempty"`
	Reasons string            `json:"reasons,omitempty"`
}

func (n *Notices) logger() *slog.Logger {
	if n.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return n.Logger
}

func (n *Notices) now() time.Time {
	if n.Now == nil {
		return time.Now().UTC()
	}
	return n.Now().UTC()
}

// Run sends what is due every interval until ctx ends.
func (n *Notices) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if sent, err := n.SendDue(ctx); err != nil {
			n.logger().Error("send notices", "err", err)
		} else if sent > 0 {
			n.logger().Info("notices sent", "count", sent)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SendDue sends the notices due now, in batches until none is left or
// one fails, and returns how many it sent.
func (n *Notices) SendDue(ctx context.Context) (int, error) {
	delay := n.Delay
	if delay <= 0 {
		delay = vigil.DefaultNoticeDelay
	}
	sent := 0
	for {
		due, err := n.Store.DueNotices(ctx, n.now(), delay, noticeBatch)
		if err != nil {
			return sent, err
		}
		for _, nt := range due {
			if err := n.send(ctx, nt); err != nil {
				return sent, err
			}
			sent++
		}
		if len(due) < noticeBatch {
			return sent, nil
		}
	}
}

func (n *Notices) send(ctx context.Context, nt *vigil.Notice) error {
	c := nt.Case
	data := noticeEvent{CaseID: c.ID, Content: noticeContent{ContentID: c.Content.ContentID, UserID: c.Content.UserID,
		SHA256: c.Content.SHA256, MediaType: c.Content.MediaType}}
	if c.Conversation != nil {
		data.Content.ConversationID, data.Content.UserID = c.Conversation.ConversationID, c.Conversation.Suspect
	}
	typ := vigil.EventUserNotice
	switch nt.Kind {
	case vigil.NoticeKindReversal:
		typ = vigil.EventActionReversed
		data.ComplaintID = nt.ComplaintID
		if nt.Complaint != nil {
			data.Reasons, data.DecidedAt = nt.Complaint.Reasons, nt.Complaint.DecidedAt
		}
	default:
		if nt.Auto != nil {
			at := nt.Auto.TakenAt
			data.DecidedAt, data.Auto = &at, nt.Auto
		} else if c.Decision != nil {
			at := c.Decision.DecidedAt
			data.DecidedAt = &at
		}
		if n.DSA != nil {
			st, err := statement(c, nt.Auto, *n.DSA)
			if err != nil {
				// The platform is told all the same: the statement is the
				// deployment's to fix, the notice the user's right.
				n.logger().Error("statement of reasons for notice", "case", c.ID, "err", err)
			} else {
				data.Statement = st
			}
		}
	}
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	id := nt.EventID()
	if err := n.Notifier.Notify(ctx, n.Webhook, vigil.Event{ID: id, Type: typ, Time: n.now(), Data: b}); err != nil {
		return fmt.Errorf("notify %s of case %d: %w", nt.Kind, c.ID, err)
	}
	if err := n.Store.MarkNoticeSent(ctx, nt, id); err != nil && vigil.ErrorCode(err) != vigil.ECONFLICT {
		// Queued but not recorded: the next pass queues it again under the
		// same id, which the receiver drops.
		return err
	}
	return nil
}

// Statement renders the DSA statement of reasons of one confirmed case,
// through the same rendering as an incident's (report.RenderDSA), with
// the puid PREFIX-case-ID that a complaint can name.
func Statement(c *vigil.Case, cfg report.DSAConfig) (*report.DSAStatement, error) {
	return statement(c, nil, cfg)
}

// statement is Statement, of the automatic action auto when it is set.
func statement(c *vigil.Case, auto *vigil.AutoAction, cfg report.DSAConfig) (*report.DSAStatement, error) {
	one := *c
	if auto != nil {
		// The rule's action is the decision the statement is about (an
		// incident is made of decided cases); the case itself is
		// untouched.
		one.Decision = &vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "rule:" + auto.Rule, DecidedAt: auto.TakenAt}
	}
	if one.Content.UserID == "" && (one.Conversation == nil || one.Conversation.Suspect == "") {
		// RenderDSA's incident wants a reported user; the statement
		// carries none, so any name serves.
		one.Content.UserID = "unnamed"
	}
	inc, err := vigil.NewIncident([]*vigil.Case{&one})
	if err != nil {
		return nil, err
	}
	applied := c.UpdatedAt
	if c.Decision != nil {
		applied = c.Decision.DecidedAt
	}
	var sts []report.DSAStatement
	if auto != nil {
		sts, err = report.RenderDSAAutomated(inc, cfg, auto.TakenAt, auto.Actions)
	} else {
		sts, err = report.RenderDSA(inc, nil, cfg, applied)
	}
	if err != nil {
		return nil, err
	}
	if len(sts) != 1 {
		return nil, fmt.Errorf("statement of case %d: %d statements", c.ID, len(sts))
	}
	st := sts[0]
	st.PUID = fmt.Sprintf("%s-case-%d", cfg.PUIDPrefix, c.ID)
	if err := st.Validate(); err != nil {
		return nil, err
	}
	return &st, nil
}
