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
	p, err := readPage(r.URL.Query(), entryPages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if s.Signals == nil {
		writePage[*vigil.Rematch](w, "rematches", nil, 0)
		return
	}
	rs, err := s.Signals.ListRematches(r.Context(), p.afterID, p.limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writePage(w, "rematches", rs, nextAfter(p, rs, func(m *vigil.Rematch) int64 { return m.ID }))
}
