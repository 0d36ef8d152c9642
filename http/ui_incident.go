package http

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/report"
)

// uiIncidentRoutes registers the incident and legal hold pages. Roles
// follow the API's: incidents are for reviewers and curators, holds for
// curators (admin always).
func (s *Server) uiIncidentRoutes(page func(pattern string, h http.HandlerFunc, roles ...vigil.Role)) {
	const (
		curator  = vigil.RoleCurator
		reviewer = vigil.RoleReviewer
	)
	page("GET /ui/incidents", s.handleUIIncidents, reviewer, curator)
	page("GET /ui/incidents/{id}", s.handleUIIncident, reviewer, curator)
	page("POST /ui/incidents/{id}/approve", s.handleUIApproveIncident, reviewer, curator)
	page("POST /ui/incidents/{id}/submit", s.handleUISubmitIncident, reviewer, curator)
	page("GET /ui/holds", s.handleUIHolds, curator)
	page("POST /ui/holds", s.handleUICreateHold, curator)
	page("POST /ui/holds/{id}/extend", s.handleUIExtendHold, curator)
	page("POST /ui/holds/{id}/release", s.handleUIReleaseHold, curator)
}

// incidentPageSize is how many incidents (or holds) a list page shows.
const incidentPageSize = 50

func (s *Server) handleUIIncidents(w http.ResponseWriter, r *http.Request) {
	if s.Incidents == nil {
		s.uiError(w, r, errNoIncidents)
		return
	}
	q := r.URL.Query()
	p := page{limit: incidentPageSize}
	var err error
	if p.afterID, err = queryAfterID(q); err != nil {
		s.uiError(w, r, err)
		return
	}
	f := vigil.IncidentFilter{AfterID: p.afterID, Limit: p.limit}
	state := q.Get("state")
	switch st := vigil.IncidentState(state); st {
	case "":
	case vigil.IncidentDraft, vigil.IncidentApproved:
		f.States = []vigil.IncidentState{st}
	default:
		s.uiError(w, r, badRequest("state must be draft or approved"))
		return
	}
	list, err := s.Incidents.ListIncidents(r.Context(), f)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	next := nextAfter(p, list, func(i *vigil.Incident) int64 { return i.ID })
	shown := make([]*vigil.Incident, 0, len(list))
	for _, inc := range list {
		if ok, err := s.seesCases(r, inc.CaseIDs); err != nil {
			s.uiError(w, r, err)
			return
		} else if ok {
			shown = append(shown, inc)
		}
	}
	s.render(w, r, http.StatusOK, "incidents.html", "Incidents", "incidents", map[string]any{
		"Incidents": shown, "NextAfter": next, "State": state,
	})
}

// incidentPage is what the incident page shows: the incident, what would
// be sent and whether NCMEC's schema takes it, the submissions with every
// attempt and reply, its holds and how long it is kept.
type incidentPage struct {
	Inc *vigil.Incident
	// Rendering is the NCMEC report as report.Render makes it for the API
	// and the CLI; RenderNote says why there is none.
	Rendering  *report.Rendering
	RenderNote string
	// Submissions are nil when this server does not send reports.
	Submissions []*vigil.Submission
	Sends       bool // the server sends reports (submit is offered)
	// Sendings are the destinations offered, each with its unfinished
	// submission, if any: submitting again queues it.
	Sendings  []uiSending
	Holds     []*vigil.Hold
	Kept      string // how long preservation keeps the incident
	ShowMedia bool   // the caller may see the cases' blurred previews
	CaseLinks bool   // the caller may open the case pages
	HoldsURL  string
}

