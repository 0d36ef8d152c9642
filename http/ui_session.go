package http

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-oss/vigil"
)

// Session limits. A reviewer's session ends after sessionIdle without a
// request or sessionMaxAge after login, whichever comes first; the store
// holds at most maxSessions (maxSessionsPerKey for one key), so that
// logging in in a loop cannot grow memory without bound.
const (
	sessionCookie     = "vigil_session"
	sessionIdle       = 30 * time.Minute
	sessionMaxAge     = 12 * time.Hour
	maxSessions       = 10000
	maxSessionsPerKey = 20
	// sessionKeyCheck bounds how long a revoked key's session keeps
	// working: the key is looked up again after this long.
	sessionKeyCheck = keyCacheTTL
	// revealTTL bounds how long the original of revealed media can be
	// fetched: long enough for a video's range requests, short enough
	// that a copied URL is soon useless (it also needs the session).
	revealTTL     = 2 * time.Minute
	maxRevealsPer = 64
)

// session is one reviewer's login. Its id is only ever stored hashed.
type session struct {
	key        *vigil.Key
	csrf       string
	created    time.Time
	lastSeen   time.Time
	keyCheck   time.Time // when the key was last looked up
	decided    int       // decisions since login
	sinceBreak int       // decisions since login or the last break
	breakFrom  time.Time // start of the stretch the break reminder measures
	reveals    map[string]reveal
}

// reveal lets one session fetch one case's original media until expires.
type reveal struct {
	caseID  int64
	expires time.Time
}

// sessionStore is the in-memory session table. Sessions do not survive a
// restart: reviewers log in again, which is the safe failure.
type sessionStore struct {
	mu  sync.Mutex
	m   map[string]*session // by hashed id
	now func() time.Time
}

func newSessionStore(now func() time.Time) *sessionStore {
	return &sessionStore{m: map[string]*session{}, now: now}
}

// randomToken returns 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashSessionID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// create starts a session for k and returns its id, or an error when the
// store is full of live sessions.
func (st *sessionStore) create(k *vigil.Key) (string, *session, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	st.sweepLocked(now)
	// A key past its own cap loses its oldest session, not someone else's.
	var mine []string
	for h, s := range st.m {
		if s.key.ID == k.ID {
			mine = append(mine, h)
		}
	}
	if len(mine) >= maxSessionsPerKey {
		slices.SortFunc(mine, func(a, b string) int { return st.m[a].created.Compare(st.m[b].created) })
		for _, h := range mine[:len(mine)-maxSessionsPerKey+1] {
			delete(st.m, h)
		}
	}
	if len(st.m) >= maxSessions {
		return "", nil, vigil.Errorf(vigil.ECONFLICT, "too many open sessions; try again later")
	}
	id := randomToken()
	s := &session{key: k, csrf: randomToken(), created: now, lastSeen: now, keyCheck: now, breakFrom: now, reveals: map[string]reveal{}}
	st.m[hashSessionID(id)] = s
	return id, s, nil
}

func (st *sessionStore) expired(s *session, now time.Time) bool {
	return now.Sub(s.lastSeen) > sessionIdle || now.Sub(s.created) > sessionMaxAge
}

func (st *sessionStore) sweepLocked(now time.Time) {
	for h, s := range st.m {
		if st.expired(s, now) {
			delete(st.m, h)
		}
	}
}

// get returns the live session with the given id and marks it used, or nil.
// The returned session is shared: change it only through the store.
func (st *sessionStore) get(id string) *session {
	if id == "" {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	h := hashSessionID(id)
	s := st.m[h]
	if s == nil {
		return nil
	}
	now := st.now()
	if st.expired(s, now) {
		delete(st.m, h)
		return nil
	}
	s.lastSeen = now
	return s
}

// snapshot returns a copy of s's fields that handlers read, taken under
// the lock.
func (st *sessionStore) snapshot(s *session) session {
	st.mu.Lock()
	defer st.mu.Unlock()
	c := *s
	c.reveals = nil
	return c
}

func (st *sessionStore) delete(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.m, hashSessionID(id))
}

// deleteKey ends every session of a key (revoked, or no longer found).
func (st *sessionStore) deleteKey(keyID int64) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for h, s := range st.m {
		if s.key.ID == keyID {
			delete(st.m, h)
		}
	}
}

