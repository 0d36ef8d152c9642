package vigil

import (
	"context"
	"time"
)

// Case kinds: what a case asks a reviewer to judge.
const (
	CaseKindMatch        = "match"        // content that matched bank entries
	CaseKindConversation = "conversation" // a conversation the grooming detector flagged
)

// CaseState is where a case is in review.
type CaseState string

// Case states. A case opens in a queue, may be assigned to a reviewer, and
// ends decided; "escalated" is a decision that hands the case on (to a
// senior reviewer or legal) and keeps it open in review terms.
const (
	CaseOpen      CaseState = "open"
	CaseAssigned  CaseState = "assigned"
	CaseDecided   CaseState = "decided"
	CaseEscalated CaseState = "escalated"
)

// Verdict is a reviewer's judgement of a case.
type Verdict string

// Verdicts.
const (
	VerdictConfirmed     Verdict = "confirmed"      // the detection was right
	VerdictFalsePositive Verdict = "false_positive" // it was not
	VerdictEscalate      Verdict = "escalate"       // needs someone more senior
)

// Valid reports whether v is a known verdict.
func (v Verdict) Valid() bool {
	switch v {
	case VerdictConfirmed, VerdictFalsePositive, VerdictEscalate:
		return true
	}
	return false
}

// Limits on case fields.
const (
	MaxQueueNameLen = 64
	MaxCaseNoteLen  = 8192
	MaxCasePriority = 100
)

// Queue is a named list of cases for review. Only keys whose role is in
// Roles (admin always) see and work the queue's cases.
type Queue struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"` // same alphabet as bank names
	Description string    `json:"description"`
	Roles       []Role    `json:"roles"`
	CreatedAt   time.Time `json:"created_at"`
}

// Allows reports whether a key with role r may see the queue's cases.
func (q *Queue) Allows(r Role) bool {
	if r == RoleAdmin {
		return true
	}
	for _, qr := range q.Roles {
		if qr == r {
			return true
		}
	}
	return false
}

// ContentRef says which piece of the platform's content a case is about.
// The content itself is not stored here: for review, media is kept in the
// encrypted media store under MediaID while the case is retained.
type ContentRef struct {
	SHA256    string `json:"sha256,omitempty"`
	MediaType string `json:"media_type,omitempty"` // e.g. image/jpeg, video/mp4
	MediaID   string `json:"media_id,omitempty"`   // blob in the media store; empty if none kept
	ContentID string `json:"content_id,omitempty"` // the platform's id for the content
	UserID    string `json:"user_id,omitempty"`    // the platform's id for the uploader
}

// CaseMessage is one message of a conversation under review, with the
// grooming indicators found in it.
type CaseMessage struct {
	Index      int       `json:"index"`
	Speaker    string    `json:"speaker"`
	Text       string    `json:"text"`
	Time       time.Time `json:"time,omitempty"`
	Indicators []string  `json:"indicators,omitempty"`
}

// CaseConversation is the evidence of a conversation case.
type CaseConversation struct {
	ConversationID string        `json:"conversation_id"`
	Score          float64       `json:"score"`
	Suspect        string        `json:"suspect,omitempty"`
	Messages       []CaseMessage `json:"messages"`
}

// Decision is a reviewer's judgement of a case.
type Decision struct {
	Verdict Verdict `json:"verdict"`
	// Category is the reviewer's classification, for example the industry
	// A1/A2/B1/B2 scheme; free text up to MaxEntryFieldLen.
	Category  string    `json:"category,omitempty"`
	Notes     string    `json:"notes,omitempty"`
	DecidedBy string    `json:"decided_by"`
	DecidedAt time.Time `json:"decided_at"`
}

