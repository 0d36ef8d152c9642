package report

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/vigil-oss/vigil"
)

// DestinationNCMEC names NCMEC's CyberTipline as a submission destination.
const DestinationNCMEC = "ncmec"

// Submitter sends approved incidents to NCMEC, step by step (submit,
// upload and fileinfo for each file, finish), storing each step's attempt
// before the request and NCMEC's reply after it. Run resumes a submission
// from what is stored, so a process killed anywhere finishes the report or
// retracts it, and never makes a second report of one incident:
//
//   - killed during /submit: NCMEC may have opened a report whose id was
//     never stored, which nobody can retract or finish. The submission is
//     stuck, for a person to check with NCMEC; nothing more is sent.
//   - killed during /upload: the file may or may not be in the report. The
//     report is retracted and a new one is sent, whole.
//   - killed during /fileinfo or /finish: sent again (NCMEC answers 5102
//     to a second finish, which means done).
//
// NCMEC refusing what was sent (4100 schema validation, say) retracts an
// unfinished report and fails the submission with NCMEC's reason.
type Submitter struct {
	Incidents   vigil.IncidentService
	Submissions vigil.SubmissionService
	Media       vigil.MediaStore // the files' media; nil: files are not uploaded
	Client      *ISPWS
	Config      NCMECConfig
	Validator   *Validator       // required: nothing is sent unchecked
	Now         func() time.Time // nil: time.Now
	Logger      *slog.Logger     // nil: discard
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

// Start creates the submission of an approved incident to NCMEC, after
// rendering and validating it: a report the schema refuses is never
// started. Run sends it.
func (s *Submitter) Start(ctx context.Context, incidentID int64, actor string) (*vigil.Submission, error) {
	if s.Validator == nil {
		return nil, errors.New("submitter has no validator")
	}
	inc, err := s.Incidents.FindIncident(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	if inc.State != vigil.IncidentApproved {
		return nil, vigil.Errorf(vigil.ECONFLICT, "incident %d is %s: only an approved incident is sent", inc.ID, inc.State)
	}
	r, err := Render(ctx, s.Incidents, s.Validator, inc, s.Config)
	if err != nil {
		return nil, err
	}
	if !r.Valid {
		return nil, vigil.Errorf(vigil.EINVALID, "incident %d is not sent: %s", inc.ID, r.Error)
	}
	sub := &vigil.Submission{IncidentID: inc.ID, Destination: DestinationNCMEC, CreatedBy: actor}
	if err := s.Submissions.CreateSubmission(ctx, sub); err != nil {
		return nil, err
	}
	return sub, nil
}

// errRestart makes Run send a retracted report again from the start.
var errRestart = errors.New("restart submission")

// Run advances submission id as far as it goes. It returns nil once the
// submission is finished, failed or stuck (its state and Error say which)
// and an error when a step failed for a reason that may pass (NCMEC busy,
// a timeout): run it again later, as the job that calls it does.
func (s *Submitter) Run(ctx context.Context, id int64) error {
	for range 3 { // at most a couple of restarts after ambiguous uploads
		err := s.run(ctx, id)
		if !errors.Is(err, errRestart) {
			return err
		}
	}
	return vigil.Errorf(vigil.EUNAVAILABLE, "submission %d restarted too often", id)
}

func (s *Submitter) run(ctx context.Context, id int64) error {
	if s.Validator == nil {
		return errors.New("submitter has no validator")
	}
	sub, err := s.Submissions.FindSubmission(ctx, id)
	if err != nil {
		return err
	}
	if sub.State.Finished() {
		return nil
	}
	inc, err := s.Incidents.FindIncident(ctx, sub.IncidentID)
	if err != nil {
		return err
	}
	if inc.State != vigil.IncidentApproved {
		return s.fail(ctx, sub, fmt.Sprintf("incident %d is no longer approved", inc.ID))
	}

	if sub.State == vigil.SubmissionRetracted {
		// Retracted after an ambiguous upload: begin a new report.
		if _, err := s.Submissions.UpdateSubmission(ctx, id, func(sub *vigil.Submission) error {
			sub.State, sub.ReportID, sub.Files = vigil.SubmissionPending, 0, nil
			return nil
		}); err != nil {
			return err
		}
		sub.State, sub.ReportID, sub.Files = vigil.SubmissionPending, 0, nil
	}

	if sub.ReportID == 0 {
		if a := lastAttempt(sub, "submit", 0); a != nil && !a.Replied {
			return s.stop(ctx, sub, vigil.SubmissionStuck,
				"a /submit got no reply (a crash or a timeout): NCMEC may hold a report Vigil has no id for; check with NCMEC before sending again")
		}
		facts, err := Facts(ctx, s.Incidents, inc)
		if err != nil {
			return err
		}
		doc, err := RenderNCMEC(inc, facts, s.Config)
		if err != nil {
			return err
		}
		// Checked again before it goes (the schema file may have been
		// replaced since Start); each file's details are checked before
		// their /fileinfo.
		if err := s.Validator.Validate(ctx, doc); err != nil {
			if c := vigil.ErrorCode(err); c == vigil.EINVALID || c == vigil.EUNSUPPORTED {
				return s.fail(ctx, sub, vigil.ErrorMessage(err))
			}
			return err
		}
		reply, err := s.attempt(ctx, sub, "submit", 0, func() (*ISPWSReply, error) { return s.Client.Submit(ctx, doc) },
			func(sub *vigil.Submission, reply *ISPWSReply) {
				sub.ReportID, sub.State = reply.ReportID, vigil.SubmissionSubmitted
				sub.Files = nil
				for _, f := range inc.Files {
					if f.MediaID != "" && s.Media != nil {
						sub.Files = append(sub.Files, vigil.SubmissionFile{CaseID: f.CaseID})
					}
				}
			})
		if err != nil {
			return s.failed(ctx, sub, err)
		}
		if reply.ReportID <= 0 {
			return s.stop(ctx, sub, vigil.SubmissionStuck, "ncmec accepted /submit without a report id")
		}
	}

	for i := range sub.Files {
		f := sub.Files[i]
		if f.FileID != "" {
			continue
		}
		if a := lastAttempt(sub, "upload", f.CaseID); a != nil && !a.Replied {
			return s.restart(ctx, sub, fmt.Sprintf("an /upload of case %d's file got no reply", f.CaseID))
		}
		file := incidentFile(inc, f.CaseID)
		data, err := s.Media.Get(ctx, file.MediaID)
		if err != nil {
			return fmt.Errorf("media of case %d: %w", f.CaseID, err)
		}
		_, err = s.attempt(ctx, sub, "upload", f.CaseID, func() (*ISPWSReply, error) {
			return s.Client.Upload(ctx, sub.ReportID, fileName(file), data)
		}, func(sub *vigil.Submission, reply *ISPWSReply) {
			sub.Files[i].FileID, sub.Files[i].Hash = reply.FileID, reply.Hash
		})
		if err != nil {
			return s.failed(ctx, sub, err)
		}
	}

	for i := range sub.Files {
		f := sub.Files[i]
		if f.InfoSent {
			continue
		}
		doc, err := RenderNCMECFile(sub.ReportID, f.FileID, *incidentFile(inc, f.CaseID), s.Config)
		if err != nil {
			return err
		}
		if err := s.Validator.Validate(ctx, doc); err != nil {
			if c := vigil.ErrorCode(err); c == vigil.EINVALID || c == vigil.EUNSUPPORTED {
				return s.failed(ctx, sub, err)
			}
			return err
		}
		_, err = s.attempt(ctx, sub, "fileinfo", f.CaseID, func() (*ISPWSReply, error) { return s.Client.FileInfo(ctx, doc) },
			func(sub *vigil.Submission, _ *ISPWSReply) { sub.Files[i].InfoSent = true })
		if err != nil {
			return s.failed(ctx, sub, err)
		}
	}

	_, err = s.attempt(ctx, sub, "finish", 0, func() (*ISPWSReply, error) {
		r, err := s.Client.Finish(ctx, sub.ReportID)
		if r != nil && r.Code != nil && *r.Code == ispwsAlreadyFinished {
			// A finish sent again after its reply was lost.
			return r, nil
		}
		return r, err
	}, func(sub *vigil.Submission, _ *ISPWSReply) { sub.State = vigil.SubmissionFinished })
	if err != nil {
		return s.failed(ctx, sub, err)
	}
	s.logger().Info("report finished", "incident", inc.ID, "submission", sub.ID, "report_id", sub.ReportID, "files", len(sub.Files))
	return nil
}

// attempt stores the start of a step, runs call, and stores the reply
// with apply's changes (on success) in one write. A reply never stored
// (the process died) leaves the attempt unreplied, which the next Run
// reads as "may or may not have arrived"; so does a request that got no
// reply at all (ErrNoReply).
func (s *Submitter) attempt(ctx context.Context, sub *vigil.Submission, step string, caseID int64,
	call func() (*ISPWSReply, error), apply func(*vigil.Submission, *ISPWSReply)) (*ISPWSReply, error) {
	started := s.now()
	updated, err := s.Submissions.UpdateSubmission(ctx, sub.ID, func(sub *vigil.Submission) error {
		sub.Attempts = append(sub.Attempts, vigil.SubmissionAttempt{Step: step, CaseID: caseID, Started: started})
		return nil
	})
	if err != nil {
		return nil, err
	}
	*sub = *updated
	reply, callErr := call()
	if ctx.Err() != nil {
		// Stopped (shut down, killed): as if the process died here.
		return nil, ctx.Err()
	}
	updated, err = s.Submissions.UpdateSubmission(ctx, sub.ID, func(sub *vigil.Submission) error {
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
		if callErr == nil {
			apply(sub, reply)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	*sub = *updated
	return reply, callErr
}

// failed handles a step's error: one that may pass is returned for a
// retry (the attempt is stored); an answer that what was sent is wrong
// retracts the report and fails the submission.
func (s *Submitter) failed(ctx context.Context, sub *vigil.Submission, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	switch vigil.ErrorCode(err) {
	case vigil.EUNAVAILABLE:
		return err
	case vigil.EINTERNAL:
		if errors.Is(err, ErrNoReply) {
			return vigil.Errorf(vigil.EUNAVAILABLE, "%s", err.Error())
		}
	}
	if sub.ReportID != 0 && sub.State == vigil.SubmissionSubmitted {
		if rerr := s.retract(ctx, sub); rerr != nil {
			return rerr
		}
	}
	return s.fail(ctx, sub, vigil.ErrorMessage(err))
}

// restart retracts the open report, so that the next pass sends it anew.
func (s *Submitter) restart(ctx context.Context, sub *vigil.Submission, why string) error {
	s.logger().Warn("retracting report to send it again", "submission", sub.ID, "report_id", sub.ReportID, "why", why)
	if err := s.retract(ctx, sub); err != nil {
		return err
	}
	return errRestart
}

func (s *Submitter) retract(ctx context.Context, sub *vigil.Submission) error {
	_, err := s.attempt(ctx, sub, "retract", 0, func() (*ISPWSReply, error) {
		r, err := s.Client.Retract(ctx, sub.ReportID)
		if r != nil && r.Code != nil && *r.Code == 5101 {
			return r, nil // retracted before, its reply lost
		}
		return r, err
	}, func(sub *vigil.Submission, _ *ISPWSReply) { sub.State = vigil.SubmissionRetracted })
	if err != nil && vigil.ErrorCode(err) != vigil.EUNAVAILABLE && !errors.Is(err, ErrNoReply) {
		return s.stop(ctx, sub, vigil.SubmissionStuck, "ncmec refused to retract report: "+vigil.ErrorMessage(err))
	}
	return err
}

func (s *Submitter) fail(ctx context.Context, sub *vigil.Submission, why string) error {
	return s.stop(ctx, sub, vigil.SubmissionFailed, why)
}

func (s *Submitter) stop(ctx context.Context, sub *vigil.Submission, state vigil.SubmissionState, why string) error {
	s.logger().Error("submission stopped", "submission", sub.ID, "state", state, "why", why)
	_, err := s.Submissions.UpdateSubmission(ctx, sub.ID, func(sub *vigil.Submission) error {
		sub.State, sub.Error = state, why
		return nil
	})
	return err
}

func lastAttempt(sub *vigil.Submission, step string, caseID int64) *vigil.SubmissionAttempt {
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
