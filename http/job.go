package http

import (
	"net/http"
	"strconv"

	"github.com/vigil-oss/vigil"
)

// jobRoutes registers the background job endpoints.
func (s *Server) jobRoutes() {
	s.route("POST /v1/jobs", s.handleSubmitJob, vigil.RoleMatcher, vigil.RoleCurator)
	s.route("GET /v1/jobs/{id}", s.handleGetJob, vigil.RoleMatcher, vigil.RoleCurator)
}

// handleSubmitJob spools an uploaded image or video (a raw body, or the
// "file" part of a multipart form) and queues a job that hashes and
// matches it; the answer comes at once, the result later through
// GET /v1/jobs/{id} and the optional webhook.
func (s *Server) handleSubmitJob(w http.ResponseWriter, r *http.Request) {
	if s.Jobs == nil {
		writeError(w, r, vigil.Errorf(vigil.EUNSUPPORTED, "background jobs are not enabled on this server"))
		return
	}
	if isText(r) {
		writeError(w, r, vigil.Errorf(vigil.EUNSUPPORTED, "jobs take images and videos; match text with POST /v1/match"))
		return
	}
	opts, err := matchOptions(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	webhook := r.URL.Query().Get("webhook")
	ids, err := platformIDs(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	src, err := s.uploadBody(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var by int64
	if k := keyFrom(r.Context()); k != nil {
		by = k.ID
	}
	job, err := s.Jobs.SubmitContent(r.Context(), src, vigil.ContentJobOptions{Match: opts, Webhook: webhook, SubmittedBy: by,
		ContentID: ids.ContentID, UserID: ids.UserID})
	if err != nil {
		writeError(w, r, err)
		return
	}
	if rec, ok := w.(*recorder); ok {
		rec.content = job.ContentSHA256
	}
	w.Header().Set("Location", "/v1/jobs/"+strconv.FormatInt(job.ID, 10))
	writeJSON(w, http.StatusAccepted, job)
}

// handleGetJob shows a content job's state and, once completed, its
// result (the body POST /v1/match would have answered).
func (s *Server) handleGetJob(w http.ResponseWriter, r *http.Request) {
	if s.Jobs == nil {
		writeError(w, r, vigil.Errorf(vigil.ENOTFOUND, "no such job"))
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, r, badRequest("job id must be a positive integer"))
		return
	}
	job, err := s.Jobs.FindJob(r.Context(), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	// Webhook deliveries are jobs too, but internal ones: their events may
	// concern other callers' content. A content job's result is its
	// submitter's (ids are sequential, so others could walk them); admins
	// see every job. Either way a job not shown is not found.
	k := keyFrom(r.Context())
	if job.Kind != vigil.JobKindContent || k == nil || (k.Role != vigil.RoleAdmin && k.ID != job.SubmittedBy) {
		writeError(w, r, vigil.Errorf(vigil.ENOTFOUND, "job %d not found", id))
		return
	}
	writeJSON(w, http.StatusOK, job)
}
