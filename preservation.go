package vigil

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Audit actions of preservation: legal holds and what retention purges.
const (
	AuditHoldCreate    = "hold.create"
	AuditHoldExtend    = "hold.extend"
	AuditHoldRelease   = "hold.release"
	AuditIncidentPurge = "incident.purge" // retention ended: the incident's evidence and what was sent deleted
	AuditCasePurge     = "case.purge"     // retention ended: a case's evidence and media deleted
	// AuditIncidentDiscard records a draft discarded when its lifetime
	// ended unapproved (RetentionPolicy.Drafts).
	AuditIncidentDiscard = "incident.discard"
)

// DefaultReportRetentionMonths is how long an incident, what was sent of
// it and its cases' evidence are kept after it was submitted, unless the
// deployment configures otherwise: one year, as 18 U.S.C. 2258A(h) asks
// since the REPORT Act (2024) and as the EU CSA Regulation proposal caps
// it (Art 22: no longer than 12 months from reporting).
const DefaultReportRetentionMonths = 12

// DefaultDraftRetention is how long a draft incident is kept unchanged
// before it is discarded, unless the deployment configures otherwise: 90
// days, the default retention of a case (respond.DefaultCaseRetention). A
// draft keeps its cases' evidence past their own retention; one nobody
// approved, edited or held for as long as an undecided report's evidence
// would have been kept serves no report, and the EU proposal (Art 22)
// allows keeping such data only for one.
const DefaultDraftRetention = 90 * 24 * time.Hour

// MaxDraftRetention bounds a configured draft lifetime.
const MaxDraftRetention = MaxRetentionMonths * 31 * 24 * time.Hour

// MaxRetentionMonths bounds a configured retention period, and
// MaxHoldPeriod how far ahead a legal hold may run before it is extended.
const (
	MaxRetentionMonths = 120
	MaxHoldPeriod      = 5 * 366 * 24 * time.Hour
)

// RetentionPolicy says how long what was reported is kept, by
// destination (a centre or jurisdiction: "ncmec", "eu", …). Periods are in
// calendar months after the submission finished, because the law counts
// them so; a month after January 31 is March 2 or 3, never earlier.
type RetentionPolicy struct {
	// DefaultMonths applies to destinations not in Destinations; 0 means
	// DefaultReportRetentionMonths.
	DefaultMonths int
	// Destinations are the periods of particular destinations.
	Destinations map[string]int
	// Drafts is how long a draft incident is kept after its last change
	// (created or edited) before it is discarded, unless it is held: 0
	// means DefaultDraftRetention. An approved incident is never
	// discarded, sent or not. String and ParseRetentionPolicy leave it
	// out: it is its own setting (vigil serve --draft-retention).
	Drafts time.Duration
}

// DraftLifetime returns how long a draft is kept after its last change.
func (p RetentionPolicy) DraftLifetime() time.Duration {
	if p.Drafts > 0 {
		return p.Drafts
	}
	return DefaultDraftRetention
}

// Months returns the retention period, in months, of a destination.
func (p RetentionPolicy) Months(destination string) int {
	if m, ok := p.Destinations[destination]; ok && m > 0 {
		return m
	}
	if p.DefaultMonths > 0 {
		return p.DefaultMonths
	}
	return DefaultReportRetentionMonths
}

// Validate returns an EINVALID error for a period out of 1 to
// MaxRetentionMonths months, or a destination without a name.
func (p RetentionPolicy) Validate() error {
	if p.DefaultMonths < 0 || p.DefaultMonths > MaxRetentionMonths {
		return Errorf(EINVALID, "default retention must be 1 to %d months", MaxRetentionMonths)
	}
	if p.Drafts < 0 || p.Drafts > 0 && p.Drafts < 24*time.Hour || p.Drafts > MaxDraftRetention {
		return Errorf(EINVALID, "a draft's lifetime must be 1 to %d days", int(MaxDraftRetention.Hours()/24))
	}
	for d, m := range p.Destinations {
		if d == "" || !Printable(d) || len(d) > MaxEntryFieldLen {
			return Errorf(EINVALID, "retention destination must be 1 to %d printable bytes", MaxEntryFieldLen)
		}
		if m < 1 || m > MaxRetentionMonths {
			return Errorf(EINVALID, "retention of %s must be 1 to %d months", d, MaxRetentionMonths)
		}
	}
	return nil
}

