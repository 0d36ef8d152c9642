package report

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
)

// Destination names.
const (
	DestinationNCMEC   = "ncmec"   // NCMEC's CyberTipline (ISPWS)
	DestinationDSA     = "dsa"     // the EU DSA Transparency Database
	DestinationWebhook = "webhook" // a signed webhook of the deployment's choice
)

// Destination is somewhere approved incidents are sent: NCMEC, the EU
// Transparency Database, a signed webhook. The Submitter does what is the
// same for all (one submission per incident and destination, approval,
// rendering checked before anything starts, the job that retries); a
// destination renders an incident its way and sends it as steps, each
// step an attempt stored before its request and with its reply after
// (Steps.Attempt), so that Send, run again after a crash, can tell what
// the destination may already hold and never sends anything twice.
type Destination interface {
	// Name is the destination's name in submissions (DestinationNCMEC, …).
	Name() string
	// Render renders inc as it would be sent and validates it, sending
	// nothing: a rendering that is not Valid is never started. It is what
	// a dry run shows.
	Render(ctx context.Context, incidents vigil.IncidentService, inc *vigil.Incident) (*Rendering, error)
	// Send advances st's submission as far as it goes. It returns nil
	// once the submission is finished, failed or stuck (st.Stop), and an
	// error when a step failed for a reason that may pass (the
	// destination away, a timeout): the job runs it again later.
	Send(ctx context.Context, st *Steps) error
}

// Submitter sends approved incidents to their destinations: Start
// creates a submission after rendering and validating the incident, Run
// (the durable job's body) advances it from what is stored.
type Submitter struct {
	Incidents    vigil.IncidentService
	Submissions  vigil.SubmissionService
	Destinations []Destination
	Now          func() time.Time // nil: time.Now
	Logger       *slog.Logger     // nil: discard
}

func (s *Submitter) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func (s *Submitter) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Destination returns the destination called name: ENOTFOUND naming the
// ones configured when there is none.
func (s *Submitter) Destination(name string) (Destination, error) {
	var names []string
	for _, d := range s.Destinations {
		if d.Name() == name {
			return d, nil
		}
		names = append(names, d.Name())
	}
	if len(names) == 0 {
		return nil, vigil.Errorf(vigil.EUNSUPPORTED, "this server sends reports nowhere")
	}
	return nil, vigil.Errorf(vigil.ENOTFOUND, "no destination %q (this server sends to: %s)", name, joinNames(names))
}

func joinNames(names []string) string { return strings.Join(names, ", ") }

