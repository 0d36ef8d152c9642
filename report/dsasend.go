package report

import (
	"context"
	"fmt"
	"slices"

	"github.com/vigil-oss/vigil"
)

// DSA is the EU DSA Transparency Database destination: it sends each
// statement of reasons of an incident (one per file, one per
// conversation) as its own step, and keeps the database's receipt (uuid,
// permalink) of each in the submission's Statements.
//
// A statement's puid is the platform's unique id of it, which the
// database refuses to store twice (422, naming the existing statement):
// so a statement whose reply was lost (a crash, a timeout) is simply
// sent again, and the database's "already held" answer is its receipt.
// Nothing is ever stored twice and nothing needs retracting; the
// database has no way to retract a statement anyway.
//
//   - 5xx, a timeout, no reply: retried (the job's backoff); the
//     database documents that a failed request stored nothing.
//   - 422: the database refused a statement; the submission fails naming
//     the fields. Statements it accepted before keep their receipts, and
//     a new submission after the fix finds them already held.
//   - 401: the token was refused; the submission fails saying so (a new
//     submission, once the token is fixed, sends only what is missing).
type DSA struct {
	DB     *TransparencyDB
	Config DSAConfig
}

// Name implements Destination.
func (*DSA) Name() string { return DestinationDSA }

// Render implements Destination: the incident's statements, each checked
// against every rule of the database's validator. Their application date
// is the day the incident was approved: a draft's is not known yet.
func (d *DSA) Render(ctx context.Context, incidents vigil.IncidentService, inc *vigil.Incident) (*Rendering, error) {
	if inc.ApprovedAt == nil {
		return &Rendering{Format: "dsa", Error: fmt.Sprintf("incident %d is a draft: its statements have no application date until it is approved", inc.ID)}, nil
	}
	return RenderDSAIncident(ctx, incidents, inc, d.Config, *inc.ApprovedAt)
}

// dsaStatementCases lists the case of each statement RenderDSA makes, in
// its order: files, then conversations.
func dsaStatementCases(inc *vigil.Incident) []int64 {
	var ids []int64
	for _, f := range inc.Files {
		ids = append(ids, f.CaseID)
	}
	for _, c := range inc.Conversations {
		ids = append(ids, c.CaseID)
	}
	return ids
}

// Send implements Destination.
func (d *DSA) Send(ctx context.Context, st *Steps) error {
	inc := st.Incident
	if inc.ApprovedAt == nil {
		return st.Fail(ctx, fmt.Sprintf("incident %d has no approval time", inc.ID))
	}
	facts, err := Facts(ctx, st.Incidents, inc)
	if err != nil {
		return err
	}
	sts, err := RenderDSA(inc, facts, d.Config, *inc.ApprovedAt)
	if vigil.ErrorCode(err) == vigil.EINVALID {
		return st.Fail(ctx, vigil.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	cases := dsaStatementCases(inc)
	if len(cases) != len(sts) {
		return fmt.Errorf("dsa: %d statements for %d cases", len(sts), len(cases))
	}
	for i := range sts {
		s := &sts[i]
		// By case rather than puid: a puid_prefix changed while the
		// submission ran must not send a case's statement again.
		if slices.ContainsFunc(st.Sub.Statements, func(r vigil.SubmissionStatement) bool { return r.CaseID == cases[i] }) {
			continue // its receipt is stored
		}
		var rec *DSAReceipt
		err := st.Attempt(ctx, "statement", cases[i], func() (*Reply, error) {
			var err error
			rec, err = d.DB.Submit(ctx, s)
			if rec == nil {
				return nil, err
			}
			return &Reply{HTTPStatus: rec.HTTPStatus, Body: boundReply(rec.Body)}, err
		}, func(sub *vigil.Submission) {
			sub.State = vigil.SubmissionSubmitted
			sub.Statements = append(sub.Statements, vigil.SubmissionStatement{
				CaseID: cases[i], PUID: s.PUID, UUID: rec.UUID, Permalink: rec.Permalink, Existing: rec.Existing,
			})
		})
		if err == nil {
			continue
		}
		if err, ok := retryable(ctx, err); ok {
			return err
		}
		switch vigil.ErrorCode(err) {
		case vigil.EINTERNAL:
			// Created without a readable receipt, or a failure on this
			// side: sending again is safe (the puid), so retry.
			return vigil.Errorf(vigil.EUNAVAILABLE, "%s", err.Error())
		}
		return st.Fail(ctx, fmt.Sprintf("statement %s: %s", s.PUID, vigil.ErrorMessage(err)))
	}
	return st.Finish(ctx)
}
