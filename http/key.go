package http

import (
	"context"
	"net/http"
	"strconv"

	"github.com/vigil-oss/vigil"
)

type createKeyRequest struct {
	Name string     `json:"name"`
	Role vigil.Role `json:"role"`
	// Limits are the key's own lookup limits; absent: the defaults.
	Limits *vigil.KeyLimits `json:"limits"`
}

type createKeyResponse struct {
	Key    *vigil.Key `json:"key"`
	Secret string     `json:"secret"` // shown once; only its hash is stored
}

func (s *Server) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	var req createKeyRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	k := &vigil.Key{Name: req.Name, Role: req.Role, CreatedBy: actor(r), Limits: req.Limits}
	rec := auditRecord(r, vigil.AuditKeyCreate, "key", nil)
	// The target names the key by the id the store gives it.
	rec.Complete = keyRecord(k)
	var secret string
	err := s.change(r, rec, func(ctx context.Context) (err error) {
		secret, err = s.Keys.CreateKey(ctx, k)
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, createKeyResponse{Key: k, Secret: secret})
}

func (s *Server) handleListKeys(w http.ResponseWriter, r *http.Request) {
	p, err := readPage(r.URL.Query(), smallPages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	keys, err := s.Keys.ListKeys(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	keys, next := cutPage(p, keys, func(k *vigil.Key) int64 { return k.ID })
	writePage(w, "keys", keys, next)
}

func (s *Server) handleRevokeKey(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, r, badRequest("key id must be a positive integer"))
		return
	}
	// A key's name and role never change: read them for the record.
	k, err := s.Keys.FindKeyByID(r.Context(), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rec := auditRecord(r, vigil.AuditKeyRevoke, "key", nil)
	rec.Complete = keyRecord(k)
	err = s.change(r, rec, func(ctx context.Context) (err error) {
		k, err = s.Keys.RevokeKey(ctx, id, actor(r))
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.keys.clear()
	// The store already refuses a revoked key's sessions; this removes
	// them.
	if s.Sessions != nil {
		if _, err := s.Sessions.DeleteKeySessions(r.Context(), k.ID); err != nil {
			s.Logger.Error("revoked key's sessions not deleted", "key", k.ID, "err", err)
		}
	}
	writeJSON(w, http.StatusOK, k)
}

// setKeyLimitsRequest is the body of PUT /v1/keys/{id}/limits: the
// key's own limits, or null for the defaults again.
type setKeyLimitsRequest struct {
	Limits *vigil.KeyLimits `json:"limits,omitempty"`
}

func (s *Server) handleSetKeyLimits(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, r, badRequest("key id must be a positive integer"))
		return
	}
	var req setKeyLimitsRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	k, err := s.Keys.FindKeyByID(r.Context(), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rec := auditRecord(r, vigil.AuditKeyLimits, k.Actor(), req)
	err = s.change(r, rec, func(ctx context.Context) (err error) {
		k, err = s.Keys.SetKeyLimits(ctx, id, req.Limits)
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	// At once here; other replicas within the key cache's lifetime.
	s.keys.clear()
	writeJSON(w, http.StatusOK, k)
}

// keyRecord returns an AuditRecord.Complete that names key k, as the store
// has it once the change is made, in the record: its actor form as target
// (names repeat; ids do not), its id and role as detail.
func keyRecord(k *vigil.Key) func(rec *vigil.AuditRecord) error {
	return func(rec *vigil.AuditRecord) error {
		rec.Target = k.Actor()
		detail := map[string]any{"id": k.ID, "role": k.Role}
		if k.Limits != nil {
			detail["limits"] = k.Limits
		}
		return rec.SetDetail(detail)
	}
}
