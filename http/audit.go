package http

import (
	"encoding/json"
	"net/http"

	"github.com/vigil-oss/vigil"
)

// audit records an action in the audit log with the request's key as the
// actor. A failure to record is logged loudly; the action itself has
// already happened and is not undone.
func (s *Server) audit(r *http.Request, action, target string, detail any) {
	if s.Audit == nil {
		return
	}
	rec := &vigil.AuditRecord{Actor: actor(r), Action: action, Target: target}
	if detail != nil {
		b, err := json.Marshal(detail)
		if err == nil {
			rec.Detail = string(b)
		}
	}
	if err := s.Audit.AppendAudit(r.Context(), rec); err != nil {
		s.Logger.Error("audit record lost", "action", action, "target", target, "err", err)
	}
}

// auditAdmin records every use of an admin-only endpoint, whatever its
// outcome.
func (s *Server) auditAdmin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next(w, r)
		status := 0
		if rec, ok := w.(*recorder); ok {
			status = rec.status
		}
		s.audit(r, vigil.AuditAdminRequest, r.Method+" "+r.URL.Path, map[string]int{"status": status})
	}
}