func (s *Server) handleUIIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "incident")
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	inc, err := s.visibleIncident(r, id)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	role := callerRole(r)
	p := incidentPage{Inc: inc, Sends: s.Submitter != nil && s.SubmissionQueue != nil,
		ShowMedia: role == vigil.RoleAdmin || role == vigil.RoleReviewer}
	p.CaseLinks = p.ShowMedia
	if s.NCMEC == nil {
		p.RenderNote = "This server has no NCMEC reporting configured (vigil serve --ncmec-config)."
	} else if p.Rendering, err = report.Render(r.Context(), s.Incidents, s.NCMECValidator, inc, *s.NCMEC); vigil.ErrorCode(err) == vigil.ECONFLICT {
		// A purged incident: report.Facts says why nothing renders.
		p.Rendering, p.RenderNote = nil, vigil.ErrorMessage(err)
	} else if err != nil {
		s.uiError(w, r, err)
		return
	}
	if s.Submitter != nil {
		if p.Submissions, err = s.Submitter.Submissions.IncidentSubmissions(r.Context(), id); err != nil {
			s.uiError(w, r, err)
			return
		}
		for _, d := range s.Submitter.Destinations {
			sd := uiSending{Destination: d.Name()}
			// Only the NCMEC rendering is shown here: its refusal is known.
			sd.Invalid = d.Name() == report.DestinationNCMEC && p.Rendering != nil && !p.Rendering.Valid
			for _, sub := range p.Submissions {
				if sub.Destination == d.Name() && !sub.State.Finished() {
					sd.Live = sub
				}
			}
			p.Sendings = append(p.Sendings, sd)
		}
	}
	var active bool
	if s.Preservation != nil {
		// The incident's own holds and its cases': a hold on any of them
		// keeps the incident, as the purge decides.
		filters := []vigil.HoldFilter{{IncidentID: id, Limit: vigil.MaxCaseLimit}}
		for _, c := range inc.CaseIDs {
			filters = append(filters, vigil.HoldFilter{CaseID: c, Limit: vigil.MaxCaseLimit})
		}
		for _, f := range filters {
			holds, err := s.Preservation.ListHolds(r.Context(), f)
			if err != nil {
				s.uiError(w, r, err)
				return
			}
			p.Holds = append(p.Holds, holds...)
		}
		now := time.Now()
		active = slices.ContainsFunc(p.Holds, func(h *vigil.Hold) bool { return h.Active(now) })
		p.HoldsURL = "/ui/holds?incident_id=" + strconv.FormatInt(id, 10)
	}
	p.Kept = s.keptText(inc, p.Submissions, active)
	s.render(w, r, http.StatusOK, "incident.html", "Incident "+strconv.FormatInt(id, 10), "incidents", p)
}

// keptText says how long preservation keeps inc, as the purge decides it
// (vigil.RetentionPolicy.RetainUntil under the server's Retention).
func (s *Server) keptText(inc *vigil.Incident, subs []*vigil.Submission, held bool) string {
	switch {
	case inc.PurgedAt != nil && inc.State == vigil.IncidentDraft:
		return "Discarded " + inc.PurgedAt.UTC().Format("2006-01-02 15:04 UTC") + ": a draft never approved, unchanged for longer than its lifetime."
	case inc.PurgedAt != nil:
		return "Purged " + inc.PurgedAt.UTC().Format("2006-01-02 15:04 UTC") + ", when its retention ended."
	case inc.State == vigil.IncidentDraft && held:
		return "A draft: a legal hold keeps it, and its cases' evidence, however long it stays unchanged."
	case inc.State == vigil.IncidentDraft:
		return "A draft: kept with its cases' evidence, and discarded at " +
			inc.UpdatedAt.Add(s.Retention.DraftLifetime()).UTC().Format("2006-01-02 15:04 UTC") +
			" unless edited, approved or held before (vigil serve --draft-retention)."
	}
	var text string
	if until, ok := s.Retention.RetainUntil(subs); !ok {
		text = "Kept with its cases' evidence: it has not been sent (or a submission is under way)."
	} else {
		text = "Kept with its cases' evidence until " + until.UTC().Format("2006-01-02 15:04 UTC") +
			", by the retention policy " + s.Retention.String() + " (months after submission, by destination)."
	}
	if held {
		text += " A legal hold keeps it longer."
	}
	return text
}

