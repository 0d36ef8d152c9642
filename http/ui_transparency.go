package http

import (
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/transparency"
)

// uiTransparencyRoutes registers the transparency page: the figures of a
// period with their SVG charts, the same rendering as the HTML report.
func (s *Server) uiTransparencyRoutes(page func(pattern string, h http.HandlerFunc, roles ...vigil.Role)) {
	// The page's template includes the report's body, parsed with the
	// report's own functions.
	t := template.Must(s.ui.pages["transparency.html"].Clone())
	s.ui.pages["transparency.html"] = template.Must(t.Funcs(transparency.Funcs).Parse(transparency.Body))
	page("GET /ui/transparency", s.handleUITransparency, vigil.RoleCurator, vigil.RoleReviewer)
}

func (s *Server) handleUITransparency(w http.ResponseWriter, r *http.Request) {
	if s.Transparency == nil {
		s.uiError(w, r, errNoTransparency)
		return
	}
	// Without a period, the last 30 whole days.
	if r.URL.Query().Get("from") == "" && r.URL.Query().Get("to") == "" {
		today := s.now().UTC().Truncate(24 * time.Hour)
		q := url.Values{"from": {today.AddDate(0, 0, -30).Format(time.DateOnly)}, "to": {today.Format(time.DateOnly)}}
		r.URL.RawQuery = q.Encode()
	}
	t, err := s.transparency(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "transparency.html", "Transparency", "transparency", map[string]any{
		"From": t.From.Format(time.DateOnly), "To": t.To.Add(-time.Nanosecond).Format(time.DateOnly),
		"Report": transparency.NewPage(t),
	})
}
