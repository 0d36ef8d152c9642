package http

import (
	"net/http"
	"time"

	"github.com/vigil-oss/vigil"
)

// transparencyRoutes registers the transparency figures: aggregates, no
// content, for curators and reviewers.
func (s *Server) transparencyRoutes() {
	s.route("GET /v1/transparency", s.handleTransparency, vigil.RoleCurator, vigil.RoleReviewer)
}

var errNoTransparency = vigil.Errorf(vigil.EUNSUPPORTED, "this server has no transparency figures")

// periodQuery reads from and to: days (YYYY-MM-DD, UTC; to names its whole
// day) or RFC 3339 times. Without them, the last 30 days to now.
func periodQuery(r *http.Request, now time.Time) (time.Time, time.Time, error) {
	q := r.URL.Query()
	to, from := now.UTC(), now.UTC().AddDate(0, 0, -30)
	if v := q.Get("from"); v != "" {
		t, err := vigil.ParsePeriodBound(v, false)
		if err != nil {
			return from, to, badRequest("from: %s", vigil.ErrorMessage(err))
		}
		from = t
	}
	if v := q.Get("to"); v != "" {
		t, err := vigil.ParsePeriodBound(v, true)
		if err != nil {
			return from, to, badRequest("to: %s", vigil.ErrorMessage(err))
		}
		to = t
	}
	return from, to, vigil.ValidatePeriod(from, to)
}

func (s *Server) transparency(r *http.Request) (*vigil.Transparency, error) {
	if s.Transparency == nil {
		return nil, errNoTransparency
	}
	from, to, err := periodQuery(r, s.now())
	if err != nil {
		return nil, err
	}
	return s.Transparency.Transparency(r.Context(), from, to)
}

func (s *Server) handleTransparency(w http.ResponseWriter, r *http.Request) {
	t, err := s.transparency(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}