// needsKeyCheck reports whether s's key is due to be looked up again, and
// if so marks it checked, so that concurrent requests look it up once.
func (st *sessionStore) needsKeyCheck(s *session) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	if now.Sub(s.keyCheck) < sessionKeyCheck {
		return false
	}
	s.keyCheck = now
	return true
}

// countDecision adds one to the session's decision counter.
func (st *sessionStore) countDecision(s *session) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s.decided++
	s.sinceBreak++
}

// takeBreak restarts the break reminder's count and clock; the session's
// own count goes on.
func (st *sessionStore) takeBreak(s *session) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s.sinceBreak, s.breakFrom = 0, st.now()
}

// grantReveal lets s fetch the original media of case id for revealTTL and
// returns the token that names the grant.
func (st *sessionStore) grantReveal(s *session, caseID int64) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.now()
	for t, g := range s.reveals {
		if now.After(g.expires) {
			delete(s.reveals, t)
		}
	}
	if len(s.reveals) >= maxRevealsPer {
		clear(s.reveals)
	}
	t := randomToken()
	s.reveals[t] = reveal{caseID: caseID, expires: now.Add(revealTTL)}
	return t
}

// revealed reports whether token is s's live grant for case id.
func (st *sessionStore) revealed(s *session, token string, caseID int64) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	g, ok := s.reveals[token]
	return ok && g.caseID == caseID && !st.now().After(g.expires)
}

// loginLimiter slows key guessing at the login form: an address that fails
// loginBurst times within loginWindow is refused until the window ends.
// Keys carry 256 bits, so this is about noise in the logs and load on the
// store more than about guessing.
type loginLimiter struct {
	mu  sync.Mutex
	m   map[string]*loginBucket
	now func() time.Time
}

type loginBucket struct {
	failures int
	since    time.Time // start of the window
}

const (
	loginBurst   = 5
	loginWindow  = time.Minute
	loginFailLag = 300 * time.Millisecond
	maxLimited   = 10000
)

// allow reports whether addr may try to log in now.
func (l *loginLimiter) allow(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[addr]
	return b == nil || l.now().Sub(b.since) >= loginWindow || b.failures < loginBurst
}

// fail records a failed login from addr.
func (l *loginLimiter) fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.m == nil || len(l.m) >= maxLimited {
		// Forgetting everyone at once is crude, but bounds memory under an
		// attack from many addresses without a sweep.
		l.m = map[string]*loginBucket{}
	}
	b := l.m[addr]
	if b == nil || now.Sub(b.since) >= loginWindow {
		b = &loginBucket{since: now}
		l.m[addr] = b
	}
	b.failures++
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
func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionContextKey{}).(*session)
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
	host := remoteHost(r)
	fail := func(status int, msg string) {
		s.ui.logins.fail(host)
		select {
		case <-time.After(loginFailLag):
		case <-r.Context().Done():
		}
		s.render(w, r, status, "login.html", "Log in", "", map[string]string{"Next": next, "Error": msg})
	}
	if !s.ui.logins.allow(host) {
		w.Header().Set("Retry-After", strconv.Itoa(int(loginWindow/time.Second)))
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
	// On record before the session exists: no unrecorded logins.
	ctx := context.WithValue(r.Context(), keyContextKey{}, k)
	if rec, ok := w.(*recorder); ok {
		rec.key = k
	}
	if err := s.audit(r.WithContext(ctx), vigil.AuditLogin, k.Actor(), map[string]string{"via": "ui", "remote": host}); err != nil {
		s.uiError(w, r, err)
		return
	}
	id, _, err := s.ui.sessions.create(k)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	setSessionCookie(w, r, id, int(sessionMaxAge/time.Second))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) handleUILogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.ui.sessions.delete(c.Value)
	}
	setSessionCookie(w, r, "", -1)
	http.Redirect(w, r, "/ui/login?done=loggedout", http.StatusSeeOther)
}

// handleUIBreak restarts the break reminder once the reviewer says they
// took a break.
func (s *Server) handleUIBreak(w http.ResponseWriter, r *http.Request) {
	s.ui.sessions.takeBreak(sessionFrom(r.Context()))
	http.Redirect(w, r, "/ui/?done=break", http.StatusSeeOther)
}
