package vigil

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Audit actions of complaints.
const (
	AuditComplaintCreate = "complaint.create"
	AuditComplaintDecide = "complaint.decide"
)

// Case event kinds of complaints, in the original case's history.
const (
	CaseEventComplaint        = "complaint"         // a user complained about the action
	CaseEventComplaintDecided = "complaint.decided" // upheld or rejected, with reasons
)

// ComplaintState is where a complaint is.
type ComplaintState string

// Complaint states: open until a reviewer upholds (the action was wrong
// and is reversed) or rejects it.
const (
	ComplaintOpen     ComplaintState = "open"
	ComplaintUpheld   ComplaintState = "upheld"
	ComplaintRejected ComplaintState = "rejected"
)

// Limits on complaints: the user's text and the reviewer's reasons are
// shown whole.
const (
	MaxComplaintTextLen    = 4000 // characters
	MaxComplaintReasonsLen = 4000
	MaxComplaintReference  = 500
)

// Complaint is a user's complaint about an action on their content,
// forwarded by the platform (Art 20 DSA; the CSA Regulation proposal's
// right of redress), and its outcome.
type Complaint struct {
	ID     int64 `json:"id"`
	CaseID int64 `json:"case_id"`
	// Reference is what the platform gave to name the action: a case id
	// ("case:12" or "12") or a statement of reasons' puid
	// ("PREFIX-incident-3-case-12", or "PREFIX-case-12" from a notice).
	Reference string         `json:"reference"`
	UserID    string         `json:"user_id,omitempty"`
	Text      string         `json:"text"`
	State     ComplaintState `json:"state"`
	Reasons   string         `json:"reasons,omitempty"`
	CreatedBy string         `json:"created_by"`
	CreatedAt time.Time      `json:"created_at"`
	DecidedBy string         `json:"decided_by,omitempty"`
	DecidedAt *time.Time     `json:"decided_at,omitempty"`
	// OriginalDecider is who made the decision complained about: the
	// complaint must be decided by someone else. Empty for an automatic
	// action that no reviewer has decided: nobody did, so any reviewer
	// may judge the complaint.
	OriginalDecider string `json:"original_decider,omitempty"`
}

// Age is how long the complaint has waited at now (open), or waited until
// it was decided.
func (c *Complaint) Age(now time.Time) time.Duration {
	if c.DecidedAt != nil {
		return c.DecidedAt.Sub(c.CreatedAt)
	}
	return now.Sub(c.CreatedAt)
}

var statementCase = regexp.MustCompile(`-case-([0-9]{1,18})$`)

// ParseComplaintReference returns the case a reference names: "case:N",
// "N", or a statement of reasons' puid ending in "-case-N".
func ParseComplaintReference(ref string) (int64, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" || len(ref) > MaxComplaintReference || !Printable(ref) {
		return 0, Errorf(EINVALID, "a complaint's reference must be 1 to %d printable bytes", MaxComplaintReference)
	}
	s := strings.TrimPrefix(ref, "case:")
	if m := statementCase.FindStringSubmatch(ref); m != nil {
		s = m[1]
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, Errorf(EINVALID, "reference %q names no case: want case:ID or a statement id ending -case-ID", ref)
	}
	return id, nil
}

// Validate returns an EINVALID error if a new complaint cannot be stored:
// it sets CaseID from Reference.
func (c *Complaint) Validate() error {
	id, err := ParseComplaintReference(c.Reference)
	if err != nil {
		return err
	}
	c.CaseID = id
	if strings.TrimSpace(c.Text) == "" || !utf8.ValidString(c.Text) || utf8.RuneCountInString(c.Text) > MaxComplaintTextLen {
		return Errorf(EINVALID, "a complaint's text must be UTF-8 of 1 to %d characters", MaxComplaintTextLen)
	}
	if len(c.UserID) > MaxEntryFieldLen || !Printable(c.UserID) {
		return Errorf(EINVALID, "complaint user_id must be at most %d printable bytes", MaxEntryFieldLen)
	}
	return nil
}

// ComplaintDecision is a reviewer's outcome of a complaint.
type ComplaintDecision struct {
	Upheld    bool   `json:"upheld"`
	Reasons   string `json:"reasons"`
	DecidedBy string `json:"-"`
}

// Validate returns an EINVALID error unless d has reasons and a reviewer.
func (d *ComplaintDecision) Validate() error {
	if strings.TrimSpace(d.Reasons) == "" || !utf8.ValidString(d.Reasons) || utf8.RuneCountInString(d.Reasons) > MaxComplaintReasonsLen {
		return Errorf(EINVALID, "a complaint's outcome needs reasons: UTF-8 of 1 to %d characters", MaxComplaintReasonsLen)
	}
	if d.DecidedBy == "" || len(d.DecidedBy) > MaxEntryFieldLen {
		return Errorf(EINVALID, "a complaint's outcome must say who decided it")
	}
	return nil
}

// ReviewerName is who a decision's actor is, without the key id: the
// API records deciders as KeyActor ("key:ID:NAME"), a UI session as the
// same key's actor, so two keys of one person share the name.
func ReviewerName(actor string) string {
	if rest, ok := strings.CutPrefix(actor, "key:"); ok {
		if _, name, ok := strings.Cut(rest, ":"); ok {
			return name
		}
	}
	return actor
}

// SameReviewer reports whether two actors are the same reviewer.
func SameReviewer(a, b string) bool { return a == b || ReviewerName(a) == ReviewerName(b) }

// ComplaintFilter selects complaints for a list, in id order after
// AfterID.
type ComplaintFilter struct {
	State   ComplaintState // "" for all
	CaseID  int64
	AfterID int64
	Limit   int // 0 means DefaultCaseLimit; above MaxCaseLimit lowered to it
}

// ComplaintService stores complaints and their outcomes.
type ComplaintService interface {
	// CreateComplaint stores an open complaint about the case its
	// reference names, with a "complaint" event in the case's history.
	// ENOTFOUND for an unknown case; ECONFLICT unless the case was
	// decided confirmed or had an automatic action recorded on it
	// (NoticeService.RecordAutoAction; only an action can be complained
	// about), or if an open complaint about it exists already.
	CreateComplaint(ctx context.Context, c *Complaint, actor string) error
	FindComplaint(ctx context.Context, id int64) (*Complaint, error)
	ListComplaints(ctx context.Context, f ComplaintFilter) ([]*Complaint, error)
	// DecideComplaint records the outcome of an open complaint (ECONFLICT
	// otherwise), refused with EFORBIDDEN when d.DecidedBy made the
	// original decision. Upheld, the case's confirmation is counted as a
	// false positive against its entries (moved, not added: the store's
	// decision counting, in the same transaction), its standing verdict
	// becomes false_positive and its history shows the outcome. Upheld
	// about an automatic action no reviewer confirmed, nothing is counted
	// (no verdict stands to move; the case's own review counts when it is
	// decided); the reversal is due all the same.
	DecideComplaint(ctx context.Context, id int64, d ComplaintDecision) (*Complaint, error)
}

// ComplaintAuditTarget names a complaint in the audit log.
func ComplaintAuditTarget(id int64) string { return fmt.Sprintf("complaint:%d", id) }
