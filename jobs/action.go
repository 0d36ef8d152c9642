package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/vigil-oss/vigil"
)

const kindAction = "vigil_action"

// actionArgs is a queued rule action (a case to open, an event to send)
// that failed when first tried.
type actionArgs struct {
	Action vigil.Action `json:"action"`
}

func (actionArgs) Kind() string { return kindAction }

// ActionHook carries out a queued action: respond.Service.Carry.
type ActionHook func(ctx context.Context, a *vigil.Action) error

// OnAction sets fn to carry out queued actions. Call before Start; actions
// queued without a hook wait until a process with one starts.
func (c *Client) OnAction(fn ActionHook) { c.onAction = fn }

var _ vigil.ActionQueue = (*Client)(nil)

// QueueAction implements vigil.ActionQueue: a is stored as a job, carried
// out in the background by the OnAction hook and retried with backoff
// while it fails for a passing reason.
func (c *Client) QueueAction(ctx context.Context, a *vigil.Action) error {
	if a.Kind != vigil.ActionKindOpenCase && a.Kind != vigil.ActionKindNotify {
		return vigil.Errorf(vigil.EINVALID, "unknown action kind %q", a.Kind)
	}
	// Unique by args: the same action queued twice (a retried job whose
	// action failed again) is carried out once.
	_, err := c.river.Insert(ctx, actionArgs{Action: *a}, &river.InsertOpts{
		MaxAttempts: c.cfg.ActionMaxAttempts,
		UniqueOpts:  river.UniqueOpts{ByArgs: true},
	})
	if err != nil {
		return fmt.Errorf("queue rule action: %w", err)
	}
	return nil
}

// actionWorker carries out queued actions.
type actionWorker struct {
	river.WorkerDefaults[actionArgs]
	c *Client
}

// Timeout bounds one attempt: opening a case or queueing a delivery waits
// at most for the store's writer.
func (w *actionWorker) Timeout(*river.Job[actionArgs]) time.Duration {
	return min(time.Minute, w.c.cfg.ContentTimeout)
}

func (w *actionWorker) Work(ctx context.Context, job *river.Job[actionArgs]) error {
	if w.c.onAction == nil {
		// A process that cannot act (a CLI with the jobs client open)
		// leaves the action for one that can, without spending an attempt.
		return river.JobSnooze(0)
	}
	err := w.c.onAction(ctx, &job.Args.Action)
	if err == nil {
		return nil
	}
	w.c.logger.Error("queued rule action", "job", job.ID, "attempt", job.Attempt, "rule", job.Args.Action.Rule,
		"kind", job.Args.Action.Kind, "err", err)
	if code := vigil.ErrorCode(err); code != vigil.EINTERNAL {
		// A deleted queue or webhook does not come back by retrying.
		return river.JobCancel(errors.New(vigil.ErrorMessage(err)))
	}
	return err
}
