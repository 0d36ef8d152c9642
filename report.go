package vigil

import (
	"context"
	"time"
)

// Audit action of a submission's start.
const AuditReportSubmit = "report.submit"

// SubmissionState is where the sending of one incident to one destination
// is.
type SubmissionState string

// Submission states. A submission is pending until the destination has
// the report (submitted), then finished; a failure the destination gives
// for what was sent (a schema refusal, say) retracts an unfinished report
// and leaves the submission failed. Stuck is a crash in the middle of
// asking for a report: the destination may or may not have made one, and
// only a person can tell, so nothing more is sent rather than risk a
// duplicate.
const (
	SubmissionPending   SubmissionState = "pending"
	SubmissionSubmitted SubmissionState = "submitted"
	SubmissionFinished  SubmissionState = "finished"
	SubmissionRetracted SubmissionState = "retracted"
	SubmissionFailed    SubmissionState = "failed"
	SubmissionStuck     SubmissionState = "stuck"
)

// Finished reports whether s is final: nothing more is sent.
func (s SubmissionState) Finished() bool {
	return s == SubmissionFinished || s == SubmissionFailed || s == SubmissionStuck
}

// SubmissionFile is one file of a submission and how far its sending got.
type SubmissionFile struct {
	CaseID   int64  `json:"case_id"`
	FileID   string `json:"file_id,omitempty"` // the destination's id, once uploaded
	Hash     string `json:"hash,omitempty"`    // the destination's hash of what it received
	InfoSent bool   `json:"info_sent,omitempty"`
}

// SubmissionAttempt is one request to the destination and its reply.
// Started is stored before the request is sent and the rest with the
// reply, so a crash in between leaves an attempt without a reply: the
// request may or may not have arrived.
type SubmissionAttempt struct {
	Step         string    `json:"step"` // ncmec: submit, upload, fileinfo, finish, retract; dsa: statement; webhook: deliver
	CaseID       int64     `json:"case_id,omitempty"`
	Started      time.Time `json:"started"`
	Replied      bool      `json:"replied"`
	HTTPStatus   int       `json:"http_status,omitempty"`
	ResponseCode *int      `json:"response_code,omitempty"`
	Reply        string    `json:"reply,omitempty"` // the reply's body, bounded
	Error        string    `json:"error,omitempty"`
}

// Limits on what a submission stores of replies.
const (
	MaxSubmissionReply    = 16 << 10
	MaxSubmissionAttempts = 1000
)

// SubmissionStatement is the receipt of one DSA statement of reasons the
// EU Transparency Database holds: its puid (the platform's id, which the
// database keeps unique) and the database's uuid and permalink.
type SubmissionStatement struct {
	CaseID    int64  `json:"case_id"`
	PUID      string `json:"puid"`
	UUID      string `json:"uuid,omitempty"`
	Permalink string `json:"permalink,omitempty"`
	// Existing says the database already held the puid: an earlier
	// attempt got through and its reply was lost.
	Existing bool `json:"existing,omitempty"`
}

// Submission is the sending of one approved incident to one destination:
// its progress and every attempt with the destination's reply.
type Submission struct {
	ID          int64                 `json:"id"`
	IncidentID  int64                 `json:"incident_id"`
	Destination string                `json:"destination"` // "ncmec", "dsa", "webhook"
	State       SubmissionState       `json:"state"`
	ReportID    int64                 `json:"report_id,omitempty"` // the destination's id of the report
	Files       []SubmissionFile      `json:"files,omitempty"`
	Statements  []SubmissionStatement `json:"statements,omitempty"` // dsa: one receipt per statement
	// IdempotencyKey is sent with every attempt of a delivery that has
	// no id of its own (the webhook), for the receiver to drop repeats.
	IdempotencyKey string              `json:"idempotency_key,omitempty"`
	Attempts       []SubmissionAttempt `json:"attempts,omitempty"`
	// Error says why a failed or stuck submission stopped.
	Error     string    `json:"error,omitempty"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SubmissionService stores submissions.
type SubmissionService interface {
	// CreateSubmission starts sending an incident to a destination:
	// ECONFLICT unless the incident is approved, or if it already has a
	// submission to that destination that has not failed (one report per
	// incident and destination).
	CreateSubmission(ctx context.Context, s *Submission) error
	FindSubmission(ctx context.Context, id int64) (*Submission, error)
	// IncidentSubmissions returns an incident's submissions, oldest first.
	IncidentSubmissions(ctx context.Context, incidentID int64) ([]*Submission, error)
	// UpdateSubmission reads the submission, lets fn change it and stores
	// the result, in one transaction; an error from fn aborts it.
	UpdateSubmission(ctx context.Context, id int64, fn func(s *Submission) error) (*Submission, error)
}

// SubmissionQueue runs submissions in the background, durably: a queued
// submission is sent after a restart, retried with backoff while its
// destination is away.
type SubmissionQueue interface {
	// QueueSubmission queues the sending of submission id; queueing one
	// already queued does nothing.
	QueueSubmission(ctx context.Context, id int64) error
}
