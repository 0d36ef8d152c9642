package vigil

import (
	"context"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
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
	MaxCaseNoteLen  = 8192
	MaxCasePriority = 100
	// MaxCaseMatches and MaxCaseMessages bound a case's evidence, which is
	// stored and shown whole.
	MaxCaseMatches  = 1000
	MaxCaseMessages = 2000
	MaxCaseTextLen  = 64 << 10 // one message's text
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

// Validate returns an EINVALID error if q's fields cannot be stored.
func (q *Queue) Validate() error {
	if err := validateToken("queue name", q.Name); err != nil {
		return err
	}
	if len(q.Description) > MaxBankDescriptionLen {
		return Errorf(EINVALID, "queue description longer than %d bytes", MaxBankDescriptionLen)
	}
	for _, r := range q.Roles {
		if !r.Valid() {
			return Errorf(EINVALID, "queue role %q is not a role", r)
		}
	}
	return nil
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
	// GenerativeAI is set when the content declares, in its embedded
	// provenance, a generative source: shown to reviewers and carried into
	// the incident, never a decision.
	GenerativeAI *GenerativeAI `json:"generative_ai,omitempty"`
}

// CaseMessage is one message of a conversation under review, with the
// grooming indicators found in it.
type CaseMessage struct {
	Index   int    `json:"index"`
	Speaker string `json:"speaker"`
	Text    string `json:"text"`
	// Time is when the message was sent; zero, and absent from JSON
	// (omitempty does not omit a struct), when the platform did not say.
	Time       time.Time `json:"time,omitzero"`
	Indicators []string  `json:"indicators,omitempty"`
}

// CaseConversation is the evidence of a conversation case.
type CaseConversation struct {
	ConversationID string  `json:"conversation_id"`
	Score          float64 `json:"score"`
	Suspect        string  `json:"suspect,omitempty"`
	// Language, Languages and Unsupported are the risk's language fields:
	// a reviewer reads a Polish chat differently, and an unsupported one
	// was scored by lexicons that do not cover it.
	Language    string   `json:"language,omitempty"`
	Languages   []string `json:"languages,omitempty"`
	Unsupported bool     `json:"unsupported,omitempty"`
	// DisclosedBy is set when the conversation is a victim's disclosure
	// (someone telling a parent or helpline of a threat): the speaker is a
	// possible victim, never the user to report.
	DisclosedBy string `json:"disclosed_by,omitempty"`
	// Sextortion is set when the detector saw financial sextortion (a
	// threat with a payment demand, or a disclosure of one).
	Sextortion bool          `json:"sextortion,omitempty"`
	Messages   []CaseMessage `json:"messages"`
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
	Kind     string     `json:"kind"` // CaseKindMatch, CaseKindConversation or CaseKindClassifier
	State    CaseState  `json:"state"`
	Priority int        `json:"priority"` // 0 (lowest) to MaxCasePriority
	Rule     string     `json:"rule,omitempty"`
	Content  ContentRef `json:"content"`

	// Evidence: the matches (with provenance) for a match case, the
	// conversation for a conversation case.
	Matches      []Match           `json:"matches,omitempty"`
	Conversation *CaseConversation `json:"conversation,omitempty"`
	// Scores are what the classifiers said of the content (every label
	// they scored, not only the one a rule fired on): the evidence of a
	// classifier case, and context on a match case.
	Scores []ClassifierScore `json:"scores,omitempty"`

	AssignedTo  string    `json:"assigned_to,omitempty"`
	Decision    *Decision `json:"decision,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	RetainUntil time.Time `json:"retain_until"` // media and evidence are deleted after this

	// Key, if set, names the detection the case is for (the item and the
	// queue): OpenCase opens at most one case per key, so that acting on
	// one detection twice (a retried job, a resent request) cannot open a
	// second case. Internal: not shown through the API.
	Key string `json:"-"`
}

// Validate returns an EINVALID (or ETOOLARGE) error if c cannot be opened:
// a known kind with the evidence of its kind, a priority in range and
// short, printable text fields.
func (c *Case) Validate() error {
	if c.Queue == "" {
		return Errorf(EINVALID, "a case needs a queue")
	}
	switch c.Kind {
	case CaseKindMatch:
		if len(c.Matches) == 0 {
			return Errorf(EINVALID, "a match case needs matches")
		}
		if c.Conversation != nil {
			return Errorf(EINVALID, "a match case holds no conversation")
		}
	case CaseKindConversation:
		if c.Conversation == nil {
			return Errorf(EINVALID, "a conversation case needs the conversation")
		}
		if len(c.Scores) > 0 {
			return Errorf(EINVALID, "a conversation case holds no classifier scores")
		}
	case CaseKindClassifier:
		if len(c.Scores) == 0 {
			return Errorf(EINVALID, "a classifier case needs scores")
		}
		if c.Conversation != nil {
			return Errorf(EINVALID, "a classifier case holds no conversation")
		}
	default:
		return Errorf(EINVALID, "case kind must be %q, %q or %q", CaseKindMatch, CaseKindConversation, CaseKindClassifier)
	}
	if len(c.Scores) > MaxCaseScores {
		return Errorf(ETOOLARGE, "a case holds at most %d classifier scores", MaxCaseScores)
	}
	for i := range c.Scores {
		if err := c.Scores[i].Validate(); err != nil {
			return err
		}
	}
	if c.Priority < 0 || c.Priority > MaxCasePriority {
		return Errorf(EINVALID, "case priority must be 0 to %d", MaxCasePriority)
	}
	if len(c.Matches) > MaxCaseMatches {
		return Errorf(ETOOLARGE, "a case holds at most %d matches", MaxCaseMatches)
	}
	for _, f := range []struct{ name, v string }{
		{"rule", c.Rule},
		{"key", c.Key},
		{"sha256", c.Content.SHA256},
		{"media_type", c.Content.MediaType},
		{"media_id", c.Content.MediaID},
		{"content_id", c.Content.ContentID},
		{"user_id", c.Content.UserID},
	} {
		if len(f.v) > MaxEntryFieldLen || !Printable(f.v) {
			return Errorf(EINVALID, "case %s must be at most %d printable bytes", f.name, MaxEntryFieldLen)
		}
	}
	if g := c.Content.GenerativeAI; g != nil {
		if err := g.Validate(); err != nil {
			return err
		}
	}
	if cv := c.Conversation; cv != nil {
		if len(cv.Messages) > MaxCaseMessages {
			return Errorf(ETOOLARGE, "a case holds at most %d messages", MaxCaseMessages)
		}
		if len(cv.ConversationID) > MaxConversationIDLen || len(cv.Suspect) > MaxEntryFieldLen {
			return Errorf(EINVALID, "case conversation id or suspect too long")
		}
		for i, m := range cv.Messages {
			if len(m.Text) > MaxCaseTextLen || len(m.Speaker) > MaxEntryFieldLen || len(m.Indicators) > 64 {
				return Errorf(ETOOLARGE, "case message %d too large", i+1)
			}
		}
	}
	return nil
}

// Validate returns an EINVALID error if d cannot be recorded.
func (d *Decision) Validate() error {
	switch {
	case !d.Verdict.Valid():
		return Errorf(EINVALID, "verdict must be %q, %q or %q", VerdictConfirmed, VerdictFalsePositive, VerdictEscalate)
	case d.DecidedBy == "" || len(d.DecidedBy) > MaxEntryFieldLen:
		return Errorf(EINVALID, "a decision must say who made it")
	case len(d.Category) > MaxEntryFieldLen || !Printable(d.Category):
		return Errorf(EINVALID, "decision category must be at most %d printable bytes", MaxEntryFieldLen)
	case len(d.Notes) > MaxCaseNoteLen || !utf8.ValidString(d.Notes):
		return Errorf(EINVALID, "decision notes must be UTF-8 of at most %d bytes", MaxCaseNoteLen)
	}
	return nil
}

// Case event kinds, the case's history.
const (
	CaseEventOpened   = "opened"
	CaseEventAssigned = "assigned"
	CaseEventNote     = "note"
	CaseEventDecided  = "decided"
	CaseEventRevealed = "revealed" // a reviewer un-blurred the media
	CaseEventExpired  = "expired"  // retention ended; media deleted
	// CaseEventQuarantined records that the case (a decision on it, or its
	// opening) made the quarantine policy quarantine a bank entry.
	CaseEventQuarantined = "quarantined"
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

// CaseFilter selects cases for a list. Results are ordered by ID; page by
// passing the last ID seen as AfterID.
type CaseFilter struct {
	Queues     []string    // cases in any of these queues; empty: all
	States     []CaseState // any of these states; empty: all
	AssignedTo string
	AfterID    int64
	Limit      int // 0 means DefaultCaseLimit; values above MaxCaseLimit are lowered to it
}

// Page sizes for CaseFilter.Limit and CaseService.ExpiredCases. Cases
// carry their evidence, so pages are smaller than entry pages.
const (
	DefaultCaseLimit = 100
	MaxCaseLimit     = 1000
)

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
func (s *EntryStats) Precision() float64 { return precision(s.Confirmed, s.FalsePositives) }

// MaxEntryStatsIDs bounds the ids of one CaseService.EntryStats call.
const MaxEntryStatsIDs = 1000

// QueueStats is how much work a queue holds.
type QueueStats struct {
	Queue     string `json:"queue"`
	Open      int    `json:"open"`     // waiting, not assigned
	Assigned  int    `json:"assigned"` // waiting, assigned to a reviewer
	Escalated int    `json:"escalated"`
	Decided   int    `json:"decided"`
	// OldestWaiting is when the oldest open or assigned case opened; nil
	// when none waits.
	OldestWaiting *time.Time `json:"oldest_waiting,omitempty"`
}

// BankStats is what review has said about one bank's matches: the sums of
// its entries' EntryStats.
type BankStats struct {
	BankID         int64  `json:"bank_id"`
	Bank           string `json:"bank"`
	Confirmed      int    `json:"confirmed"`
	FalsePositives int    `json:"false_positives"`
	Matches        int    `json:"matches"`
	Quarantined    int    `json:"quarantined"` // entries quarantined now
}

// Precision is Confirmed / (Confirmed + FalsePositives), or -1 with no
// decisions yet.
func (s *BankStats) Precision() float64 { return precision(s.Confirmed, s.FalsePositives) }

func precision(confirmed, falsePositives int) float64 {
	n := confirmed + falsePositives
	if n == 0 {
		return -1
	}
	return float64(confirmed) / float64(n)
}

// QuarantinePolicy says when review statistics quarantine a bank entry
// automatically. The zero policy quarantines nothing; each trigger is off
// while its first field is zero.
//
// False positives: when a decision makes an entry's false positives reach
// MinFalsePositives and its precision is at or below MaxPrecision (so with
// MaxPrecision 0, only entries no reviewer has ever confirmed). After a
// curator releases the entry, only false positives counted since then
// reach MinFalsePositives.
//
// Spike: when a case opens and the distinct content the entry matched in
// cases of the last Window numbers at least SpikeMin (1 if unset) and more
// than SpikeFactor times its usual count per Window, which is the distinct
// content of its cases before the window spread over the time from the
// entry's addition to the window's start (at least one Window). A new entry
// has no usual count, so SpikeMin alone decides. After a release, only
// cases opened since then count towards a spike. Content is told apart by
// its SHA-256, so uploading one file again and again is one item: a spike
// is what a faulty entry that matches much different content looks like,
// and repeats must not let anyone switch detection of a file off.
type QuarantinePolicy struct {
	MinFalsePositives int           `json:"min_false_positives"`
	MaxPrecision      float64       `json:"max_precision"`
	SpikeFactor       float64       `json:"spike_factor"`
	SpikeMin          int           `json:"spike_min"`
	Window            time.Duration `json:"window"`
	// SpareConfirmed exempts from the spike trigger an entry that
	// reviewers have confirmed at least this many times with precision
	// above MaxPrecision: a surge of matches of known-bad material is
	// spread, not a faulty entry, and is when matching matters most. Zero
	// spares none.
	SpareConfirmed int `json:"spare_confirmed"`
}

// Validate returns an EINVALID error for a policy that cannot be applied.
func (p QuarantinePolicy) Validate() error {
	switch {
	case p.MinFalsePositives < 0:
		return Errorf(EINVALID, "quarantine policy: minimum false positives must not be negative")
	case p.MaxPrecision < 0 || p.MaxPrecision > 1 || math.IsNaN(p.MaxPrecision):
		return Errorf(EINVALID, "quarantine policy: maximum precision must be between 0 and 1")
	case p.SpikeFactor < 0 || math.IsNaN(p.SpikeFactor) || math.IsInf(p.SpikeFactor, 0):
		return Errorf(EINVALID, "quarantine policy: spike factor must not be negative")
	case p.SpareConfirmed < 0:
		return Errorf(EINVALID, "quarantine policy: confirmations that spare an entry must not be negative")
	case p.SpikeMin < 0:
		return Errorf(EINVALID, "quarantine policy: spike minimum must not be negative")
	case p.SpikeFactor > 0 && p.Window <= 0:
		return Errorf(EINVALID, "quarantine policy: a spike factor needs a positive window")
	}
	return nil
}

// FalsePositiveTrigger reports whether s (its false positives counted
// since the last release being sinceRelease) calls for quarantine, and if
// so why.
func (p QuarantinePolicy) FalsePositiveTrigger(s *EntryStats, sinceRelease int) (string, bool) {
	if p.MinFalsePositives <= 0 || sinceRelease < p.MinFalsePositives {
		return "", false
	}
	prec := s.Precision()
	if prec < 0 || prec > p.MaxPrecision {
		return "", false
	}
	return fmt.Sprintf("automatic: %d false positives, precision %.2f (policy: at least %d, at most %.2f)",
		s.FalsePositives, prec, p.MinFalsePositives, p.MaxPrecision), true
}

// SpikeTrigger reports whether an entry that matched recent distinct
// items of content in the last Window and older ones before it, over a history of span before the
// window, and review statistics s (nil if none), calls for quarantine,
// and if so why.
func (p QuarantinePolicy) SpikeTrigger(recent, older int, span time.Duration, s *EntryStats) (string, bool) {
	if p.SpikeFactor <= 0 || p.Window <= 0 || recent < max(p.SpikeMin, 1) {
		return "", false
	}
	if s != nil && p.SpareConfirmed > 0 && s.Confirmed >= p.SpareConfirmed && s.Precision() > p.MaxPrecision {
		return "", false
	}
	windows := max(float64(span)/float64(p.Window), 1)
	usual := float64(older) / windows
	if float64(recent) <= p.SpikeFactor*usual {
		return "", false
	}
	return fmt.Sprintf("automatic: %d distinct items in %s, usually %.1f (policy: more than %.1f times usual and at least %d)",
		recent, p.Window, usual, p.SpikeFactor, max(p.SpikeMin, 1)), true
}

// CaseService stores review queues, cases, their history and what the
// decisions say about bank entries.
type CaseService interface {
	CreateQueue(ctx context.Context, q *Queue) error
	FindQueue(ctx context.Context, name string) (*Queue, error)
	ListQueues(ctx context.Context) ([]*Queue, error)
	// QueueStats counts every queue's cases by state and gives the age of
	// its oldest waiting one, by queue name.
	QueueStats(ctx context.Context) ([]*QueueStats, error)

	// OpenCase stores c in state open with an "opened" event and counts a
	// match for every entry in c.Matches. It sets ID, State, CreatedAt and
	// UpdatedAt. ENOTFOUND for an unknown queue. If c has a Key and a
	// case with that key exists (its evidence not yet purged), OpenCase
	// stores and counts nothing and fills c with that case instead.
	OpenCase(ctx context.Context, c *Case, actor string) error
	FindCase(ctx context.Context, id int64) (*Case, error)
	// NextCase returns the case a reviewer should work next in a queue:
	// waiting (open, or assigned to reviewer), highest priority first,
	// then oldest. With after set to the case the reviewer is on, it
	// returns the one after it in that order, wrapping round to the first,
	// and never after itself. ENOTFOUND when nothing else waits.
	NextCase(ctx context.Context, queue, reviewer string, after int64) (*Case, error)
	ListCases(ctx context.Context, f CaseFilter) ([]*Case, error)
	AssignCase(ctx context.Context, id int64, to, actor string) (*Case, error)
	AddCaseEvent(ctx context.Context, ev *CaseEvent) error
	CaseHistory(ctx context.Context, id int64) ([]*CaseEvent, error)

	// DecideCase records d on the case (state decided, or escalated for
	// VerdictEscalate) and, for confirmed and false-positive verdicts,
	// counts it against every entry in the case's matches. ECONFLICT if
	// the case is already decided.
	DecideCase(ctx context.Context, id int64, d Decision) (*Case, error)

	// EntryStats returns the review statistics of the given entries, in
	// id order (all entries with any statistics, or quarantined, when ids
	// is empty). Unknown ids are left out; at most MaxEntryStatsIDs ids.
	EntryStats(ctx context.Context, ids []int64) ([]*EntryStats, error)
	// QuarantinedEntries returns a page of the review statistics of the
	// entries quarantined now, in id order after afterID: at most limit
	// (0 means DefaultEntryLimit; values above MaxEntryLimit are lowered
	// to it).
	QuarantinedEntries(ctx context.Context, afterID int64, limit int) ([]*EntryStats, error)
	// BankPrecision returns the review statistics of every bank that has
	// any, by bank id.
	BankPrecision(ctx context.Context) ([]*BankStats, error)
	// QuarantineEntry stops an entry matching and flags it for a curator;
	// ReleaseEntry undoes it. Both change the entry's change sequence, so a
	// matcher following EntriesChangedSince drops or re-adds it.
	// ENOTFOUND for an unknown entry; ECONFLICT to quarantine a retracted
	// or quarantined entry, or to release one that is not quarantined;
	// EINVALID without a reason.
	QuarantineEntry(ctx context.Context, id int64, reason string) error
	ReleaseEntry(ctx context.Context, id int64) error

	// ExpiredCases returns cases whose retention has ended and that still
	// hold evidence; PurgeCase deletes a case's evidence (matches,
	// conversation text, media id) and records an "expired" event.
	// Preservation overrides a case's own retention: a case in an
	// incident not yet purged, or under an active legal hold, is not
	// expired, and PurgeCase refuses it with ECONFLICT, checked in its
	// own transaction (see PreservationService).
	ExpiredCases(ctx context.Context, limit int) ([]*Case, error)
	PurgeCase(ctx context.Context, id int64) error
	// MediaInUse reports whether a case not yet purged holds the media
	// blob id, so that blobs no case holds (left by a crash between
	// storing media and opening its case) can be swept.
	MediaInUse(ctx context.Context, mediaID string) (bool, error)
}

// MediaStore keeps content for review, encrypted at rest. Each blob records
// the id of the key that sealed it, so keys can be rotated.
type MediaStore interface {
	Put(ctx context.Context, data []byte) (id string, err error)
	Get(ctx context.Context, id string) ([]byte, error)
	Delete(ctx context.Context, id string) error
}
