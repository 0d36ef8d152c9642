package http

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
)

// uiFiles holds the review UI's templates and static assets; the binary
// serves them itself, so the UI needs no CDN and works offline.
//
//go:embed ui
var uiFiles embed.FS

// Defaults of the break reminder.
const (
	DefaultBreakAfter = 20
	DefaultBreakEvery = 45 * time.Minute
)

// UIOptions tune the review UI's wellness protections.
type UIOptions struct {
	// BreakAfter is how many decisions prompt a break reminder
	// (DefaultBreakAfter when 0).
	BreakAfter int
	// BreakEvery is how long a stretch of reviewing prompts a break
	// reminder (DefaultBreakEvery when 0).
	BreakEvery time.Duration
}

func (o UIOptions) breakAfter() int {
	if o.BreakAfter > 0 {
		return o.BreakAfter
	}
	return DefaultBreakAfter
}

func (o UIOptions) breakEvery() time.Duration {
	if o.BreakEvery > 0 {
		return o.BreakEvery
	}
	return DefaultBreakEvery
}

// breakDue reports whether a reviewer who made decided decisions over
// stretch should be reminded to take a break.
func (o UIOptions) breakDue(decided int, stretch time.Duration) bool {
	return decided >= o.breakAfter() || stretch >= o.breakEvery()
}

// maxFormBody bounds a UI form post: a note or decision is at most
// MaxCaseNoteLen bytes plus a few short fields.
const maxFormBody = 64 << 10

// uiCSP is the content security policy of every UI response: nothing
// inline, nothing from elsewhere, never framed.
const uiCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// ui is the review UI's templates and cross-origin check; its sessions
// and login limits are in the store (Server.Sessions).
type ui struct {
	pages map[string]*template.Template
	cop   *http.CrossOriginProtection
}

func newUI() *ui {
	u := &ui{pages: map[string]*template.Template{}, cop: http.NewCrossOriginProtection()}
	names, err := fs.Glob(uiFiles, "ui/templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, name := range names {
		base := strings.TrimPrefix(name, "ui/templates/")
		if base == "layout.html" {
			continue
		}
		// Each page is parsed with the layout on its own, so that pages can
		// all define the same block names.
		u.pages[base] = template.Must(template.New(base).Funcs(uiFuncs).ParseFS(uiFiles, "ui/templates/layout.html", name))
	}
	return u
}

// uiRoutes registers the review UI under /ui/. Its pages authenticate with a
// session cookie made at the login form from an API key, not with an
// Authorization header, and are HTML, so they are kept out of s.patterns
// (the OpenAPI check).
func (s *Server) uiRoutes() {
	const (
		curator  = vigil.RoleCurator
		reviewer = vigil.RoleReviewer
	)
	s.ui = newUI()
	static, _ := fs.Sub(uiFiles, "ui/static")
	s.handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusSeeOther))
	// One file per request, by name: no directory listings.
	s.handle("GET /ui/static/{file}", s.instrument("GET /ui/static/{file}", s.uiHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, r.PathValue("file"))
	}))))
	s.handle("GET /ui/login", s.instrument("GET /ui/login", s.uiHeaders(http.HandlerFunc(s.handleUILoginForm))))
	s.handle("POST /ui/login", s.instrument("POST /ui/login", s.uiHeaders(s.ui.cop.Handler(http.HandlerFunc(s.handleUILogin)))))

	page := func(pattern string, h http.HandlerFunc, roles ...vigil.Role) {
		s.handle(pattern, s.instrument(pattern, s.uiHeaders(s.withSession(roles, h))))
	}
	// Roles follow the API's: case work is for reviewers, banks for
	// curators and reviewers (admin always); within case work a key sees
	// only the queues that allow its role.
	page("POST /ui/logout", s.handleUILogout)
	page("POST /ui/break", s.handleUIBreak)
	page("GET /ui/{$}", s.handleUIQueues)
	page("GET /ui/queues/{name}", s.handleUIQueue, reviewer)
	page("GET /ui/queues/{name}/next", s.handleUINext, reviewer)
	page("GET /ui/cases/{id}", s.handleUICase, reviewer)
	page("POST /ui/cases/{id}/assign", s.handleUIAssign, reviewer)
	page("POST /ui/cases/{id}/notes", s.handleUINote, reviewer)
	page("POST /ui/cases/{id}/decide", s.handleUIDecide, reviewer)
	page("POST /ui/cases/{id}/reveal", s.handleUIReveal, reviewer)
	page("GET /ui/cases/{id}/preview", s.handleUIPreview, reviewer)
	page("GET /ui/cases/{id}/original/{token}", s.handleUIOriginal, reviewer)
	page("GET /ui/banks", s.handleUIBanks, curator, reviewer)
	page("GET /ui/banks/{name}", s.handleUIBank, curator, reviewer)
	page("GET /ui/entries/{id}", s.handleUIEntry, curator, reviewer)
	page("POST /ui/entries/{id}/quarantine", s.handleUIQuarantine, curator)
	page("POST /ui/entries/{id}/release", s.handleUIRelease, curator)
	page("POST /ui/entries/{id}/retract", s.handleUIRetract, curator)
	page("GET /ui/quarantine", s.handleUIQuarantined, curator)
	s.uiIncidentRoutes(page)
	s.uiComplaintRoutes(page)
	s.uiTransparencyRoutes(page)
	s.uiCentreRoutes(page)
}

