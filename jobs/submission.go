package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/vigil-oss/vigil"
)

const kindSubmission = "vigil_submission"

// DefaultSubmissionMaxAttempts is how often a submission is tried while
// its destination is away: with River's attempt⁴ backoff, about two days.
const DefaultSubmissionMaxAttempts = 25

// submissionTimeout bounds one attempt: a report with its files.
const submissionTimeout = 10 * time.Minute

// submissionArgs names the submission to send; its progress is in the
// store, so a retried or rescued job resumes where the last one stopped.
type submissionArgs struct {
	SubmissionID int64 `json:"submission_id"`
}

func (submissionArgs) Kind() string { return kindSubmission }

// SubmissionHook advances a submission: report.Submitter.Run.
type SubmissionHook func(ctx context.Context, id int64) error

// OnSubmission sets fn to send queued submissions. Call before Start.
func (c *Client) OnSubmission(fn SubmissionHook) { c.onSubmission = fn }

var _ vigil.SubmissionQueue = (*Client)(nil)

// QueueSubmission implements vigil.SubmissionQueue.
func (c *Client) QueueSubmission(ctx context.Context, id int64) error {
	_, err := c.river.Insert(ctx, submissionArgs{SubmissionID: id}, &river.InsertOpts{
		MaxAttempts: DefaultSubmissionMaxAttempts,
		// One job per submission: two workers on one report would each
		// upload its files.
		UniqueOpts: river.UniqueOpts{ByArgs: true},
	})
	if err != nil {
		return fmt.Errorf("queue submission %d: %w", id, err)
	}
	return nil
}

type submissionWorker struct {
	river.WorkerDefaults[submissionArgs]
	c *Client
}

func (w *submissionWorker) Timeout(*river.Job[submissionArgs]) time.Duration {
	return min(submissionTimeout, w.c.cfg.ContentTimeout)
}

func (w *submissionWorker) Work(ctx context.Context, job *river.Job[submissionArgs]) error {
	if w.c.onSubmission == nil {
		return river.JobSnooze(time.Minute)
	}
	err := w.c.onSubmission(ctx, job.Args.SubmissionID)
	if err == nil {
		return nil
	}
	w.c.logger.Error("submission", "job", job.ID, "attempt", job.Attempt, "submission", job.Args.SubmissionID, "err", err)
	if code := vigil.ErrorCode(err); code != vigil.EUNAVAILABLE && code != vigil.EINTERNAL {
		return river.JobCancel(errors.New(vigil.ErrorMessage(err)))
	}
	return err
}
