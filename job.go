package vigil

import (
	"context"
	"encoding/json"
	"io"
	"time"
)

// JobState is where a background job is in its life.
type JobState string

// Job states. A job is queued, runs, and either completes or, after a
// failed attempt, waits in retrying for its next one; it fails for good
// when its attempts run out, and is cancelled when retrying cannot help.
const (
	JobQueued    JobState = "queued"
	JobRunning   JobState = "running"
	JobRetrying  JobState = "retrying"
	JobCompleted JobState = "completed"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
)

// Finished reports whether s is a final state.
func (s JobState) Finished() bool {
	return s == JobCompleted || s == JobFailed || s == JobCancelled
}

// Job kinds.
const (
	JobKindContent = "content" // hash uploaded content and match it
	JobKindWebhook = "webhook" // deliver one event to a webhook
	JobKindAction  = "action"  // retry a rule action that failed (see Action)
	// JobKindSubmission sends an incident to a centre (see Submission).
	JobKindSubmission = "submission"
	// JobKindCentreForward delivers a centre's forward to law enforcement.
	JobKindCentreForward = "centre_forward"
)

// Job is a durable background job: video and bulk work that does not fit
// in a request, and webhook deliveries.
type Job struct {
	ID          int64    `json:"id"`
	Kind        string   `json:"kind"`
	State       JobState `json:"state"`
	Attempts    int      `json:"attempts"`
	MaxAttempts int      `json:"max_attempts"`
	// Errors are the failures of past attempts, oldest first.
	Errors []string `json:"errors,omitempty"`
	// Result is the job's output once it has completed.
	Result        json.RawMessage `json:"result,omitempty"`
	ContentSHA256 string          `json:"content_sha256,omitempty"`
	Webhook       string          `json:"webhook,omitempty"`      // notified when the job finishes
	SubmittedBy   int64           `json:"submitted_by,omitempty"` // id of the API key that queued it
	CreatedAt     time.Time       `json:"created_at"`
	FinishedAt    *time.Time      `json:"finished_at,omitempty"`
}

// ContentJobOptions say what a content job does with the content.
type ContentJobOptions struct {
	Match MatchOptions
	// Webhook names the configured webhook to notify (EventJobCompleted)
	// when the job finishes; empty: none.
	Webhook string
	// SubmittedBy is the id of the API key that queues the job: only it
	// (and admins) may see the job's result.
	SubmittedBy int64
	// ContentID and UserID are the platform's ids for the content and its
	// uploader, carried into any case the job's matches open.
	ContentID, UserID string
}

// JobService runs background jobs.
type JobService interface {
	// SubmitContent spools the content read from r (bounded by the
	// hashing size limit: ETOOLARGE beyond it) and queues a job that
	// hashes and matches it. The spooled copy is deleted once the job has
	// finished. ENOTFOUND for a webhook that is not configured.
	SubmitContent(ctx context.Context, r io.Reader, opts ContentJobOptions) (*Job, error)
	// FindJob returns a job by id; ENOTFOUND if there is none (or it has
	// been cleaned up after its retention).
	FindJob(ctx context.Context, id int64) (*Job, error)
}