// String formats p as the --report-retention flag takes it:
// "12,ncmec=12,eu=12" (the default first, then destinations by name).
func (p RetentionPolicy) String() string {
	parts := []string{fmt.Sprint(p.Months(""))}
	names := make([]string, 0, len(p.Destinations))
	for d := range p.Destinations {
		names = append(names, d)
	}
	slices.Sort(names)
	for _, d := range names {
		parts = append(parts, fmt.Sprintf("%s=%d", d, p.Destinations[d]))
	}
	return strings.Join(parts, ",")
}

// RetainUntil returns until when an incident with the given submissions
// must be kept, and false while it must be kept with no end in sight: it
// was never sent (no submission finished), or a submission is under way
// or stuck (whether the destination has the report is not known). A
// finished submission keeps the incident for its destination's period
// after it finished; the latest of them counts. Failed submissions sent
// nothing that stays with the destination and count for nothing.
func (p RetentionPolicy) RetainUntil(subs []*Submission) (time.Time, bool) {
	var until time.Time
	for _, s := range subs {
		switch s.State {
		case SubmissionFailed:
			continue
		case SubmissionFinished:
			// UpdatedAt is the last step's: never before the destination
			// had the report, so counting from it never purges early.
			if t := s.UpdatedAt.UTC().AddDate(0, p.Months(s.Destination), 0); t.After(until) {
				until = t
			}
		default:
			return time.Time{}, false
		}
	}
	return until, !until.IsZero()
}