// uiHeaders sets the strict headers every UI response carries.
func (s *Server) uiHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", uiCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), autoplay=()")
		if secureRequest(r) {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// withSession requires a live session whose key has one of roles (admin
// always; any role when none are given). GET requests without one are sent
// to the login form; posts must also pass the cross-origin check and carry
// the session's CSRF token. The key goes into the request context as the
// API's authenticate puts it, so actor and audit work alike for both.
func (s *Server) withSession(roles []vigil.Role, next http.HandlerFunc) http.Handler {
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Looked up in the store on every request, so that a session made
		// through another replica works here, and a revoked key's or a
		// logged-out session stops at once on every replica.
		var sess *uiSession
		if c, _ := r.Cookie(sessionCookie); c != nil && c.Value != "" && s.Sessions != nil {
			found, err := s.Sessions.FindSession(r.Context(), vigil.SessionID(c.Value))
			if err != nil && vigil.ErrorCode(err) != vigil.ENOTFOUND {
				s.uiError(w, r, fmt.Errorf("find session: %w", err))
				return
			}
			if err == nil {
				sess = &uiSession{Session: found, token: c.Value}
			}
		}
		if sess == nil {
			if r.Method == http.MethodGet && !wantsJSON(r) {
				http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.uiError(w, r, vigil.Errorf(vigil.EUNAUTHORIZED, "your session has ended; log in again"))
			return
		}
		if rec, ok := w.(*recorder); ok {
			rec.key = sess.Key
		}
		if r.Method == http.MethodPost {
			if err := parseForm(w, r); err != nil {
				s.uiError(w, r, err)
				return
			}
			if !validCSRF(r, sess.csrf()) {
				s.uiError(w, r, vigil.Errorf(vigil.EFORBIDDEN, "the form is stale or did not come from this site; reload the page and try again"))
				return
			}
		}
		k := sess.Key
		if !roleAllowed(k.Role, roles) {
			s.uiError(w, r, vigil.Errorf(vigil.EFORBIDDEN, "the %s role may not open this page", k.Role))
			return
		}
		ctx := context.WithValue(r.Context(), keyContextKey{}, k)
		ctx = context.WithValue(ctx, sessionContextKey{}, sess)
		next(w, r.WithContext(ctx))
	})
	return s.ui.cop.Handler(inner)
}

// parseForm reads a posted form of at most maxFormBody bytes. It reads it
// before any handler asks for a field, because PostFormValue drops errors:
// a form over the limit would look like one without its fields (and its
// CSRF token).
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	err := r.ParseForm()
	var mbe *http.MaxBytesError
	var bre *bodyReadError
	if err == nil || errors.As(err, &mbe) || errors.As(err, &bre) {
		return err
	}
	return badRequest("the form cannot be read: %v", err)
}

// wantsJSON reports whether the request came from the UI's script, which
// wants JSON answers rather than pages.
func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// pageData is what every page template gets.
type pageData struct {
	Title   string
	Key     *vigil.Key
	CSRF    string
	Decided int // decisions this session
	// SinceBreak counts the decisions since the last break, for the
	// reminder.
	SinceBreak int
	// BreakDue asks the reviewer to take a break.
	BreakDue   bool
	BreakAfter int
	Minutes    int // minutes since the session or the last break began
	// BreakDueIn is how many seconds are left until the time-based
	// reminder, which the page's script shows without a reload.
	BreakDueIn int
	Flash      string
	Nav        string // which nav item is current
	CanBanks   bool
	// Incidents: reviewer, curator or admin (the incident pages).
	Incidents bool
	Centre    bool // a reviewer (or admin) of a centre: the centre pages
	Curator   bool // curator or admin: bank changes and the quarantine list
	Page      any  // the page's own data
}

