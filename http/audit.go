package http

import (
	"context"
	"fmt"
	"net/http"

	"github.com/vigil-oss/vigil"
)

// auditRecord returns the audit record of an action by the request's key.
// detail, if not nil, is encoded when the record is stored, after the
// change, so that what the store fills in (a new bank's id) is included;
// with nil the store may set the detail (vigil.AuditResult).
func auditRecord(r *http.Request, action, target string, detail any) *vigil.AuditRecord {
	rec := &vigil.AuditRecord{Actor: actor(r), Action: action, Target: target}
	if detail != nil {
		rec.Complete = func(rec *vigil.AuditRecord) error { return rec.SetDetail(detail) }
	}
	return rec
}

// change makes a change with fn and records it in the audit log in the
// same store transaction (vigil.WithAudit): if the record cannot be
// stored, the change is not made. fn must make the change with the context
// it is given, in one store write.
func (s *Server) change(r *http.Request, rec *vigil.AuditRecord, fn func(ctx context.Context) error) error {
	if s.Audit == nil {
		return fn(r.Context())
	}
	ctx := vigil.WithAudit(r.Context(), rec)
	if err := fn(ctx); err != nil {
		return err
	}
	if vigil.PendingAudit(ctx) != nil {
		// The store made no write, or does not store attached records:
		// record it now, where a client hanging up cannot stop it.
		if err := s.Audit.AppendAudit(context.WithoutCancel(ctx), rec); err != nil {
			s.Logger.Error("audit record lost", "action", rec.Action, "target", rec.Target, "err", err)
		}
	}
	return nil
}

// audit records an action that changes nothing in the store (an export, a
// login, an admin request). It is stored with a context the client cannot
// cancel; callers that act only once it is recorded check the error.
func (s *Server) audit(r *http.Request, action, target string, detail any) error {
	if s.Audit == nil {
		return nil
	}
	rec := auditRecord(r, action, target, detail)
	if err := s.Audit.AppendAudit(context.WithoutCancel(r.Context()), rec); err != nil {
		s.Logger.Error("audit record lost", "action", action, "target", target, "err", err)
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// auditRequest is audit for a request's own record (admin requests), whose
// failure is logged by audit and leaves nothing more to do.
func (s *Server) auditRequest(r *http.Request, action, target string, detail any) {
	_ = s.audit(r, action, target, detail)
}

// auditAdmin records every use of an admin-only endpoint, whatever its
// outcome. The change an admin request makes has its own record, written
// with the change; this one says the request was made and how it ended.
func (s *Server) auditAdmin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		next(w, r)
		status := 0
		if rec, ok := w.(*recorder); ok {
			status = rec.status
		}
		s.auditRequest(r, vigil.AuditAdminRequest, r.Method+" "+r.URL.Path, map[string]int{"status": status})
	}
}