// Hold is a legal hold: a request (from an authority, a court, the
// platform's counsel) to keep an incident, or a case, and its evidence
// past their retention, until a time. A hold is extended by moving Until
// later and ends when released or when Until passes; retention then
// applies again.
type Hold struct {
	ID int64 `json:"id"`
	// IncidentID or CaseID (exactly one) names what is held. A held
	// incident keeps its cases too.
	IncidentID int64 `json:"incident_id,omitempty"`
	CaseID     int64 `json:"case_id,omitempty"`
	// Reason is why: the request and its reference.
	Reason string `json:"reason"`
	// RequestedBy is who asked (an authority, a court), as a person
	// recorded it; CreatedBy is who recorded it.
	RequestedBy string    `json:"requested_by,omitempty"`
	Until       time.Time `json:"until"`

	CreatedBy     string     `json:"created_by"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	ReleasedBy    string     `json:"released_by,omitempty"`
	ReleasedAt    *time.Time `json:"released_at,omitempty"`
	ReleaseReason string     `json:"release_reason,omitempty"`
}

// Active reports whether the hold keeps what it holds at now.
func (h *Hold) Active(now time.Time) bool { return h.ReleasedAt == nil && now.Before(h.Until) }

// Target names what the hold keeps in the audit log's terms.
func (h *Hold) Target() string {
	if h.IncidentID != 0 {
		return IncidentAuditTarget(h.IncidentID)
	}
	return fmt.Sprintf("case:%d", h.CaseID)
}

// MaxHoldReasonLen bounds a hold's reason and release reason.
const MaxHoldReasonLen = 1000

// validateHoldReason checks a reason: required, UTF-8, bounded.
func validateHoldReason(what, r string) error {
	if strings.TrimSpace(r) == "" || utf8.RuneCountInString(r) > MaxHoldReasonLen || !utf8.ValidString(r) || !Printable(r) {
		return Errorf(EINVALID, "%s must be 1 to %d printable characters", what, MaxHoldReasonLen)
	}
	return nil
}

// ValidateHoldUntil returns an EINVALID error unless until is after now
// and at most MaxHoldPeriod ahead of it.
func ValidateHoldUntil(until, now time.Time) error {
	if !until.After(now) {
		return Errorf(EINVALID, "a hold must run until a time in the future")
	}
	if until.Sub(now) > MaxHoldPeriod {
		return Errorf(EINVALID, "a hold runs at most %d days ahead; extend it later", int(MaxHoldPeriod.Hours()/24))
	}
	return nil
}

// Validate returns an EINVALID error if a new hold cannot be stored at
// now.
func (h *Hold) Validate(now time.Time) error {
	if (h.IncidentID == 0) == (h.CaseID == 0) {
		return Errorf(EINVALID, "a hold names exactly one of incident_id and case_id")
	}
	if h.IncidentID < 0 || h.CaseID < 0 {
		return Errorf(EINVALID, "a hold's incident or case id must be positive")
	}
	if err := validateHoldReason("hold reason", h.Reason); err != nil {
		return err
	}
	if len(h.RequestedBy) > MaxEntryFieldLen || !Printable(h.RequestedBy) {
		return Errorf(EINVALID, "hold requested_by must be at most %d printable bytes", MaxEntryFieldLen)
	}
	return ValidateHoldUntil(h.Until, now)
}

// ValidateReleaseReason checks why a hold is released.
func ValidateReleaseReason(r string) error { return validateHoldReason("release reason", r) }

// HoldFilter selects holds for a list, in id order after AfterID.
type HoldFilter struct {
	// Active, if set, keeps only holds active (or only inactive) now.
	Active     *bool
	IncidentID int64
	CaseID     int64
	AfterID    int64
	Limit      int // 0 means DefaultCaseLimit; above MaxCaseLimit lowered to it
}

// PreservationService keeps what was reported for its retention and
// legal holds, and purges incidents whose retention has ended.
//
// A case's evidence is purged by CaseService (ExpiredCases, PurgeCase),
// which consults preservation: a case in an incident not yet purged, or
// under an active hold (its own or its incident's), is not expired
// whatever its own retention says, and PurgeCase refuses it (ECONFLICT).
// Once an incident is purged, its cases follow at their own retention.
type PreservationService interface {
	// CreateHold stores a hold made by actor, setting ID, CreatedBy,
	// CreatedAt and UpdatedAt. ENOTFOUND for an unknown incident or case;
	// ECONFLICT if it was already purged (there is nothing left to keep).
	CreateHold(ctx context.Context, h *Hold, actor string) error
	FindHold(ctx context.Context, id int64) (*Hold, error)
	ListHolds(ctx context.Context, f HoldFilter) ([]*Hold, error)
	// ExtendHold moves an active hold's end to until, which must be later
	// than the current one (ECONFLICT if the hold is no longer active).
	ExtendHold(ctx context.Context, id int64, until time.Time, actor string) (*Hold, error)
	// ReleaseHold ends an active hold now (ECONFLICT if it is not active).
	ReleaseHold(ctx context.Context, id int64, reason, actor string) (*Hold, error)

	// ExpiredIncidents returns up to limit incidents past their retention
	// under p (RetentionPolicy.RetainUntil) and under no active hold, not
	// yet purged, in id order.
	ExpiredIncidents(ctx context.Context, p RetentionPolicy, limit int) ([]*Incident, error)
	// PurgeIncident deletes an expired incident's evidence (its files,
	// excerpts, victims and notes) and the attempts and replies of its
	// submissions, in one transaction that checks again it is expired
	// under p and not held (ECONFLICT otherwise). The incident keeps its
	// id, state, case ids, times and who approved it; its submissions
	// their destination, state and report id: what the transparency
	// figures count. The reported user's account facts are deleted too,
	// unless another incident not yet purged is about that user. Its
	// cases' evidence is then purged with theirs.
	PurgeIncident(ctx context.Context, id int64, p RetentionPolicy) error

	// StaleDrafts returns up to limit draft incidents unchanged for
	// longer than p.DraftLifetime(), never submitted, under no active hold
	// (their own or their cases') and not yet purged, in id order.
	StaleDrafts(ctx context.Context, p RetentionPolicy, limit int) ([]*Incident, error)
	// DiscardDraft deletes a stale draft's evidence and its users'
	// account facts as PurgeIncident does, in one transaction that checks
	// again it is a stale draft under p and not held (ECONFLICT
	// otherwise: an approved incident, sent or not, is never discarded).
	// Its cases leave it: never reported, they may be put in another
	// incident, and their own retention applies again.
	DiscardDraft(ctx context.Context, id int64, p RetentionPolicy) error
}

// HoldAuditTarget names a hold in the audit log.
func HoldAuditTarget(id int64) string { return fmt.Sprintf("hold:%d", id) }

// PurgedIncident returns what is kept of inc once its retention ended at
// now: its id, state, case ids, time and who made and approved it. Its
// files (hashes, matches, media ids), excerpts, reported user, victims,
// labels and notes are evidence and personal data, and go.
func PurgedIncident(inc *Incident, now time.Time) *Incident {
	return &Incident{
		ID: inc.ID, State: inc.State, CaseIDs: slices.Clone(inc.CaseIDs), Time: inc.Time,
		CreatedBy: inc.CreatedBy, CreatedAt: inc.CreatedAt, UpdatedAt: now,
		ApprovedBy: inc.ApprovedBy, ApprovedAt: inc.ApprovedAt, PurgedAt: &now,
	}
}

// PurgedSubmission returns what is kept of a submission once its
// incident's retention ended: where it went, how it ended and the
// destination's report id. The files' ids and every attempt with its
// reply go.
func PurgedSubmission(s *Submission) *Submission {
	return &Submission{
		ID: s.ID, IncidentID: s.IncidentID, Destination: s.Destination, State: s.State, ReportID: s.ReportID,
		Error: s.Error, CreatedBy: s.CreatedBy, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
}

// MaxRetentionSpec bounds the text ParseRetentionPolicy reads.
const MaxRetentionSpec = 4 << 10

// ParseRetentionPolicy reads a policy as RetentionPolicy.String writes
// it: comma-separated items, each MONTHS (the default) or
// DESTINATION=MONTHS, e.g. "12,ncmec=12,eu=12".
func ParseRetentionPolicy(s string) (RetentionPolicy, error) {
	var p RetentionPolicy
	if len(s) > MaxRetentionSpec {
		return p, Errorf(ETOOLARGE, "a retention policy is at most %d bytes", MaxRetentionSpec)
	}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		dest, months, named := strings.Cut(item, "=")
		if !named {
			dest, months = "", item
		}
		dest = strings.TrimSpace(dest)
		var m int
		if _, err := fmt.Sscanf(strings.TrimSpace(months), "%d", &m); err != nil || fmt.Sprint(m) != strings.TrimSpace(months) {
			return RetentionPolicy{}, Errorf(EINVALID, "retention %q: want MONTHS or DESTINATION=MONTHS", item)
		}
		if m < 1 || m > MaxRetentionMonths {
			return RetentionPolicy{}, Errorf(EINVALID, "retention %q: months must be 1 to %d", item, MaxRetentionMonths)
		}
		switch {
		case !named && p.DefaultMonths != 0:
			return RetentionPolicy{}, Errorf(EINVALID, "retention: the default is given twice")
		case !named:
			p.DefaultMonths = m
		case dest == "":
			return RetentionPolicy{}, Errorf(EINVALID, "retention %q: the destination has no name", item)
		default:
			if _, dup := p.Destinations[dest]; dup {
				return RetentionPolicy{}, Errorf(EINVALID, "retention of %s is given twice", dest)
			}
			if p.Destinations == nil {
				p.Destinations = map[string]int{}
			}
			p.Destinations[dest] = m
		}
	}
	return p, p.Validate()
}
