package http

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
)

// Session limits: vigil.SessionIdle, SessionMaxAge, MaxSessions and
// MaxSessionsPerKey, enforced by the store (Server.Sessions), which every
// replica shares; the failed-login window likewise (vigil.LoginBurst).
const (
	sessionCookie = "vigil_session"
	// revealTTL bounds how long the original of revealed media can be
	// fetched: long enough for a video's range requests, short enough
	// that a copied URL is soon useless (it also needs the session).
	revealTTL    = 2 * time.Minute
	loginFailLag = 300 * time.Millisecond
)

// uiSession is a reviewer's live session as a request sees it: the
// stored session and the token from the cookie, which the store never
// holds. The CSRF token and reveal grants are derived from the token, so
// any replica can check them with no state of its own, and they end with
// the session.
type uiSession struct {
	*vigil.Session
	token string
}

// randomToken returns 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// derive returns a MAC of parts under the session token, URL-safe.
func (u *uiSession) derive(parts ...string) string {
	m := hmac.New(sha256.New, []byte(u.token))
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrf is the session's CSRF token: derived, not stored, so that a form
// rendered by one replica posts to another.
func (u *uiSession) csrf() string { return u.derive("csrf") }

// grantReveal returns the token that lets the session fetch case id's
// original media until revealTTL from now: the expiry and a MAC of it and
// the case under the session token. Nothing is stored, so every replica
// honours it, and it is useless without the session's cookie.
func (u *uiSession) grantReveal(caseID int64, now time.Time) string {
	exp := strconv.FormatInt(now.Add(revealTTL).Unix(), 10)
	return exp + "." + u.derive("reveal", strconv.FormatInt(caseID, 10), exp)
}

// revealed reports whether token is the session's live grant for case id.
func (u *uiSession) revealed(token string, caseID int64, now time.Time) bool {
	exp, mac, ok := strings.Cut(token, ".")
	if !ok || len(exp) > 20 {
		return false
	}
	unix, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() > unix || unix > now.Add(revealTTL).Unix()+1 {
		return false
	}
	want := u.derive("reveal", strconv.FormatInt(caseID, 10), exp)
	return subtle.ConstantTimeCompare([]byte(mac), []byte(want)) == 1
}

// remoteHost is the client address without its port, the unit the login
// limiter counts.
func remoteHost(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// secureRequest reports whether the browser reached us over HTTPS, directly
// or through a proxy that says so; cookies are then marked Secure.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

func setSessionCookie(w http.ResponseWriter, r *http.Request, id string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     sessionCookie,
		Value:    id,
		Path:     "/ui/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   secureRequest(r),
		SameSite: http.SameSiteStrictMode,
	})
}

type sessionContextKey struct{}

// sessionFrom returns the UI session of a request that passed withSession.
func sessionFrom(ctx context.Context) *uiSession {
	s, _ := ctx.Value(sessionContextKey{}).(*uiSession)
	return s
}

// validCSRF reports whether the request carries the session's CSRF token,
// in the X-CSRF-Token header (fetch) or the csrf form field.
func validCSRF(r *http.Request, want string) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// safeNext returns where to go after login: a path inside the UI, never
// another site (no scheme, no host, no "//" or "/\" tricks).
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.ContainsAny(next, "\\\r\n") || strings.HasPrefix(next, "//") {
		return "/ui/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/ui/"
	}
	return next
}

func (s *Server) handleUILoginForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login.html", "Log in", "", map[string]string{"Next": safeNext(r.URL.Query().Get("next"))})
}

// handleUILogin trades an API key for a session. Failures are answered
// after a short delay and counted per address; the answer never says
// whether a key exists.
func (s *Server) handleUILogin(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.uiError(w, r, err)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	if s.Sessions == nil {
		s.uiError(w, r, vigil.Errorf(vigil.EUNAVAILABLE, "the review UI has no session store"))
		return
	}
	host := remoteHost(r)
	fail := func(status int, msg string) {
		// Counted even if the client hangs up now: that must not be a way
		// around the limit.
		if err := s.Sessions.LoginFailed(context.WithoutCancel(r.Context()), host); err != nil {
			s.Logger.Error("failed login not counted", "remote", host, "err", err)
		}
		select {
		case <-time.After(loginFailLag):
		case <-r.Context().Done():
		}
		s.render(w, r, status, "login.html", "Log in", "", map[string]string{"Next": next, "Error": msg})
	}
	ok, wait, err := s.Sessions.LoginAllowed(r.Context(), host)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		s.render(w, r, http.StatusTooManyRequests, "login.html", "Log in", "", map[string]string{"Next": next, "Error": "Too many failed attempts. Wait a minute and try again."})
		return
	}
	secret := strings.TrimSpace(r.PostFormValue("key"))
	if secret == "" || len(secret) > 256 {
		fail(http.StatusUnauthorized, "Enter your API key.")
		return
	}
	k, err := s.Keys.FindKeyBySecret(r.Context(), secret)
	if err != nil {
		if vigil.ErrorCode(err) != vigil.EUNAUTHORIZED {
			s.uiError(w, r, err)
			return
		}
		fail(http.StatusUnauthorized, "That API key is not valid.")
		return
	}
	if k.Role == vigil.RoleLookup {
		// Another platform's key: lookups over the API, no pages.
		fail(http.StatusForbidden, "A lookup key cannot open the review UI.")
		return
	}
	ctx := context.WithValue(r.Context(), keyContextKey{}, k)
	if rec, ok := w.(*recorder); ok {
		rec.key = k
	}
	// The login's record and the session commit together: no unrecorded
	// logins, and no record of a session that was refused.
	token := randomToken()
	sess := &vigil.Session{ID: vigil.SessionID(token), KeyID: k.ID}
	rk := r.WithContext(ctx)
	rec := auditRecord(rk, vigil.AuditLogin, k.Actor(), map[string]string{"via": "ui", "remote": host})
	if err := s.change(rk, rec, func(ctx context.Context) error { return s.Sessions.CreateSession(ctx, sess) }); err != nil {
		s.uiError(w, r, err)
		return
	}
	setSessionCookie(w, r, token, int(vigil.SessionMaxAge/time.Second))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) handleUILogout(w http.ResponseWriter, r *http.Request) {
	if err := s.Sessions.DeleteSession(r.Context(), sessionFrom(r.Context()).ID); err != nil {
		s.uiError(w, r, err)
		return
	}
	setSessionCookie(w, r, "", -1)
	http.Redirect(w, r, "/ui/login?done=loggedout", http.StatusSeeOther)
}

// handleUIBreak restarts the break reminder once the reviewer says they
// took a break.
func (s *Server) handleUIBreak(w http.ResponseWriter, r *http.Request) {
	if err := s.Sessions.TakeBreak(r.Context(), sessionFrom(r.Context()).ID); err != nil {
		s.uiError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/?done=break", http.StatusSeeOther)
}