// Case is one unit of human review.
type Case struct {
	ID       int64      `json:"id"`
	Queue    string     `json:"queue"`
	Kind     string     `json:"kind"` // CaseKindMatch or CaseKindConversation
	State    CaseState  `json:"state"`
	Priority int        `json:"priority"` // 0 (lowest) to MaxCasePriority
	Rule     string     `json:"rule,omitempty"`
	Content  ContentRef `json:"content"`

	// Evidence: the matches (with provenance) for a match case, the
	// conversation for a conversation case.
	Matches      []Match           `json:"matches,omitempty"`
	Conversation *CaseConversation `json:"conversation,omitempty"`

	AssignedTo  string    `json:"assigned_to,omitempty"`
	Decision    *Decision `json:"decision,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	RetainUntil time.Time `json:"retain_until"` // media and evidence are deleted after this
}

// Case event kinds, the case's history.
const (
	CaseEventOpened   = "opened"
	CaseEventAssigned = "assigned"
	CaseEventNote     = "note"
	CaseEventDecided  = "decided"
	CaseEventRevealed = "revealed" // a reviewer un-blurred the media
	CaseEventExpired  = "expired"  // retention ended; media deleted
)

// CaseEvent is one step in a case's history.
type CaseEvent struct {
	ID     int64     `json:"id"`
	CaseID int64     `json:"case_id"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Kind   string    `json:"kind"`
	Detail string    `json:"detail,omitempty"`
}

// CaseFilter selects cases for a list.
type CaseFilter struct {
	Queues     []string    // cases in any of these queues; empty: all
	States     []CaseState // any of these states; empty: all
	AssignedTo string
	AfterID    int64
	Limit      int
}

// EntryStats is what review has said about one bank entry's matches, for
// per-entry precision and quarantine.
type EntryStats struct {
	EntryID        int64      `json:"entry_id"`
	BankID         int64      `json:"bank_id"`
	Confirmed      int        `json:"confirmed"`
	FalsePositives int        `json:"false_positives"`
	Matches        int        `json:"matches"` // cases opened from this entry's matches
	QuarantinedAt  *time.Time `json:"quarantined_at,omitempty"`
	Quarantine     string     `json:"quarantine_reason,omitempty"`
}

// Precision is Confirmed / (Confirmed + FalsePositives), or -1 with no
// decisions yet.
func (s *EntryStats) Precision() float64 {
	n := s.Confirmed + s.FalsePositives
	if n == 0 {
		return -1
	}
	return float64(s.Confirmed) / float64(n)
}

// CaseService stores review queues, cases, their history and what the
// decisions say about bank entries.
type CaseService interface {
	CreateQueue(ctx context.Context, q *Queue) error
	FindQueue(ctx context.Context, name string) (*Queue, error)
	ListQueues(ctx context.Context) ([]*Queue, error)

	// OpenCase stores c in state open with an "opened" event and counts a
	// match for every entry in c.Matches. It sets ID, State, CreatedAt and
	// UpdatedAt. ENOTFOUND for an unknown queue.
	OpenCase(ctx context.Context, c *Case, actor string) error
	FindCase(ctx context.Context, id int64) (*Case, error)
	ListCases(ctx context.Context, f CaseFilter) ([]*Case, error)
	AssignCase(ctx context.Context, id int64, to, actor string) (*Case, error)
	AddCaseEvent(ctx context.Context, ev *CaseEvent) error
	CaseHistory(ctx context.Context, id int64) ([]*CaseEvent, error)

	// DecideCase records d on the case (state decided, or escalated for
	// VerdictEscalate) and, for confirmed and false-positive verdicts,
	// counts it against every entry in the case's matches. ECONFLICT if
	// the case is already decided.
	DecideCase(ctx context.Context, id int64, d Decision) (*Case, error)

	// EntryStats returns the review statistics of the given entries (all
	// entries with any when ids is empty).
	EntryStats(ctx context.Context, ids []int64) ([]*EntryStats, error)
	// QuarantineEntry stops an entry matching and flags it for a curator;
	// ReleaseEntry undoes it.
	QuarantineEntry(ctx context.Context, id int64, reason string) error
	ReleaseEntry(ctx context.Context, id int64) error

	// ExpiredCases returns cases whose retention has ended and that still
	// hold evidence; PurgeCase deletes a case's evidence (matches,
	// conversation text, media id) and records an "expired" event.
	ExpiredCases(ctx context.Context, limit int) ([]*Case, error)
	PurgeCase(ctx context.Context, id int64) error
}

// MediaStore keeps content for review, encrypted at rest. Each blob records
// the id of the key that sealed it, so keys can be rotated.
type MediaStore interface {
	Put(ctx context.Context, data []byte) (id string, err error)
	Get(ctx context.Context, id string) ([]byte, error)
	Delete(ctx context.Context, id string) error
}
