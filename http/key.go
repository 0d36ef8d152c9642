package http

import (
	"net/http"
	"strconv"

	"github.com/vigil-oss/vigil"
)

type createKeyRequest struct {
	Name string     `json:"name"`
	Role vigil.Role `json:"role"`
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
	k := &vigil.Key{Name: req.Name, Role: req.Role, CreatedBy: actor(r)}
	secret, err := s.Keys.CreateKey(r.Context(), k)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.audit(r, vigil.AuditKeyCreate, "key:"+k.Name, map[string]any{"id": k.ID, "role": k.Role})
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
	k, err := s.Keys.RevokeKey(r.Context(), id, actor(r))
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.keys.clear()
	s.ui.sessions.deleteKey(k.ID)
	s.audit(r, vigil.AuditKeyRevoke, "key:"+k.Name, map[string]any{"id": k.ID})
	writeJSON(w, http.StatusOK, k)
}