// DryRun renders and validates incident id for destination, as Start
// would, and sends nothing. An incident that is not approved is refused
// (ECONFLICT) after its rendering is returned, so that a dry run shows
// both what would be sent and why it would not be yet.
func (s *Submitter) DryRun(ctx context.Context, incidentID int64, destination string) (*Rendering, error) {
	d, err := s.Destination(destination)
	if err != nil {
		return nil, err
	}
	inc, err := s.Incidents.FindIncident(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	r, err := d.Render(ctx, s.Incidents, inc)
	if err != nil {
		return nil, err
	}
	if inc.State != vigil.IncidentApproved {
		return r, vigil.Errorf(vigil.ECONFLICT, "incident %d is %s: only an approved incident is sent", inc.ID, inc.State)
	}
	return r, nil
}

// Start creates the submission of an approved incident to destination,
// after rendering and validating it: a report the destination's rules
// refuse is never started. Run sends it.
func (s *Submitter) Start(ctx context.Context, incidentID int64, destination, actor string) (*vigil.Submission, error) {
	d, err := s.Destination(destination)
	if err != nil {
		return nil, err
	}
	inc, err := s.Incidents.FindIncident(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	if inc.State != vigil.IncidentApproved {
		return nil, vigil.Errorf(vigil.ECONFLICT, "incident %d is %s: only an approved incident is sent", inc.ID, inc.State)
	}
	r, err := d.Render(ctx, s.Incidents, inc)
	if err != nil {
		return nil, err
	}
	if !r.Valid {
		return nil, vigil.Errorf(vigil.EINVALID, "incident %d is not sent to %s: %s", inc.ID, d.Name(), r.Error)
	}
	sub := &vigil.Submission{IncidentID: inc.ID, Destination: d.Name(), CreatedBy: actor}
	if k, ok := d.(interface{ idempotencyKey() (string, error) }); ok {
		if sub.IdempotencyKey, err = k.idempotencyKey(); err != nil {
			return nil, err
		}
	}
	if err := s.Submissions.CreateSubmission(ctx, sub); err != nil {
		return nil, err
	}
	return sub, nil
}

// Run advances submission id as far as it goes. It returns nil once the
// submission is finished, failed or stuck (its state and Error say which)
// and an error when a step failed for a reason that may pass (the
// destination busy, a timeout): run it again later, as the job that
// calls it does.
func (s *Submitter) Run(ctx context.Context, id int64) error {
	sub, err := s.Submissions.FindSubmission(ctx, id)
	if err != nil {
		return err
	}
	if sub.State.Finished() {
		return nil
	}
	st := &Steps{Sub: sub, Incidents: s.Incidents, subs: s.Submissions, now: s.now, logger: s.logger()}
	d, err := s.Destination(sub.Destination)
	if err != nil {
		// Configured once, gone now: wait for it rather than fail what an
		// operator may bring back.
		return vigil.Errorf(vigil.EUNAVAILABLE, "submission %d: %s", id, vigil.ErrorMessage(err))
	}
	inc, err := s.Incidents.FindIncident(ctx, sub.IncidentID)
	if err != nil {
		return err
	}
	if inc.State != vigil.IncidentApproved {
		return st.Fail(ctx, fmt.Sprintf("incident %d is no longer approved", inc.ID))
	}
	st.Incident = inc
	return d.Send(ctx, st)
}

// Steps is one run of a submission: what is stored of it, and the
// attempts that store each step before and after its request.
type Steps struct {
	// Sub is the submission as stored; every Attempt and Update keeps it
	// current.
	Sub       *vigil.Submission
	Incident  *vigil.Incident
	Incidents vigil.IncidentService

	subs   vigil.SubmissionService
	now    func() time.Time
	logger *slog.Logger
}

// Reply is what a destination answered to one request, as an attempt
// stores it.
type Reply struct {
	HTTPStatus int
	Code       *int   // the destination's own response code, if it has one
	Body       string // bounded by the caller to vigil.MaxSubmissionReply
}

// boundReply keeps at most vigil.MaxSubmissionReply bytes of a body.
func boundReply(body []byte) string {
	return string(body[:min(len(body), vigil.MaxSubmissionReply)])
}

// Attempt stores the start of a step, runs call, and stores the reply
// with apply's changes (on success) in one write. A reply never stored
// (the process died) leaves the attempt unreplied, which the next run
// reads as "may or may not have arrived" (Last); so does a request that
// got no reply at all (call returns a nil Reply).
func (st *Steps) Attempt(ctx context.Context, step string, caseID int64,
	call func() (*Reply, error), apply func(*vigil.Submission)) error {
	started := st.now()
	if err := st.Update(ctx, func(sub *vigil.Submission) error {
		sub.Attempts = append(sub.Attempts, vigil.SubmissionAttempt{Step: step, CaseID: caseID, Started: started})
		return nil
	}); err != nil {
		return err
	}
	reply, callErr := call()
	if ctx.Err() != nil {
		// Stopped (shut down, killed): as if the process died here.
		return ctx.Err()
	}
	if err := st.Update(ctx, func(sub *vigil.Submission) error {
		a := &sub.Attempts[len(sub.Attempts)-1]
		if callErr != nil {
			a.Error = vigil.ErrorMessage(callErr)
			if vigil.ErrorCode(callErr) == vigil.EINTERNAL {
				a.Error = callErr.Error() // transport detail is for the operator
			}
		}
		if reply != nil {
			a.Replied, a.HTTPStatus, a.ResponseCode, a.Reply = true, reply.HTTPStatus, reply.Code, reply.Body
		}
		if callErr == nil && apply != nil {
			apply(sub)
		}
		return nil
	}); err != nil {
		return err
	}
	return callErr
}

// Update changes the stored submission in one transaction.
func (st *Steps) Update(ctx context.Context, fn func(*vigil.Submission) error) error {
	updated, err := st.subs.UpdateSubmission(ctx, st.Sub.ID, fn)
	if err != nil {
		return err
	}
	st.Sub = updated
	return nil
}

// Last returns the last attempt at step (for caseID) since the last
// retraction, nil if there is none.
func (st *Steps) Last(step string, caseID int64) *vigil.SubmissionAttempt {
	sub := st.Sub
	for i := len(sub.Attempts) - 1; i >= 0; i-- {
		if a := &sub.Attempts[i]; a.Step == step && a.CaseID == caseID {
			return a
		}
		if sub.Attempts[i].Step == "retract" {
			return nil // attempts before a retraction belong to the old report
		}
	}
	return nil
}

// Fail stops the submission as failed: what was sent was refused.
func (st *Steps) Fail(ctx context.Context, why string) error {
	return st.Stop(ctx, vigil.SubmissionFailed, why)
}

// Stop ends the submission in state (failed, stuck) with the reason.
func (st *Steps) Stop(ctx context.Context, state vigil.SubmissionState, why string) error {
	st.logger.Error("submission stopped", "submission", st.Sub.ID, "destination", st.Sub.Destination, "state", state, "why", why)
	return st.Update(ctx, func(sub *vigil.Submission) error {
		sub.State, sub.Error = state, why
		return nil
	})
}

// Finish ends the submission as done.
func (st *Steps) Finish(ctx context.Context) error {
	st.logger.Info("submission finished", "submission", st.Sub.ID, "destination", st.Sub.Destination, "incident", st.Sub.IncidentID)
	return st.Update(ctx, func(sub *vigil.Submission) error {
		sub.State, sub.Error = vigil.SubmissionFinished, ""
		return nil
	})
}

// retryable reports whether a step's error may pass (the destination
// away, no reply), as EUNAVAILABLE for the job to retry; other errors say
// the destination refused what was sent.
func retryable(ctx context.Context, err error) (error, bool) {
	if ctx.Err() != nil {
		return ctx.Err(), true
	}
	switch vigil.ErrorCode(err) {
	case vigil.EUNAVAILABLE:
		return err, true
	case vigil.EINTERNAL:
		if errors.Is(err, ErrNoReply) {
			return vigil.Errorf(vigil.EUNAVAILABLE, "%s", err.Error()), true
		}
	}
	return err, false
}

func incidentFile(inc *vigil.Incident, caseID int64) *vigil.IncidentFile {
	i := slices.IndexFunc(inc.Files, func(f vigil.IncidentFile) bool { return f.CaseID == caseID })
	if i < 0 {
		return &vigil.IncidentFile{CaseID: caseID}
	}
	return &inc.Files[i]
}

// fileName is the name a file is uploaded under: the platform's content
// id when it has one, else the case.
func fileName(f *vigil.IncidentFile) string {
	if f.ContentID != "" {
		return f.ContentID
	}
	return fmt.Sprintf("case-%d", f.CaseID)
}
