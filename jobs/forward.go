package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/vigil-oss/vigil"
)

const kindCentreForward = "vigil_centre_forward"

// DefaultForwardMaxAttempts is how often a centre's forward is tried
// while its law-enforcement destination is away: with River's attempt⁴
// backoff, about two days, as a submission.
const DefaultForwardMaxAttempts = DefaultSubmissionMaxAttempts

// forwardTimeout bounds one attempt: one signed POST of a report.
const forwardTimeout = 2 * time.Minute

// forwardArgs names the forwarded centre report to deliver; its attempts
// and key are in the store, so a retried or rescued job resumes there.
type forwardArgs struct {
	ReportID int64 `json:"centre_report_id"`
	// Retry is the round (vigil.CentreReport.ForwardRetries): one job a
	// round, each round its own job.
	Retry int `json:"retry,omitempty"`
}

func (forwardArgs) Kind() string { return kindCentreForward }

// ForwardHook delivers a forwarded centre report (centre.Outcome.Job);
// final says the job will not be retried after this attempt.
type ForwardHook func(ctx context.Context, id int64, final bool) error

// OnCentreForward sets fn to deliver queued forwards. Call before Start.
func (c *Client) OnCentreForward(fn ForwardHook) { c.onForward = fn }

var _ vigil.CentreForwardQueue = (*Client)(nil)

// forwardUnique makes one live job per report; unlike River's default it
// leaves out completed jobs, so that a forward that failed (a completed
// job) can be queued again when a reviewer asks.
var forwardUnique = river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{rivertype.JobStateAvailable,
	rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled}}

// QueueCentreForward implements vigil.CentreForwardQueue.
func (c *Client) QueueCentreForward(ctx context.Context, id int64, retry int) error {
	_, err := c.river.Insert(ctx, forwardArgs{ReportID: id, Retry: retry}, &river.InsertOpts{
		MaxAttempts: c.cfg.ForwardMaxAttempts,
		UniqueOpts:  forwardUnique,
	})
	if err != nil {
		return fmt.Errorf("queue centre forward %d: %w", id, err)
	}
	return nil
}

type forwardWorker struct {
	river.WorkerDefaults[forwardArgs]
	c *Client
}

func (w *forwardWorker) Timeout(*river.Job[forwardArgs]) time.Duration {
	return min(forwardTimeout, w.c.cfg.ContentTimeout)
}

func (w *forwardWorker) Work(ctx context.Context, job *river.Job[forwardArgs]) error {
	if w.c.onForward == nil {
		return river.JobSnooze(time.Minute)
	}
	err := w.c.onForward(ctx, job.Args.ReportID, job.Attempt >= job.MaxAttempts)
	if err == nil {
		return nil
	}
	w.c.logger.Error("centre forward", "job", job.ID, "attempt", job.Attempt, "centre_report", job.Args.ReportID, "err", err)
	if code := vigil.ErrorCode(err); code != vigil.EUNAVAILABLE && code != vigil.EINTERNAL {
		return river.JobCancel(errors.New(vigil.ErrorMessage(err)))
	}
	return err
}
