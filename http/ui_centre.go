package http

import (
	"net/http"
	"slices"
	"strconv"

	"github.com/vigil-oss/vigil"
)

// uiCentreRoutes registers the centre's pages (vigil serve --centre), for
// its reviewers: the received reports and one report with its decision.
func (s *Server) uiCentreRoutes(page func(pattern string, h http.HandlerFunc, roles ...vigil.Role)) {
	const reviewer = vigil.RoleReviewer
	page("GET /ui/centre", s.handleUICentre, reviewer)
	page("GET /ui/centre/next", s.handleUICentreNext, reviewer)
	page("GET /ui/centre/{id}", s.handleUICentreReport, reviewer)
	page("POST /ui/centre/{id}/decide", s.handleUICentreDecide, reviewer)
	page("POST /ui/centre/{id}/forward", s.handleUICentreForward, reviewer)
}

func (s *Server) handleUICentre(w http.ResponseWriter, r *http.Request) {
	c, err := s.centre()
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	q := r.URL.Query()
	p := page{limit: incidentPageSize}
	if p.afterID, err = queryAfterID(q); err != nil {
		s.uiError(w, r, err)
		return
	}
	status := vigil.CentreStatus(q.Get("status"))
	if status != "" && !status.Valid() {
		s.uiError(w, r, badRequest("status is received, forwarded, unfounded or more_info"))
		return
	}
	list, err := c.Reports.ListCentreReports(r.Context(), vigil.CentreFilter{Status: status, AfterID: p.afterID, Limit: p.limit})
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "centre.html", "Centre reports", "centre", map[string]any{
		"Reports": list, "NextAfter": nextAfter(p, list, func(r *vigil.CentreReport) int64 { return r.ID }),
		"Status": string(status), "States": []string{"", "received", "more_info", "forwarded", "unfounded"},
	})
}

func (s *Server) handleUICentreNext(w http.ResponseWriter, r *http.Request) {
	c, err := s.centre()
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	rep, err := c.Reports.NextCentreReport(r.Context())
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/centre/"+strconv.FormatInt(rep.ID, 10), http.StatusSeeOther)
}

func (s *Server) handleUICentreReport(w http.ResponseWriter, r *http.Request) {
	c, id, err := s.centreReportID(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	rep, err := c.Reports.FindCentreReport(r.Context(), id)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	var dests []string
	if c.Outcome != nil {
		for name := range c.Outcome.Destinations {
			dests = append(dests, name)
		}
		slices.Sort(dests)
	}
	s.render(w, r, http.StatusOK, "centre_report.html", "Centre report "+strconv.FormatInt(id, 10), "centre", map[string]any{
		"Report": rep, "Destinations": dests,
		"Open": rep.Status == vigil.CentreReceived || rep.Status == vigil.CentreMoreInfo,
	})
}

// handleUICentreDecide is the decision form: the API's decision, with the
// form's one text field as the reason (unfounded) or message (more_info).
func (s *Server) handleUICentreDecide(w http.ResponseWriter, r *http.Request) {
	c, id, err := s.centreReportID(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	d := vigil.CentreDecision{Status: vigil.CentreStatus(r.PostFormValue("status"))}
	switch d.Status {
	case vigil.CentreForwarded:
		d.ForwardTo = r.PostFormValue("forward_to")
	case vigil.CentreUnfounded:
		d.Reason = r.PostFormValue("text")
	case vigil.CentreMoreInfo:
		d.Message = r.PostFormValue("text")
	}
	if _, err := s.centreDecide(r, c, id, d); err != nil {
		s.uiError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/centre/"+strconv.FormatInt(id, 10)+"?done=decided", http.StatusSeeOther)
}

// handleUICentreForward queues a failed forward again: the API's retry.
func (s *Server) handleUICentreForward(w http.ResponseWriter, r *http.Request) {
	c, id, err := s.centreReportID(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	if _, err := s.centreRetry(r, c, id); err != nil {
		s.uiError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/centre/"+strconv.FormatInt(id, 10)+"?done=queued", http.StatusSeeOther)
}
