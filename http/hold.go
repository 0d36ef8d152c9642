package http

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/vigil-oss/vigil"
)

// holdRoutes registers the legal hold API. Holds keep an incident or a
// case, and its evidence, past its retention; only curators (and admins)
// make, extend and release them, every change audited.
func (s *Server) holdRoutes() {
	const curator = vigil.RoleCurator
	s.route("GET /v1/holds", s.handleListHolds, curator)
	s.route("POST /v1/holds", s.handleCreateHold, curator)
	s.route("GET /v1/holds/{id}", s.handleGetHold, curator)
	s.route("POST /v1/holds/{id}/extend", s.handleExtendHold, curator)
	s.route("POST /v1/holds/{id}/release", s.handleReleaseHold, curator)
}

var errNoPreservation = vigil.Errorf(vigil.EUNSUPPORTED, "this server has no preservation store")

// visibleHoldTarget checks that the caller may see what a hold names; a
// target they may not see is reported as not found.
func (s *Server) visibleHoldTarget(r *http.Request, h *vigil.Hold) error {
	if h.IncidentID != 0 {
		_, err := s.visibleIncident(r, h.IncidentID)
		return err
	}
	if h.CaseID != 0 {
		_, err := s.visibleCase(r, h.CaseID)
		return err
	}
	return nil
}

// visibleHold returns hold id if the caller may see what it holds.
func (s *Server) visibleHold(r *http.Request, id int64) (*vigil.Hold, error) {
	if s.Preservation == nil {
		return nil, errNoPreservation
	}
	h, err := s.Preservation.FindHold(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if err := s.visibleHoldTarget(r, h); vigil.ErrorCode(err) == vigil.ENOTFOUND {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "hold %d not found", id)
	} else if err != nil {
		return nil, err
	}
	return h, nil
}

// createHold stores h for the caller and audits it (vigil.AuditHoldCreate):
// the one place holds are made, for the JSON API and the UI alike.
func (s *Server) createHold(r *http.Request, h *vigil.Hold) error {
	if s.Preservation == nil {
		return errNoPreservation
	}
	if (h.IncidentID == 0) == (h.CaseID == 0) {
		// Before looking either up: a request naming both is malformed,
		// whatever exists.
		return badRequest("a hold names exactly one of incident_id and case_id")
	}
	if err := s.visibleHoldTarget(r, h); err != nil {
		return err
	}
	rec := auditRecord(r, vigil.AuditHoldCreate, "hold:new", nil)
	rec.Complete = func(rec *vigil.AuditRecord) error {
		rec.Target = vigil.HoldAuditTarget(h.ID)
		return rec.SetDetail(map[string]any{"holds": h.Target(), "reason": h.Reason, "requested_by": h.RequestedBy, "until": h.Until})
	}
	return s.change(r, rec, func(ctx context.Context) error { return s.Preservation.CreateHold(ctx, h, actor(r)) })
}

// extendHold moves hold id's end to until, audited (vigil.AuditHoldExtend).
func (s *Server) extendHold(r *http.Request, id int64, until time.Time) (*vigil.Hold, error) {
	old, err := s.visibleHold(r, id)
	if err != nil {
		return nil, err
	}
	var h *vigil.Hold
	rec := auditRecord(r, vigil.AuditHoldExtend, vigil.HoldAuditTarget(id),
		map[string]any{"holds": old.Target(), "from": old.Until, "until": until.UTC()})
	err = s.change(r, rec, func(ctx context.Context) (err error) {
		h, err = s.Preservation.ExtendHold(ctx, id, until, actor(r))
		return err
	})
	return h, err
}

// releaseHold ends hold id now, audited (vigil.AuditHoldRelease).
func (s *Server) releaseHold(r *http.Request, id int64, reason string) (*vigil.Hold, error) {
	old, err := s.visibleHold(r, id)
	if err != nil {
		return nil, err
	}
	var h *vigil.Hold
	rec := auditRecord(r, vigil.AuditHoldRelease, vigil.HoldAuditTarget(id), map[string]any{"holds": old.Target(), "reason": reason})
	err = s.change(r, rec, func(ctx context.Context) (err error) {
		h, err = s.Preservation.ReleaseHold(ctx, id, reason, actor(r))
		return err
	})
	return h, err
}

type createHoldRequest struct {
	IncidentID  int64     `json:"incident_id,omitempty"`
	CaseID      int64     `json:"case_id,omitempty"`
	Reason      string    `json:"reason"`
	RequestedBy string    `json:"requested_by,omitempty"`
	Until       time.Time `json:"until"`
}

func (s *Server) handleCreateHold(w http.ResponseWriter, r *http.Request) {
	var req createHoldRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	h := &vigil.Hold{IncidentID: req.IncidentID, CaseID: req.CaseID, Reason: req.Reason, RequestedBy: req.RequestedBy, Until: req.Until}
	if err := s.createHold(r, h); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, h)
}

func (s *Server) handleGetHold(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "hold")
	if err != nil {
		writeError(w, r, err)
		return
	}
	h, err := s.visibleHold(r, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

// listHolds reads a page of holds as the query asks (active, incident_id,
// case_id and the paging contract), leaving out those the caller may not
// see, and returns it with its next_after_id.
func (s *Server) listHolds(r *http.Request) ([]*vigil.Hold, int64, error) {
	if s.Preservation == nil {
		return nil, 0, errNoPreservation
	}
	q := r.URL.Query()
	p, err := readPage(q, casePages)
	if err != nil {
		return nil, 0, err
	}
	f := vigil.HoldFilter{AfterID: p.afterID, Limit: p.limit}
	if a := q.Get("active"); a != "" {
		v, err := strconv.ParseBool(a)
		if err != nil {
			return nil, 0, badRequest("active must be true or false")
		}
		f.Active = &v
	}
	for name, dst := range map[string]*int64{"incident_id": &f.IncidentID, "case_id": &f.CaseID} {
		if v := q.Get(name); v != "" {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 {
				return nil, 0, badRequest("%s must be a positive integer", name)
			}
			*dst = id
		}
	}
	list, err := s.Preservation.ListHolds(r.Context(), f)
	if err != nil {
		return nil, 0, err
	}
	next := nextAfter(p, list, func(h *vigil.Hold) int64 { return h.ID })
	out := make([]*vigil.Hold, 0, len(list))
	for _, h := range list {
		if err := s.visibleHoldTarget(r, h); vigil.ErrorCode(err) == vigil.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, 0, err
		}
		out = append(out, h)
	}
	return out, next, nil
}

func (s *Server) handleListHolds(w http.ResponseWriter, r *http.Request) {
	list, next, err := s.listHolds(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writePage(w, "holds", list, next)
}

type extendHoldRequest struct {
	Until time.Time `json:"until"`
}

func (s *Server) handleExtendHold(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "hold")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req extendHoldRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	h, err := s.extendHold(r, id, req.Until)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}

type releaseHoldRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) handleReleaseHold(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "hold")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req releaseHoldRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	h, err := s.releaseHold(r, id, req.Reason)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, h)
}
