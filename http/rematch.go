package http

import (
	"net/http"

	"github.com/vigil-oss/vigil"
)

// keepSignals stores the signals (never the content) of matched-against
// content for retroactive matching, when the server is configured to.
func (s *Server) keepSignals(r *http.Request, sigs []vigil.Signal) {
	if err := vigil.KeepSeen(r.Context(), s.Signals, sigs, s.KeepSignals); err != nil {
		s.Logger.Error("keep signals for retroactive matching", "err", err)
	}
}

// handleListRematches lists matches found after the fact: entries added to
// a bank that match content seen before.
func (s *Server) handleListRematches(w http.ResponseWriter, r *http.Request) {
	if s.Signals == nil {
		writeJSON(w, http.StatusOK, map[string]any{"rematches": []*vigil.Rematch{}})
		return
	}
	q := r.URL.Query()
	after, err := queryAfterID(q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	limit, err := queryLimit(q, vigil.DefaultEntryLimit, vigil.MaxEntryLimit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rs, err := s.Signals.ListRematches(r.Context(), after, limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if rs == nil {
		rs = []*vigil.Rematch{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"rematches": rs})
}
