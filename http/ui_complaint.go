package http

import (
	"net/http"
	"time"

	"github.com/vigil-oss/vigil"
)

// uiComplaintRoutes registers the complaints queue of the review UI.
func (s *Server) uiComplaintRoutes(page func(pattern string, h http.HandlerFunc, roles ...vigil.Role)) {
	page("GET /ui/complaints", s.handleUIComplaints, vigil.RoleReviewer, vigil.RoleCurator)
	page("POST /ui/complaints/{id}/decide", s.handleUIDecideComplaint, vigil.RoleReviewer)
}

// uiComplaint is a complaint as the queue shows it.
type uiComplaint struct {
	complaintView
	Age  string
	Mine bool // the viewer made the decision complained about
}

func (s *Server) handleUIComplaints(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("state") == "" {
		q.Set("state", string(vigil.ComplaintOpen))
		r.URL.RawQuery = q.Encode()
	}
	list, next, err := s.listComplaints(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	me := actor(r)
	out := make([]uiComplaint, 0, len(list))
	for _, k := range list {
		out = append(out, uiComplaint{complaintView: k, Age: humanDuration(time.Duration(k.AgeSeconds) * time.Second),
			Mine: vigil.SameReviewer(me, k.OriginalDecider)})
	}
	s.render(w, r, http.StatusOK, "complaints.html", "Complaints", "complaints", map[string]any{
		"Complaints": out, "NextAfter": next, "State": q.Get("state"),
	})
}

func (s *Server) handleUIDecideComplaint(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "complaint")
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	var d vigil.ComplaintDecision
	switch r.PostFormValue("outcome") {
	case "upheld":
		d.Upheld = true
	case "rejected":
	default:
		s.uiError(w, r, badRequest("outcome must be upheld or rejected"))
		return
	}
	if d.Reasons, err = formText(r, "reasons", vigil.MaxComplaintReasonsLen*4); err != nil {
		s.uiError(w, r, err)
		return
	}
	if _, err := s.decideComplaint(r, id, d); err != nil {
		s.uiError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/complaints?done=complaint", http.StatusSeeOther)
}
