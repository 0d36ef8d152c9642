package http

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/vigil-oss/vigil"
)

// complaintRoutes registers the complaints API: the platform (a matcher
// key) forwards a user's complaint about an action; reviewers work the
// queue, each complaint decided by someone other than the original
// decider, every change audited.
func (s *Server) complaintRoutes() {
	const (
		matcher  = vigil.RoleMatcher
		reviewer = vigil.RoleReviewer
		curator  = vigil.RoleCurator
	)
	s.route("POST /v1/complaints", s.handleCreateComplaint, matcher)
	s.route("GET /v1/complaints", s.handleListComplaints, reviewer, curator)
	s.route("GET /v1/complaints/{id}", s.handleGetComplaint, reviewer, curator)
	s.route("POST /v1/complaints/{id}/decide", s.handleDecideComplaint, reviewer)
}

var errNoComplaints = vigil.Errorf(vigil.EUNSUPPORTED, "this server has no complaints store")

// complaintView is a complaint as the API shows it: with its age, the
// deadline a reviewer works to.
type complaintView struct {
	*vigil.Complaint
	AgeSeconds int64 `json:"age_seconds"`
}

func (s *Server) complaintView(k *vigil.Complaint) complaintView {
	return complaintView{Complaint: k, AgeSeconds: int64(k.Age(s.now()) / time.Second)}
}

func (s *Server) now() time.Time {
	if s.Respond != nil && s.Respond.Now != nil {
		return s.Respond.Now()
	}
	return time.Now()
}

// visibleComplaint returns complaint id if the caller may see its case.
func (s *Server) visibleComplaint(r *http.Request, id int64) (*vigil.Complaint, error) {
	if s.Complaints == nil {
		return nil, errNoComplaints
	}
	k, err := s.Complaints.FindComplaint(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if _, err := s.visibleCase(r, k.CaseID); vigil.ErrorCode(err) == vigil.ENOTFOUND {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "complaint %d not found", id)
	} else if err != nil {
		return nil, err
	}
	return k, nil
}

type createComplaintRequest struct {
	Reference string `json:"reference"`
	UserID    string `json:"user_id,omitempty"`
	Text      string `json:"text"`
}

// createComplaint stores a complaint from the caller (the platform),
// audited (vigil.AuditComplaintCreate).
func (s *Server) createComplaint(r *http.Request, k *vigil.Complaint) error {
	if s.Complaints == nil {
		return errNoComplaints
	}
	if err := k.Validate(); err != nil {
		return err
	}
	rec := auditRecord(r, vigil.AuditComplaintCreate, "complaint:new", nil)
	rec.Complete = func(rec *vigil.AuditRecord) error {
		rec.Target = vigil.ComplaintAuditTarget(k.ID)
		return rec.SetDetail(map[string]any{"case": caseAuditTarget(k.CaseID), "reference": k.Reference})
	}
	return s.change(r, rec, func(ctx context.Context) error { return s.Complaints.CreateComplaint(ctx, k, actor(r)) })
}

func (s *Server) handleCreateComplaint(w http.ResponseWriter, r *http.Request) {
	var req createComplaintRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	k := &vigil.Complaint{Reference: req.Reference, UserID: req.UserID, Text: req.Text}
	if err := s.createComplaint(r, k); err != nil {
		writeError(w, r, err)
		return
	}
	// The platform hears the id and state, not who decided the case.
	writeJSON(w, http.StatusCreated, map[string]any{"id": k.ID, "case_id": k.CaseID, "state": k.State, "created_at": k.CreatedAt})
}

// listComplaints reads a page of complaints (state, case_id and the
// paging contract), leaving out those about cases the caller may not see.
func (s *Server) listComplaints(r *http.Request) ([]complaintView, int64, error) {
	if s.Complaints == nil {
		return nil, 0, errNoComplaints
	}
	q := r.URL.Query()
	p, err := readPage(q, casePages)
	if err != nil {
		return nil, 0, err
	}
	f := vigil.ComplaintFilter{AfterID: p.afterID, Limit: p.limit}
	switch st := vigil.ComplaintState(q.Get("state")); st {
	case "", vigil.ComplaintOpen, vigil.ComplaintUpheld, vigil.ComplaintRejected:
		f.State = st
	default:
		return nil, 0, badRequest("state must be open, upheld or rejected")
	}
	if v := q.Get("case_id"); v != "" {
		if f.CaseID, err = strconv.ParseInt(v, 10, 64); err != nil || f.CaseID <= 0 {
			return nil, 0, badRequest("case_id must be a positive integer")
		}
	}
	list, err := s.Complaints.ListComplaints(r.Context(), f)
	if err != nil {
		return nil, 0, err
	}
	next := nextAfter(p, list, func(k *vigil.Complaint) int64 { return k.ID })
	out := make([]complaintView, 0, len(list))
	for _, k := range list {
		if _, err := s.visibleCase(r, k.CaseID); vigil.ErrorCode(err) == vigil.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, 0, err
		}
		out = append(out, s.complaintView(k))
	}
	return out, next, nil
}

func (s *Server) handleListComplaints(w http.ResponseWriter, r *http.Request) {
	list, next, err := s.listComplaints(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writePage(w, "complaints", list, next)
}

func (s *Server) handleGetComplaint(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "complaint")
	if err != nil {
		writeError(w, r, err)
		return
	}
	k, err := s.visibleComplaint(r, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.complaintView(k))
}

// decideComplaint records the caller's outcome of complaint id, audited
// (vigil.AuditComplaintDecide): the one place complaints are decided, for
// the API and the UI. An upheld complaint's reversal is sent to the
// platform by the notice loop (respond.Notices), from the store, so it
// survives a crash after this commit.
func (s *Server) decideComplaint(r *http.Request, id int64, d vigil.ComplaintDecision) (*vigil.Complaint, error) {
	if _, err := s.visibleComplaint(r, id); err != nil {
		return nil, err
	}
	d.DecidedBy = actor(r)
	outcome := "rejected"
	if d.Upheld {
		outcome = "upheld"
	}
	rec := auditRecord(r, vigil.AuditComplaintDecide, vigil.ComplaintAuditTarget(id), map[string]string{"outcome": outcome, "reasons": d.Reasons})
	var k *vigil.Complaint
	err := s.change(r, rec, func(ctx context.Context) (err error) {
		k, err = s.Complaints.DecideComplaint(ctx, id, d)
		return err
	})
	return k, err
}

type decideComplaintRequest struct {
	Outcome string `json:"outcome"` // upheld or rejected
	Reasons string `json:"reasons"`
}

func (s *Server) handleDecideComplaint(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "complaint")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req decideComplaintRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	var d vigil.ComplaintDecision
	switch req.Outcome {
	case "upheld":
		d.Upheld = true
	case "rejected":
	default:
		writeError(w, r, badRequest("outcome must be upheld or rejected"))
		return
	}
	d.Reasons = req.Reasons
	k, err := s.decideComplaint(r, id, d)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.complaintView(k))
}
