package report

import (
	"context"
	"errors"
	"fmt"

	"github.com/vigil-oss/vigil"
)

// NCMEC is the CyberTipline destination: it sends an incident step by
// step (submit, upload and fileinfo for each file, finish), each step an
// attempt stored before the request and with NCMEC's reply after it. Send
// resumes from what is stored, so a process killed anywhere finishes the
// report or retracts it, and never makes a second report of one incident:
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
type NCMEC struct {
	Client    *ISPWS
	Config    NCMECConfig
	Validator *Validator       // required: nothing is sent unchecked
	Media     vigil.MediaStore // the files' media; nil: files are not uploaded
}

// Name implements Destination.
func (*NCMEC) Name() string { return DestinationNCMEC }

// Render implements Destination: the <report> and each <fileDetails>,
// validated against NCMEC's schema.
func (d *NCMEC) Render(ctx context.Context, incidents vigil.IncidentService, inc *vigil.Incident) (*Rendering, error) {
	if d.Validator == nil {
		return nil, errors.New("ncmec destination has no validator")
	}
	return Render(ctx, incidents, d.Validator, inc, d.Config)
}

func (r *ISPWSReply) reply() *Reply {
	if r == nil {
		return nil
	}
	return &Reply{HTTPStatus: r.HTTPStatus, Code: r.Code, Body: r.Body}
}

// errRestart makes Send send a retracted report again from the start.
var errRestart = errors.New("restart submission")

// Send implements Destination.
func (d *NCMEC) Send(ctx context.Context, st *Steps) error {
	if d.Validator == nil {
		return errors.New("ncmec destination has no validator")
	}
	for range 3 { // at most a couple of restarts after ambiguous uploads
		err := d.send(ctx, st)
		if !errors.Is(err, errRestart) {
			return err
		}
	}
	return vigil.Errorf(vigil.EUNAVAILABLE, "submission %d restarted too often", st.Sub.ID)
}

