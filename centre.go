package vigil

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"
)

// Centre mode: a Vigil instance that receives reports from registered
// providers (the EU Centre's role under the proposed CSA Regulation, or a
// national hotline's), triages them, and decides: forward to law
// enforcement, close as unfounded, or ask the provider for more.

// Audit actions of centre mode.
const (
	AuditCentreProviderAdd = "centre.provider.add"
	AuditCentreReceive     = "centre.receive"
	AuditCentreDecide      = "centre.decide"
	AuditCentreForward     = "centre.forward" // the delivery to law enforcement and its reply
	// AuditCentreForwardRetry: a reviewer queued a forward's delivery again.
	AuditCentreForwardRetry = "centre.forward.retry"
)

// Audit actions of a provider's key: revoked (its reports stay), and a
// revoked provider given a new key.
const (
	AuditCentreProviderRevoke    = "centre.provider.revoke"
	AuditCentreProviderReinstate = "centre.provider.reinstate"
)

// States of a forward's delivery (CentreReport.Forward). A forward is
// pending from the decision that makes it (in the decision's
// transaction) until the destination accepts it (delivered) or refuses
// it, or the job gives up (failed); a failed forward is queued again by
// POST /v1/centre/reports/{id}/forward, under the same key.
const (
	ForwardPending   = "pending"
	ForwardDelivered = "delivered"
	ForwardFailed    = "failed"
)

// MaxForwardAttempts bounds the attempts a forward stores: past it the
// forward fails rather than grow without end.
const MaxForwardAttempts = 200

// Formats a centre receives.
const (
	CentreFormatEU    = "eu"    // the EU Centre rendering (report/ EU template, JSON)
	CentreFormatNCMEC = "ncmec" // CyberTipline XML: a <report> and its <fileDetails>
)

// CentreStatus is where a received report is.
type CentreStatus string

// Centre report states. A report is received (and triaged) until a centre
// reviewer decides; asking for more leaves it waiting for the provider's
// reply, which a resend under a new provider report id carries.
const (
	CentreReceived  CentreStatus = "received"
	CentreForwarded CentreStatus = "forwarded"
	CentreUnfounded CentreStatus = "unfounded"
	CentreMoreInfo  CentreStatus = "more_info"
)

// Valid reports whether s is a known status.
func (s CentreStatus) Valid() bool {
	switch s {
	case CentreReceived, CentreForwarded, CentreUnfounded, CentreMoreInfo:
		return true
	}
	return false
}

// Triage flags: reasons a report may be unfounded. A flagged report is
// queued like any other, lower; it is never dropped.
const (
	// FlagUnconfirmedMatch: a file the provider says a hash list matched,
	// whose hashes none of the centre's banks holds.
	FlagUnconfirmedMatch = "unconfirmed_match"
	// FlagMissingHash: a file without any hash the centre can check.
	FlagMissingHash = "missing_hash"
	// FlagNoContent: neither a file nor a conversation to review.
	FlagNoContent = "no_content"
)

// Limits on what a centre stores of a report.
const (
	MaxCentreReportBytes = 4 << 20 // a raw report as received
	MaxCentreFiles       = 1000
	MaxCentreText        = 4096 // reasons and messages
	MaxProviderReportID  = 200
)

