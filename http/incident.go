package http

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/report"
)

// incidentRoutes registers the incident API: incidents built from
// confirmed cases, edited and approved by reviewers and curators, their
// renderings, and the account facts platforms give for them.
func (s *Server) incidentRoutes() {
	const (
		curator  = vigil.RoleCurator
		matcher  = vigil.RoleMatcher
		reviewer = vigil.RoleReviewer
	)
	s.route("POST /v1/incidents", s.handleCreateIncident, reviewer, curator)
	s.route("GET /v1/incidents", s.handleListIncidents, reviewer, curator)
	s.route("GET /v1/incidents/unreported", s.handleUnreportedCases, reviewer, curator)
	s.route("GET /v1/incidents/{id}", s.handleGetIncident, reviewer, curator)
	s.route("PATCH /v1/incidents/{id}", s.handleUpdateIncident, reviewer, curator)
	s.route("POST /v1/incidents/{id}/approve", s.handleApproveIncident, reviewer, curator)
	s.route("GET /v1/incidents/{id}/render", s.handleRenderIncident, reviewer, curator)
	s.route("POST /v1/incidents/{id}/submit", s.handleSubmitIncident, reviewer, curator)
	s.route("GET /v1/incidents/{id}/submissions", s.handleListSubmissions, reviewer, curator)
	// The platform's integration (a matcher key) sends what it knows of
	// its users as it learns it.
	s.route("POST /v1/accounts/{user_id}/facts", s.handleAddAccountFacts, matcher, curator)
	s.route("GET /v1/accounts/{user_id}/facts", s.handleGetAccountFacts, reviewer, curator)
}

var errNoIncidents = vigil.Errorf(vigil.EUNSUPPORTED, "this server has no incident store")

// visibleIncident returns incident id if the caller may see every case it
// was built from; otherwise it is reported as not found.
func (s *Server) visibleIncident(r *http.Request, id int64) (*vigil.Incident, error) {
	if s.Incidents == nil {
		return nil, errNoIncidents
	}
	inc, err := s.Incidents.FindIncident(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if ok, err := s.seesCases(r, inc.CaseIDs); err != nil {
		return nil, err
	} else if !ok {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "incident %d not found", id)
	}
	return inc, nil
}

// seesCases reports whether the caller may see every one of the cases.
func (s *Server) seesCases(r *http.Request, ids []int64) (bool, error) {
	for _, id := range ids {
		if _, err := s.visibleCase(r, id); vigil.ErrorCode(err) == vigil.ENOTFOUND {
			return false, nil
		} else if err != nil {
			return false, err
		}
	}
	return true, nil
}

type createIncidentRequest struct {
	CaseIDs []int64 `json:"case_ids"`
}

func (s *Server) handleCreateIncident(w http.ResponseWriter, r *http.Request) {
	if s.Incidents == nil {
		writeError(w, r, errNoIncidents)
		return
	}
	var req createIncidentRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if len(req.CaseIDs) > vigil.MaxIncidentCases {
		writeError(w, r, vigil.Errorf(vigil.ETOOLARGE, "an incident holds at most %d cases", vigil.MaxIncidentCases))
		return
	}
	cases := make([]*vigil.Case, 0, len(req.CaseIDs))
	revealed := map[int64]bool{}
	for _, id := range req.CaseIDs {
		c, err := s.visibleCase(r, id)
		if err != nil {
			writeError(w, r, err)
			return
		}
		hist, err := s.Cases.CaseHistory(r.Context(), id)
		if err != nil {
			writeError(w, r, err)
			return
		}
		for _, ev := range hist {
			revealed[id] = revealed[id] || ev.Kind == vigil.CaseEventRevealed
		}
		cases = append(cases, c)
	}
	inc, err := vigil.NewIncident(cases)
	if err != nil {
		writeError(w, r, err)
		return
	}
	for i := range inc.Files {
		// NCMEC asks whether the platform viewed the file: only a reveal
		// says a person did.
		inc.Files[i].Viewed = revealed[inc.Files[i].CaseID]
	}
	rec := auditRecord(r, vigil.AuditIncidentCreate, "incident:new", nil)
	rec.Complete = func(rec *vigil.AuditRecord) error {
		rec.Target = vigil.IncidentAuditTarget(inc.ID)
		return rec.SetDetail(map[string]any{"case_ids": inc.CaseIDs, "reported_user": inc.ReportedUser})
	}
	if err := s.change(r, rec, func(ctx context.Context) error { return s.Incidents.CreateIncident(ctx, inc, actor(r)) }); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, inc)
}

