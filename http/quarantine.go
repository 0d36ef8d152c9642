package http

import (
	"context"
	"net/http"
	"strconv"

	"github.com/vigil-oss/vigil"
)

// quarantineRoutes registers the curators' view of quarantined entries and
// the calls that quarantine and release them.
func (s *Server) quarantineRoutes() {
	const curator = vigil.RoleCurator
	s.route("GET /v1/quarantine", s.handleListQuarantine, curator)
	s.route("POST /v1/entries/{id}/quarantine", s.handleQuarantine, curator)
	s.route("POST /v1/entries/{id}/release", s.handleRelease, curator)
}

// quarantinedEntry is an entry flagged for a curator, with what review
// has said about it.
type quarantinedEntry struct {
	Entry *vigil.Entry      `json:"entry"`
	Stats *vigil.EntryStats `json:"stats"`
	// Precision is confirmed / (confirmed + false positives); absent
	// before any decision.
	Precision *float64 `json:"precision,omitempty"`
}

// quarantinedEntries returns a page of the entries waiting for a curator,
// with its next_after_id, for the API and the review UI alike. The server
// must have a case store.
func (s *Server) quarantinedEntries(ctx context.Context, p page) ([]quarantinedEntry, int64, error) {
	stats, err := s.Cases.QuarantinedEntries(ctx, p.afterID, p.limit)
	if err != nil {
		return nil, 0, err
	}
	out := []quarantinedEntry{}
	for _, st := range stats {
		e, err := s.Entries.FindEntryByID(ctx, st.EntryID)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, quarantinedEntry{Entry: e, Stats: st, Precision: knownPrecision(st.Precision())})
	}
	return out, nextAfter(p, stats, func(st *vigil.EntryStats) int64 { return st.EntryID }), nil
}

func (s *Server) handleListQuarantine(w http.ResponseWriter, r *http.Request) {
	if s.Cases == nil {
		writeError(w, r, errNoReview)
		return
	}
	p, err := readPage(r.URL.Query(), quarantinePages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out, next, err := s.quarantinedEntries(r.Context(), p)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writePage(w, "entries", out, next)
}

type quarantineRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) handleQuarantine(w http.ResponseWriter, r *http.Request) {
	if s.Cases == nil {
		writeError(w, r, errNoReview)
		return
	}
	id, err := pathID(r, "entry")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req quarantineRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	err = s.change(r, auditRecord(r, vigil.AuditEntryQuarantine, "entry:"+strconv.FormatInt(id, 10), req), func(ctx context.Context) error {
		return s.Cases.QuarantineEntry(ctx, id, req.Reason)
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeEntryAfterChange(w, r, id)
}

func (s *Server) handleRelease(w http.ResponseWriter, r *http.Request) {
	if s.Cases == nil {
		writeError(w, r, errNoReview)
		return
	}
	id, err := pathID(r, "entry")
	if err != nil {
		writeError(w, r, err)
		return
	}
	err = s.change(r, auditRecord(r, vigil.AuditEntryRelease, "entry:"+strconv.FormatInt(id, 10), nil), func(ctx context.Context) error {
		return s.Cases.ReleaseEntry(ctx, id)
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeEntryAfterChange(w, r, id)
}

// writeEntryAfterChange brings the indexes up to date with a change to an
// entry, so the caller's next lookup sees it, and answers with the entry.
func (s *Server) writeEntryAfterChange(w http.ResponseWriter, r *http.Request, id int64) {
	s.refresh(r)
	e, err := s.Entries.FindEntryByID(r.Context(), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, e)
}