func (s *Server) handleUIApproveIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "incident")
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	if s.Incidents == nil {
		s.uiError(w, r, errNoIncidents)
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		s.uiError(w, r, badRequest("tick the box to confirm that the incident is what should be sent"))
		return
	}
	if _, err := s.approveIncident(r, id); err != nil {
		s.uiError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/incidents/"+strconv.FormatInt(id, 10)+"?done=approved", http.StatusSeeOther)
}

// uiSending is one destination the incident page offers to send to.
type uiSending struct {
	Destination string
	Live        *vigil.Submission // unfinished: sending again queues it
	Invalid     bool              // the rendering shown was refused
}

func (s *Server) handleUISubmitIncident(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "incident")
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	dest := r.PostFormValue("destination")
	if dest == "" {
		dest = report.DestinationNCMEC
	}
	if _, err := s.submitIncident(r, id, dest); err != nil {
		s.uiError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/incidents/"+strconv.FormatInt(id, 10)+"?done=submitted", http.StatusSeeOther)
}

func (s *Server) handleUIHolds(w http.ResponseWriter, r *http.Request) {
	if s.Preservation == nil {
		s.uiError(w, r, errNoPreservation)
		return
	}
	// listHolds reads the same query parameters as the API's list, with
	// the UI's page size unless the link says otherwise.
	holds, next, err := s.listHolds(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	q := r.URL.Query()
	now := time.Now()
	s.render(w, r, http.StatusOK, "holds.html", "Legal holds", "holds", map[string]any{
		"Holds": holds, "NextAfter": next, "Now": now, "Active": q.Get("active"),
		"IncidentID": q.Get("incident_id"), "CaseID": q.Get("case_id"),
		"Tomorrow": now.UTC().AddDate(0, 0, 1).Format(time.DateOnly), "MaxDays": int(vigil.MaxHoldPeriod.Hours() / 24),
	})
}

// formDay reads a day (YYYY-MM-DD) from a form: a hold runs to the end of
// that day, UTC.
func formDay(r *http.Request, field string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, r.PostFormValue(field))
	if err != nil {
		return time.Time{}, badRequest("%s must be a day YYYY-MM-DD", field)
	}
	return d.AddDate(0, 0, 1), nil
}

func (s *Server) handleUICreateHold(w http.ResponseWriter, r *http.Request) {
	h := &vigil.Hold{}
	idText := r.PostFormValue("id")
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 {
		s.uiError(w, r, badRequest("give the id of the incident or case to hold"))
		return
	}
	switch r.PostFormValue("kind") {
	case "incident":
		h.IncidentID = id
	case "case":
		h.CaseID = id
	default:
		s.uiError(w, r, badRequest("choose whether an incident or a case is held"))
		return
	}
	if h.Reason, err = formText(r, "reason", vigil.MaxHoldReasonLen*4); err != nil {
		s.uiError(w, r, err)
		return
	}
	if h.RequestedBy, err = formText(r, "requested_by", vigil.MaxEntryFieldLen); err != nil {
		s.uiError(w, r, err)
		return
	}
	if h.Until, err = formDay(r, "until"); err != nil {
		s.uiError(w, r, err)
		return
	}
	if err := s.createHold(r, h); err != nil {
		s.uiError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/holds?done=hold", http.StatusSeeOther)
}

func (s *Server) handleUIExtendHold(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "hold")
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	until, err := formDay(r, "until")
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	if _, err := s.extendHold(r, id, until); err != nil {
		s.uiError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/holds?done=hold", http.StatusSeeOther)
}

func (s *Server) handleUIReleaseHold(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "hold")
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	reason, err := formText(r, "reason", vigil.MaxHoldReasonLen*4)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	if _, err := s.releaseHold(r, id, reason); err != nil {
		s.uiError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/holds?done=released", http.StatusSeeOther)
}
