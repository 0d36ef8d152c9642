package http

import (
	"net/http"
	"strconv"

	"github.com/vigil-oss/vigil"
)

// entryPageSize is how many entries a bank page lists.
const entryPageSize = 100

func (s *Server) handleUIBanks(w http.ResponseWriter, r *http.Request) {
	banks, err := s.Banks.ListBanks(r.Context())
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "banks.html", "Banks", "banks", map[string]any{"Banks": banks})
}

func (s *Server) handleUIBank(w http.ResponseWriter, r *http.Request) {
	b, err := s.bankByName(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	f := vigil.EntryFilter{BankID: &b.ID, IncludeRetracted: true, Limit: entryPageSize}
	if v := r.URL.Query().Get("after_id"); v != "" {
		if f.AfterID, err = strconv.ParseInt(v, 10, 64); err != nil || f.AfterID < 0 {
			s.uiError(w, r, badRequest("after_id must be a non-negative integer"))
			return
		}
	}
	entries, err := s.Entries.FindEntries(r.Context(), f)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	var next int64
	if len(entries) == entryPageSize {
		next = entries[len(entries)-1].ID
	}
	s.render(w, r, http.StatusOK, "bank.html", "Bank "+b.Name, "banks", map[string]any{
		"Bank": b, "Entries": entries, "NextAfter": next, "AfterID": f.AfterID,
	})
}

func (s *Server) handleUIEntry(w http.ResponseWriter, r *http.Request) {
	id, err := entryID(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	e, err := s.Entries.FindEntryByID(r.Context(), id)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	var stats *vigil.EntryStats
	if s.Cases != nil {
		st, err := s.Cases.EntryStats(r.Context(), []int64{id})
		if err != nil {
			s.uiError(w, r, err)
			return
		}
		if len(st) > 0 {
			stats = st[0]
		}
	}
	s.render(w, r, http.StatusOK, "entry.html", "Entry "+strconv.FormatInt(id, 10), "banks", map[string]any{
		"Entry": e, "Stats": stats, "Review": s.Cases != nil,
	})
}