// CentreProvider is a provider registered with the centre: its own
// identity and key. Only a hash of the key is stored. A revoked provider
// (RevokedAt set) can call nothing; its reports stay.
type CentreProvider struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Hint      string     `json:"hint"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Actor names a provider in stored records: "provider:ID:NAME".
func (p *CentreProvider) Actor() string { return fmt.Sprintf("provider:%d:%s", p.ID, p.Name) }

// RevokedError is the error a revoked provider's key gets: EFORBIDDEN,
// saying so (the caller holds the key, so this tells it nothing it could
// not guess) and what to do, unlike an unknown key's.
func (p *CentreProvider) RevokedError() error {
	when := ""
	if p.RevokedAt != nil {
		when = " on " + p.RevokedAt.UTC().Format(time.RFC3339)
	}
	return Errorf(EFORBIDDEN, "the key of provider %q was revoked by the centre%s: its reports and status requests are refused; ask the centre to reinstate it with a new key", p.Name, when)
}

// CentreFile is one file a report names, with what the provider claimed
// and what the centre's banks say.
type CentreFile struct {
	SHA256 string `json:"sha256,omitempty"`
	MD5    string `json:"md5,omitempty"`
	SHA1   string `json:"sha1,omitempty"`
	// PDQ are the PDQ hashes the provider names (CyberTipline's HASH
	// details: the listed hashes that matched).
	PDQ []string `json:"pdq,omitempty"`
	// ClaimedMatches is how many hash-list matches the provider reported.
	ClaimedMatches int `json:"claimed_matches"`
	// CentreMatches are the centre's own bank entries the file's hashes
	// hit: the confirmation of a claimed match, or known material a
	// provider did not know.
	CentreMatches []Match `json:"centre_matches,omitempty"`
}

// Signals returns the file's hashes as signals to look up.
func (f *CentreFile) Signals() []Signal {
	var s []Signal
	for _, h := range []struct {
		t SignalType
		v string
	}{{SignalSHA256, f.SHA256}, {SignalMD5, f.MD5}, {SignalSHA1, f.SHA1}} {
		if h.v != "" {
			s = append(s, Signal{Type: h.t, Value: h.v})
		}
	}
	for _, v := range f.PDQ {
		s = append(s, Signal{Type: SignalPDQ, Value: v})
	}
	return s
}

// CentreReport is a report as the centre received and triaged it.
type CentreReport struct {
	ID               int64  `json:"id"`
	ProviderID       int64  `json:"provider_id"`
	Provider         string `json:"provider"`
	ProviderReportID string `json:"provider_report_id"`
	Format           string `json:"format"`
	// Digest is the hex SHA-256 of the raw body, stored beside it.
	Digest string `json:"digest"`
	Raw    []byte `json:"-"`

	ProviderReference string       `json:"provider_reference,omitempty"`
	ReportedUser      string       `json:"reported_user,omitempty"`
	Files             []CentreFile `json:"files"`
	Conversations     int          `json:"conversations"`
	Urgent            bool         `json:"urgent,omitempty"`

	// Flags are triage's reasons to think the report unfounded.
	Flags []string `json:"flags"`
	// Duplicates are earlier reports sharing a file's SHA-256 or the
	// provider and reported user, oldest first: linked, never merged.
	Duplicates []int64 `json:"duplicates"`
	// Priority orders the reviewers' queue (0–100, highest first);
	// PriorityWhy lists what made it up (centre.Priority).
	Priority    int      `json:"priority"`
	PriorityWhy []string `json:"priority_why"`

	Status CentreStatus `json:"status"`
	// Reason is why a report was closed as unfounded; Message what the
	// centre asked the provider; both are shown to the provider.
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	// ForwardedTo names the law-enforcement destination; Forward is
	// where its delivery is (ForwardPending, ForwardDelivered,
	// ForwardFailed) and ForwardError the last attempt's error.
	ForwardedTo  string `json:"forwarded_to,omitempty"`
	Forward      string `json:"forward,omitempty"`
	ForwardError string `json:"forward_error,omitempty"`
	// ForwardKey is the delivery's idempotency key, made with the
	// decision and sent with every attempt, so that the destination files
	// a delivery repeated after a lost reply (or a crash) once.
	ForwardKey string `json:"forward_key,omitempty"`
	// ForwardAttempts are the delivery's requests, each stored before it
	// is sent and with the destination's reply after it: an attempt
	// without a reply may or may not have arrived.
	ForwardAttempts []SubmissionAttempt `json:"forward_attempts,omitempty"`
	// ForwardRetries counts the reviewers' retries of a failed forward:
	// each starts a new round of the delivery job.
	ForwardRetries int `json:"forward_retries,omitempty"`
	// Indicators are the centre bank entries made from this report's
	// confirmed new files (hashes only).
	Indicators []int64 `json:"indicators,omitempty"`

	ReceivedAt time.Time  `json:"received_at"`
	DecidedBy  string     `json:"decided_by,omitempty"`
	DecidedAt  *time.Time `json:"decided_at,omitempty"`

	// ProviderRevokedAt is set, on reading, when the provider's key has
	// been revoked since: the report stays, for the centre's reviewers to
	// weigh (a revoked provider may have been compromised or misused).
	ProviderRevokedAt *time.Time `json:"provider_revoked_at,omitempty"`
}

// HasFlag reports whether triage set flag.
func (r *CentreReport) HasFlag(flag string) bool {
	for _, f := range r.Flags {
		if f == flag {
			return true
		}
	}
	return false
}

// CentreAuditTarget names a centre report in the audit log.
func CentreAuditTarget(id int64) string { return fmt.Sprintf("centre_report:%d", id) }

// CentreFeedback is what a provider may see of its report: status and
// the centre's words, never the centre's triage.
type CentreFeedback struct {
	ID               int64        `json:"id"`
	ProviderReportID string       `json:"provider_report_id"`
	Status           CentreStatus `json:"status"`
	Reason           string       `json:"reason,omitempty"`
	Message          string       `json:"message,omitempty"`
	ReceivedAt       time.Time    `json:"received_at"`
	DecidedAt        *time.Time   `json:"decided_at,omitempty"`
}

// Feedback returns what r's provider may see.
func (r *CentreReport) Feedback() CentreFeedback {
	return CentreFeedback{ID: r.ID, ProviderReportID: r.ProviderReportID, Status: r.Status,
		Reason: r.Reason, Message: r.Message, ReceivedAt: r.ReceivedAt, DecidedAt: r.DecidedAt}
}

// CentreDecision is a centre reviewer's outcome for a report.
type CentreDecision struct {
	Status  CentreStatus `json:"status"` // forwarded, unfounded or more_info
	Reason  string       `json:"reason,omitempty"`
	Message string       `json:"message,omitempty"`
	// ForwardTo names the law-enforcement destination of a forward.
	ForwardTo string `json:"forward_to,omitempty"`
}

// Validate returns EINVALID for a decision that cannot be made.
func (d *CentreDecision) Validate() error {
	switch d.Status {
	case CentreForwarded:
		if d.ForwardTo == "" {
			return Errorf(EINVALID, "a forward names its destination")
		}
	case CentreUnfounded:
		if d.Reason == "" {
			return Errorf(EINVALID, "closing a report as unfounded needs a reason")
		}
	case CentreMoreInfo:
		if d.Message == "" {
			return Errorf(EINVALID, "asking the provider for more needs a message")
		}
	default:
		return Errorf(EINVALID, "a decision is forwarded, unfounded or more_info, not %q", d.Status)
	}
	for _, s := range []string{d.Reason, d.Message, d.ForwardTo} {
		if len(s) > MaxCentreText || !Printable(strings.NewReplacer("\n", " ", "\t", " ").Replace(s)) {
			return Errorf(EINVALID, "decision text must be at most %d bytes of printable UTF-8", MaxCentreText)
		}
	}
	return nil
}

// EarlierReport is an earlier report a new one may duplicate, and
// whether it is about the same user from the same provider (ongoing
// abuse) rather than (or besides) sharing a file.
type EarlierReport struct {
	ID       int64
	SameUser bool
}

// CentreFilter selects centre reports: by status and provider, a page in
// id order.
type CentreFilter struct {
	Status     CentreStatus
	ProviderID int64
	AfterID    int64
	Limit      int
}

// CentreService stores a centre's providers and the reports they send.
type CentreService interface {
	// CreateProvider registers a provider and returns its key's secret,
	// shown once. ECONFLICT for the name of another provider.
	CreateProvider(ctx context.Context, p *CentreProvider) (secret string, err error)
	// FindProviderBySecret returns the provider a key belongs to;
	// EUNAUTHORIZED for an unknown key, EFORBIDDEN (RevokedError) for a
	// revoked provider's.
	FindProviderBySecret(ctx context.Context, secret string) (*CentreProvider, error)
	ListProviders(ctx context.Context) ([]*CentreProvider, error)
	// RevokeProvider revokes the named provider's key, from the next
	// call on: FindProviderBySecret refuses it and ReceiveReport stores
	// nothing more from it. The reports it sent stay, each read with
	// ProviderRevokedAt. The pending audit record is written in the same
	// transaction. ENOTFOUND, ECONFLICT if it is revoked already.
	RevokeProvider(ctx context.Context, name, by string) (*CentreProvider, error)
	// ReinstateProvider gives a revoked provider a new key and returns its
	// secret, shown once; the revoked key stays refused (it is unknown
	// from now on). Audited like RevokeProvider. ENOTFOUND, ECONFLICT for
	// a provider that is not revoked.
	ReinstateProvider(ctx context.Context, name, by string) (p *CentreProvider, secret string, err error)

	// ReceiveReport stores a triaged report with its raw body. A report
	// whose provider and provider report id are already stored is not
	// stored again: the stored one is returned with created false (the
	// raw body of a resend is not compared; its digest is).
	ReceiveReport(ctx context.Context, r *CentreReport) (stored *CentreReport, created bool, err error)
	// FindCentreReport returns a report with its raw body.
	FindCentreReport(ctx context.Context, id int64) (*CentreReport, error)
	ListCentreReports(ctx context.Context, f CentreFilter) ([]*CentreReport, error)
	// NextCentreReport returns the received report to work next: the
	// highest priority, then the oldest. ENOTFOUND when none waits.
	NextCentreReport(ctx context.Context) (*CentreReport, error)
	// EarlierReports returns the reports, oldest first (at most 100),
	// that hold one of sha256s or come from the provider about
	// reportedUser: the candidates triage links as duplicates.
	EarlierReports(ctx context.Context, sha256s []string, providerID int64, reportedUser string) ([]EarlierReport, error)
	// DecideCentreReport records a decision on a received (or more_info)
	// report; ECONFLICT for one already forwarded or closed.
	DecideCentreReport(ctx context.Context, id int64, d CentreDecision, by string) (*CentreReport, error)
	// UpdateCentreForward reads forwarded report id, lets fn change its
	// delivery (ApplyCentreForward: the Forward fields and Indicators) and
	// stores it with the pending audit record, in one transaction; an
	// error from fn aborts it. ECONFLICT for a report not forwarded.
	UpdateCentreForward(ctx context.Context, id int64, fn func(r *CentreReport) error) (*CentreReport, error)
}

// CentreForwardQueue delivers forwards in the background, durably: a
// queued forward is delivered after a restart, retried with backoff while
// its destination is away.
type CentreForwardQueue interface {
	// QueueCentreForward queues the delivery of forwarded report id, its
	// retry-th round (CentreReport.ForwardRetries); queueing a round
	// already queued or running does nothing, so a round is one job, and
	// a reviewer's retry, a new round, is never lost to a job of the last
	// round that is still finishing.
	QueueCentreForward(ctx context.Context, id int64, retry int) error
}

// NewForwardKey returns a forward's idempotency key, from rand.
func NewForwardKey(rand io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("forward key: %w", err)
	}
	return "vigil-forward-" + hex.EncodeToString(b[:]), nil
}

// ApplyCentreForward lets fn change the delivery of forwarded report r:
// of what fn changes, only Forward, ForwardError, ForwardAttempts,
// ForwardRetries and Indicators are kept, so that nothing on the delivery's path can alter
// the decision. The one place a forward's delivery moves, for every store.
func ApplyCentreForward(r *CentreReport, fn func(*CentreReport) error) error {
	if r.Status != CentreForwarded {
		return Errorf(ECONFLICT, "centre report %d is %s, not forwarded", r.ID, r.Status)
	}
	c := *r
	c.ForwardAttempts = append([]SubmissionAttempt(nil), r.ForwardAttempts...)
	c.Indicators = append([]int64(nil), r.Indicators...)
	if err := fn(&c); err != nil {
		return err
	}
	switch c.Forward {
	case ForwardPending, ForwardDelivered, ForwardFailed:
	default:
		return Errorf(EINVALID, "forward state %q", c.Forward)
	}
	if len(c.ForwardAttempts) > MaxForwardAttempts {
		return Errorf(EINVALID, "a forward stores at most %d attempts", MaxForwardAttempts)
	}
	if len(c.ForwardError) > MaxCentreText {
		c.ForwardError = c.ForwardError[:MaxCentreText]
	}
	if c.ForwardRetries < r.ForwardRetries {
		return Errorf(EINVALID, "a forward's retries only grow")
	}
	r.Forward, r.ForwardError, r.ForwardAttempts, r.Indicators = c.Forward, c.ForwardError, c.ForwardAttempts, c.Indicators
	r.ForwardRetries = c.ForwardRetries
	return nil
}

// ApplyCentreDecision sets decision d on r, by whom and when: the one
// place the states of a centre report move, for every store. A report
// forwarded or closed is final (ECONFLICT); one the centre asked more of
// may be decided again once the provider answered. A forward is recorded
// pending with forwardKey (NewForwardKey) as its idempotency key, in the
// decision's own write, so that no forward is decided and then lost.
func ApplyCentreDecision(r *CentreReport, d CentreDecision, by string, now time.Time, forwardKey string) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if r.Status != CentreReceived && r.Status != CentreMoreInfo {
		return Errorf(ECONFLICT, "centre report %d is %s: it was decided", r.ID, r.Status)
	}
	if d.Status == CentreForwarded && forwardKey == "" {
		return Errorf(EINVALID, "a forward needs its idempotency key")
	}
	r.Status, r.DecidedBy, r.DecidedAt = d.Status, by, &now
	r.Reason, r.Message, r.ForwardedTo = d.Reason, d.Message, d.ForwardTo
	if d.Status == CentreForwarded {
		r.Forward, r.ForwardKey, r.ForwardError, r.ForwardAttempts, r.ForwardRetries = ForwardPending, forwardKey, "", nil, 0
	}
	return nil
}