func (d *NCMEC) send(ctx context.Context, st *Steps) error {
	inc := st.Incident
	if st.Sub.State == vigil.SubmissionRetracted {
		// Retracted after an ambiguous upload: begin a new report.
		if err := st.Update(ctx, func(sub *vigil.Submission) error {
			sub.State, sub.ReportID, sub.Files = vigil.SubmissionPending, 0, nil
			return nil
		}); err != nil {
			return err
		}
	}

	if st.Sub.ReportID == 0 {
		if a := st.Last("submit", 0); a != nil && !a.Replied {
			return st.Stop(ctx, vigil.SubmissionStuck,
				"a /submit got no reply (a crash or a timeout): NCMEC may hold a report Vigil has no id for; check with NCMEC before sending again")
		}
		facts, err := Facts(ctx, st.Incidents, inc)
		if err != nil {
			return err
		}
		doc, err := RenderNCMEC(inc, facts, d.Config)
		if err != nil {
			return err
		}
		// Checked again before it goes (the schema file may have been
		// replaced since Start); each file's details are checked before
		// their /fileinfo.
		if err := d.Validator.Validate(ctx, doc); err != nil {
			if c := vigil.ErrorCode(err); c == vigil.EINVALID || c == vigil.EUNSUPPORTED {
				return st.Fail(ctx, vigil.ErrorMessage(err))
			}
			return err
		}
		var r *ISPWSReply
		err = st.Attempt(ctx, "submit", 0, func() (*Reply, error) {
			var err error
			r, err = d.Client.Submit(ctx, doc)
			return r.reply(), err
		}, func(sub *vigil.Submission) {
			sub.ReportID, sub.State = r.ReportID, vigil.SubmissionSubmitted
			sub.Files = nil
			for _, f := range inc.Files {
				if f.MediaID != "" && d.Media != nil {
					sub.Files = append(sub.Files, vigil.SubmissionFile{CaseID: f.CaseID})
				}
			}
		})
		if err != nil {
			return d.failed(ctx, st, err)
		}
		if r.ReportID <= 0 {
			return st.Stop(ctx, vigil.SubmissionStuck, "ncmec accepted /submit without a report id")
		}
	}

	for i := range st.Sub.Files {
		f := st.Sub.Files[i]
		if f.FileID != "" {
			continue
		}
		if a := st.Last("upload", f.CaseID); a != nil && !a.Replied {
			return d.restart(ctx, st, fmt.Sprintf("an /upload of case %d's file got no reply", f.CaseID))
		}
		file := incidentFile(inc, f.CaseID)
		data, err := d.Media.Get(ctx, file.MediaID)
		if err != nil {
			return fmt.Errorf("media of case %d: %w", f.CaseID, err)
		}
		var r *ISPWSReply
		err = st.Attempt(ctx, "upload", f.CaseID, func() (*Reply, error) {
			var err error
			r, err = d.Client.Upload(ctx, st.Sub.ReportID, fileName(file), data)
			return r.reply(), err
		}, func(sub *vigil.Submission) {
			sub.Files[i].FileID, sub.Files[i].Hash = r.FileID, r.Hash
		})
		if err != nil {
			return d.failed(ctx, st, err)
		}
	}

	for i := range st.Sub.Files {
		f := st.Sub.Files[i]
		if f.InfoSent {
			continue
		}
		doc, err := RenderNCMECFile(st.Sub.ReportID, f.FileID, *incidentFile(inc, f.CaseID), d.Config)
		if err != nil {
			return err
		}
		if err := d.Validator.Validate(ctx, doc); err != nil {
			if c := vigil.ErrorCode(err); c == vigil.EINVALID || c == vigil.EUNSUPPORTED {
				return d.failed(ctx, st, err)
			}
			return err
		}
		err = st.Attempt(ctx, "fileinfo", f.CaseID, func() (*Reply, error) {
			r, err := d.Client.FileInfo(ctx, doc)
			return r.reply(), err
		}, func(sub *vigil.Submission) { sub.Files[i].InfoSent = true })
		if err != nil {
			return d.failed(ctx, st, err)
		}
	}

	err := st.Attempt(ctx, "finish", 0, func() (*Reply, error) {
		r, err := d.Client.Finish(ctx, st.Sub.ReportID)
		if r != nil && r.Code != nil && *r.Code == ispwsAlreadyFinished {
			// A finish sent again after its reply was lost.
			return r.reply(), nil
		}
		return r.reply(), err
	}, func(sub *vigil.Submission) { sub.State = vigil.SubmissionFinished })
	if err != nil {
		return d.failed(ctx, st, err)
	}
	st.logger.Info("report finished", "incident", inc.ID, "submission", st.Sub.ID, "report_id", st.Sub.ReportID, "files", len(st.Sub.Files))
	return nil
}

// failed handles a step's error: one that may pass is returned for a
// retry (the attempt is stored); an answer that what was sent is wrong
// retracts the report and fails the submission.
func (d *NCMEC) failed(ctx context.Context, st *Steps, err error) error {
	if err, ok := retryable(ctx, err); ok {
		return err
	}
	if st.Sub.ReportID != 0 && st.Sub.State == vigil.SubmissionSubmitted {
		if rerr := d.retract(ctx, st); rerr != nil {
			return rerr
		}
	}
	return st.Fail(ctx, vigil.ErrorMessage(err))
}

// restart retracts the open report, so that the next pass sends it anew.
func (d *NCMEC) restart(ctx context.Context, st *Steps, why string) error {
	st.logger.Warn("retracting report to send it again", "submission", st.Sub.ID, "report_id", st.Sub.ReportID, "why", why)
	if err := d.retract(ctx, st); err != nil {
		return err
	}
	return errRestart
}

func (d *NCMEC) retract(ctx context.Context, st *Steps) error {
	err := st.Attempt(ctx, "retract", 0, func() (*Reply, error) {
		r, err := d.Client.Retract(ctx, st.Sub.ReportID)
		if r != nil && r.Code != nil && *r.Code == 5101 {
			return r.reply(), nil // retracted before, its reply lost
		}
		return r.reply(), err
	}, func(sub *vigil.Submission) { sub.State = vigil.SubmissionRetracted })
	if err != nil && vigil.ErrorCode(err) != vigil.EUNAVAILABLE && !errors.Is(err, ErrNoReply) && ctx.Err() == nil {
		return st.Stop(ctx, vigil.SubmissionStuck, "ncmec refused to retract report: "+vigil.ErrorMessage(err))
	}
	return err
}