func (s *Server) handleListIncidents(w http.ResponseWriter, r *http.Request) {
	if s.Incidents == nil {
		writeError(w, r, errNoIncidents)
		return
	}
	q := r.URL.Query()
	p, err := readPage(q, casePages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	f := vigil.IncidentFilter{AfterID: p.afterID, Limit: p.limit}
	for _, st := range q["state"] {
		switch is := vigil.IncidentState(st); is {
		case vigil.IncidentDraft, vigil.IncidentApproved:
			f.States = append(f.States, is)
		default:
			writeError(w, r, badRequest("state must be draft or approved, got %q", st))
			return
		}
	}
	list, err := s.Incidents.ListIncidents(r.Context(), f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	next := nextAfter(p, list, func(i *vigil.Incident) int64 { return i.ID })
	out := make([]*vigil.Incident, 0, len(list))
	for _, inc := range list {
		// Incidents of cases the caller may not see are left out of the
		// page, which still pages on by the store's order.
		if ok, err := s.seesCases(r, inc.CaseIDs); err != nil {
			writeError(w, r, err)
			return
		} else if ok {
			out = append(out, inc)
		}
	}
	writePage(w, "incidents", out, next)
}

// handleUnreportedCases lists the confirmed cases in no incident that the
// caller may see: what is still to be reported. Incidents are built on
// demand from them (POST /v1/incidents), so this is how none is
// forgotten.
func (s *Server) handleUnreportedCases(w http.ResponseWriter, r *http.Request) {
	if s.Incidents == nil {
		writeError(w, r, errNoIncidents)
		return
	}
	p, err := readPage(r.URL.Query(), casePages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	visible, err := s.visibleQueues(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	list, err := s.Incidents.UnreportedCases(r.Context(), p.afterID, p.limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	next := nextAfter(p, list, caseID)
	out := make([]*vigil.Case, 0, len(list))
	for _, c := range list {
		// Cases of queues the caller may not see are left out of the
		// page, which still pages on by the store's order.
		if slices.ContainsFunc(visible, func(q *vigil.Queue) bool { return q.Name == c.Queue }) {
			out = append(out, c)
		}
	}
	writePage(w, "cases", out, next)
}

func (s *Server) handleGetIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "incident")
	if err != nil {
		writeError(w, r, err)
		return
	}
	inc, err := s.visibleIncident(r, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

func (s *Server) handleUpdateIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "incident")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if _, err := s.visibleIncident(r, id); err != nil {
		writeError(w, r, err)
		return
	}
	var e vigil.IncidentEdit
	if err := decodeJSON(w, r, &e); err != nil {
		writeError(w, r, err)
		return
	}
	var inc *vigil.Incident
	rec := auditRecord(r, vigil.AuditIncidentUpdate, vigil.IncidentAuditTarget(id), e)
	if err := s.change(r, rec, func(ctx context.Context) (err error) {
		inc, err = s.Incidents.UpdateIncident(ctx, id, e)
		return err
	}); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

func (s *Server) handleApproveIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "incident")
	if err != nil {
		writeError(w, r, err)
		return
	}
	inc, err := s.approveIncident(r, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inc)
}

// approveIncident approves incident id for the caller, audited
// (vigil.AuditIncidentApprove): the one place approval happens, for the
// JSON API and the UI alike.
func (s *Server) approveIncident(r *http.Request, id int64) (*vigil.Incident, error) {
	if _, err := s.visibleIncident(r, id); err != nil {
		return nil, err
	}
	var inc *vigil.Incident
	rec := auditRecord(r, vigil.AuditIncidentApprove, vigil.IncidentAuditTarget(id), nil)
	err := s.change(r, rec, func(ctx context.Context) (err error) {
		inc, err = s.Incidents.ApproveIncident(ctx, id, actor(r))
		return err
	})
	return inc, err
}

// handleRenderIncident shows what would be sent (?format=ncmec, the only
// format so far), validated against NCMEC's schema; file details carry
// placeholder ids until NCMEC assigns them.
func (s *Server) handleRenderIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "incident")
	if err != nil {
		writeError(w, r, err)
		return
	}
	format := r.URL.Query().Get("format")
	switch format {
	case "dsa":
		s.renderDSA(w, r, id)
		return
	case "eu":
		s.renderEU(w, r, id)
		return
	case "", "ncmec":
	default:
		writeError(w, r, badRequest("format must be ncmec, dsa or eu"))
		return
	}
	if s.NCMEC == nil {
		writeError(w, r, vigil.Errorf(vigil.EUNSUPPORTED, "this server has no NCMEC reporting configured"))
		return
	}
	inc, err := s.visibleIncident(r, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out, err := report.Render(r.Context(), s.Incidents, s.NCMECValidator, inc, *s.NCMEC)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// renderDSA writes the incident's DSA statements of reasons. The day the
// platform applied its decision is the applied parameter, else the day
// the incident was approved: a draft's is not known.
func (s *Server) renderDSA(w http.ResponseWriter, r *http.Request, id int64) {
	if s.DSA == nil {
		writeError(w, r, vigil.Errorf(vigil.EUNSUPPORTED, "this server has no DSA statements of reasons configured"))
		return
	}
	var applied time.Time
	if a := r.URL.Query().Get("applied"); a != "" {
		d, err := time.Parse(time.DateOnly, a)
		if err != nil {
			writeError(w, r, badRequest("applied must be a day YYYY-MM-DD"))
			return
		}
		applied = d
	}
	inc, err := s.visibleIncident(r, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if applied.IsZero() {
		if inc.ApprovedAt == nil {
			writeError(w, r, badRequest("the incident is a draft: say with applied=YYYY-MM-DD when the platform applied its decision"))
			return
		}
		applied = *inc.ApprovedAt
	}
	out, err := report.RenderDSAIncident(r.Context(), s.Incidents, inc, *s.DSA, applied)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// renderEU writes the incident's EU Centre report, rendered from the
// server's template; valid is false, naming every empty required field,
// when the incident or the configuration lacks one.
func (s *Server) renderEU(w http.ResponseWriter, r *http.Request, id int64) {
	if s.EU == nil {
		writeError(w, r, vigil.Errorf(vigil.EUNSUPPORTED, "this server has no EU Centre report configured"))
		return
	}
	inc, err := s.visibleIncident(r, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out, err := s.EU.Render(r.Context(), s.Incidents, inc)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// handleSubmitIncident starts sending an approved incident to a
// destination (?destination=ncmec, the default, dsa or webhook): it is
// rendered and validated (a report the destination's rules refuse is
// never started), stored as a submission and queued as a durable job.
// Asked again while that submission is unfinished, it queues it again
// (which does nothing if its job is queued) and returns it.
func (s *Server) handleSubmitIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "incident")
	if err != nil {
		writeError(w, r, err)
		return
	}
	dest := r.URL.Query().Get("destination")
	if dest == "" {
		dest = report.DestinationNCMEC
	}
	sub, err := s.submitIncident(r, id, dest)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, sub)
}

// submitIncident starts (or finds and queues again) the sending of
// incident id to NCMEC for the caller, audited (vigil.AuditReportSubmit):
// the one place submission starts, for the JSON API and the UI alike.
func (s *Server) submitIncident(r *http.Request, id int64, dest string) (*vigil.Submission, error) {
	if s.Submitter == nil || s.SubmissionQueue == nil {
		return nil, vigil.Errorf(vigil.EUNSUPPORTED, "this server does not send reports")
	}
	if _, err := s.Submitter.Destination(dest); err != nil {
		if vigil.ErrorCode(err) == vigil.ENOTFOUND {
			err = badRequest("%s", vigil.ErrorMessage(err))
		}
		return nil, err
	}
	if _, err := s.visibleIncident(r, id); err != nil {
		return nil, err
	}
	var sub *vigil.Submission
	rec := auditRecord(r, vigil.AuditReportSubmit, vigil.IncidentAuditTarget(id), map[string]string{"destination": dest})
	err := s.change(r, rec, func(ctx context.Context) (err error) {
		sub, err = s.Submitter.Start(ctx, id, dest, actor(r))
		return err
	})
	if vigil.ErrorCode(err) == vigil.ECONFLICT {
		if live := s.liveSubmission(r, id, dest); live != nil {
			sub, err = live, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if !sub.State.Finished() {
		if err := s.SubmissionQueue.QueueSubmission(context.WithoutCancel(r.Context()), sub.ID); err != nil {
			return nil, err
		}
	}
	return sub, nil
}

// liveSubmission returns the incident's unfinished submission to dest,
// if any.
func (s *Server) liveSubmission(r *http.Request, incidentID int64, dest string) *vigil.Submission {
	subs, err := s.Submitter.Submissions.IncidentSubmissions(r.Context(), incidentID)
	if err != nil {
		return nil
	}
	for _, sub := range subs {
		if sub.Destination == dest && !sub.State.Finished() {
			return sub
		}
	}
	return nil
}

// handleListSubmissions shows an incident's submissions to every
// destination: every attempt with the destination's reply, and what it
// returned (NCMEC's report and file ids, the Transparency Database's
// statement uuids and permalinks).
func (s *Server) handleListSubmissions(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "incident")
	if err != nil {
		writeError(w, r, err)
		return
	}
	if s.Submitter == nil {
		writeError(w, r, vigil.Errorf(vigil.EUNSUPPORTED, "this server does not send reports"))
		return
	}
	if _, err := s.visibleIncident(r, id); err != nil {
		writeError(w, r, err)
		return
	}
	subs, err := s.Submitter.Submissions.IncidentSubmissions(r.Context(), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if subs == nil {
		subs = []*vigil.Submission{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"submissions": subs})
}

func (s *Server) handleAddAccountFacts(w http.ResponseWriter, r *http.Request) {
	if s.Incidents == nil {
		writeError(w, r, errNoIncidents)
		return
	}
	var f vigil.AccountFacts
	if err := decodeJSON(w, r, &f); err != nil {
		writeError(w, r, err)
		return
	}
	user := r.PathValue("user_id")
	if f.UserID != "" && f.UserID != user {
		writeError(w, r, badRequest("user_id in the body differs from the path"))
		return
	}
	f.UserID = user
	var out *vigil.AccountFacts
	rec := auditRecord(r, vigil.AuditAccountFacts, "account:"+user, nil)
	if err := s.change(r, rec, func(ctx context.Context) (err error) {
		out, err = s.Incidents.AddAccountFacts(ctx, &f)
		return err
	}); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleGetAccountFacts(w http.ResponseWriter, r *http.Request) {
	if s.Incidents == nil {
		writeError(w, r, errNoIncidents)
		return
	}
	f, err := s.Incidents.FindAccountFacts(r.Context(), r.PathValue("user_id"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}