// flashes are the messages a redirect may ask a page to show, by code, so
// that no text from a URL reaches a page.
var flashes = map[string]string{
	"decided":   "Decision recorded.",
	"noted":     "Note added.",
	"assigned":  "Case assigned to you.",
	"empty":     "No more open cases in this queue.",
	"break":     "Break taken: the counter starts again.",
	"loggedout": "You are logged out.",
	"entry":     "Entry updated.",
	"approved":  "Incident approved: it may be sent now.",
	"submitted": "Submission queued: attempts and replies show below as they happen.",
	"hold":      "Legal hold saved.",
	"released":  "Legal hold released: retention applies again.",
	"complaint": "Complaint decided: the case's history shows the outcome.",
	"queued":    "Forward queued: attempts and replies show below as they happen.",
}

// render writes a page. Templates render into a buffer first, so that a
// template error becomes an error page instead of half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name, title, nav string, data any) {
	pd := pageData{Title: title, Nav: nav, Flash: flashes[r.URL.Query().Get("done")], Page: data}
	if sess := sessionFrom(r.Context()); sess != nil {
		pd.Key, pd.CSRF, pd.Decided = sess.Key, sess.csrf(), sess.Decided
		pd.BreakAfter = s.UI.breakAfter()
		stretch := time.Since(sess.BreakFrom)
		pd.Minutes = int(stretch / time.Minute)
		pd.SinceBreak = sess.SinceBreak
		pd.BreakDue = s.UI.breakDue(sess.SinceBreak, stretch)
		pd.BreakDueIn = int((s.UI.breakEvery() - stretch) / time.Second)
		pd.Curator = sess.Key.Role == vigil.RoleAdmin || sess.Key.Role == vigil.RoleCurator
		pd.CanBanks = pd.Curator || sess.Key.Role == vigil.RoleReviewer
		pd.Incidents = pd.CanBanks && s.Incidents != nil
		pd.Centre = s.Centre != nil && (sess.Key.Role == vigil.RoleAdmin || sess.Key.Role == vigil.RoleReviewer)
	}
	var buf bytes.Buffer
	t := s.ui.pages[name]
	if t == nil {
		s.uiError(w, r, fmt.Errorf("no template %s", name))
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout", pd); err != nil {
		s.uiError(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// uiError shows err as a page (or JSON to the UI's script), with the same
// codes and the same hiding of internal detail as the API.
func (s *Server) uiError(w http.ResponseWriter, r *http.Request, err error) {
	if wantsJSON(r) {
		writeError(w, r, err)
		return
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = vigil.Errorf(vigil.ETOOLARGE, "the form is larger than %d bytes", mbe.Limit)
	}
	code := vigil.ErrorCode(err)
	status, message := codes[code], vigil.ErrorMessage(err)
	if st, _, msg, ok := clientFault(r, err); ok {
		status, message = st, msg
	} else if code == vigil.EINTERNAL {
		if rec, ok := w.(*recorder); ok {
			rec.err = err
		}
	}
	t := s.ui.pages["error.html"]
	var buf bytes.Buffer
	pd := pageData{Title: http.StatusText(status), Page: map[string]any{"Status": status, "Message": message}}
	if sess := sessionFrom(r.Context()); sess != nil {
		pd.Key, pd.CSRF = sess.Key, sess.csrf()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if t.ExecuteTemplate(&buf, "layout", pd) == nil {
		w.Write(buf.Bytes())
	}
}

// uiFuncs are the helpers templates use.
var uiFuncs = template.FuncMap{
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return humanDuration(time.Since(t))
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"label": func(s string) string {
		s = strings.ReplaceAll(s, "_", " ")
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"pct": func(f float64) string {
		if f < 0 {
			return "no decisions yet"
		}
		return fmt.Sprintf("%.0f%%", f*100)
	},
	// visible shows stored free text (notes, reasons, names from before
	// names were checked) with control and invisible characters written
	// out, so that they cannot hide or reorder what a reviewer reads.
	"visible": vigil.VisibleText,
	"score":   func(f float64) string { return fmt.Sprintf("%.2f", f) },
	// frametime writes a video frame's time, seconds from the start, as
	// a player shows it: 1:05.2, or 1:02:03.0 past an hour.
	"frametime": frameTime,
	"isVideo":   func(mediaType string) bool { return strings.HasPrefix(mediaType, "video/") },
}

// humanDuration writes d as a reviewer reads ages: "4 min ago", "2 d ago".
func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%d d ago", int(d/(24*time.Hour)))
}

// frameTime writes seconds from the start of a video as m:ss.s (h:mm:ss.s
// past an hour), tenths truncated so that the time shown is never after
// the frame.
func frameTime(sec float64) string {
	if sec < 0 || sec != sec {
		sec = 0
	}
	tenths := int64(sec * 10)
	h, m, s, t := tenths/36000, tenths/600%60, tenths/10%60, tenths%10
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d.%d", h, m, s, t)
	}
	return fmt.Sprintf("%d:%02d.%d", m, s, t)
}
