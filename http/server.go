// Package http serves Vigil's JSON API under /v1: hashing and matching
// content, banks and their entries, API keys, index status, health and
// Prometheus metrics. Every endpoint but the health checks requires an API
// key with a role.
package http

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/classify"
	"github.com/vigil-oss/vigil/feed"
	"github.com/vigil-oss/vigil/grooming"
	"github.com/vigil-oss/vigil/hashing"
	phmserver "github.com/vigil-oss/vigil/phm/server"
	"github.com/vigil-oss/vigil/report"
	"github.com/vigil-oss/vigil/respond"
)

// Limits on request bodies. Content uploads are bounded by the hashing
// limits instead.
const (
	maxJSONBody = 4 << 20
	maxImport   = 1 << 30
)

// Time a client has to send a request body, by route class: uploads of
// content (up to --max-bytes) and bank imports (up to 1 GiB) may come over
// slow links; JSON and form bodies are at most a few MiB.
const (
	DefaultBodyTimeout   = 30 * time.Second
	DefaultUploadTimeout = 15 * time.Minute
)

// isUpload reports whether route's body is an upload, given UploadTimeout
// rather than BodyTimeout.
func isUpload(route string) bool {
	switch route {
	case "POST /v1/hash", "POST /v1/match", "POST /v1/jobs", "POST /v1/banks/{name}/import",
		"hma POST /h/hash", "hma POST /m/lookup", "hma POST /c/bank/{name}/content":
		return true
	}
	return false
}

// Server is the HTTP API. Set the services, then call Open.
type Server struct {
	Addr    string // host:port to listen on
	Banks   vigil.BankService
	Entries vigil.EntryService
	// Items are HMA's content items, which the HMA-compatible routes
	// (HMA) need.
	Items   vigil.ContentItemService
	Keys    vigil.KeyService
	Matcher interface {
		vigil.MatchService
		Refresh(ctx context.Context) error
	}
	Hashing hashing.Options // limits and pipeline for uploaded content
	NoVideo bool            // do not try uploads that are not images as video (no ffmpeg)

	Audit                 vigil.AuditService // nil: nothing is recorded
	Signals               vigil.SignalStore  // kept signals and retroactive matches
	KeepSignals           time.Duration      // how long matched-against signals are kept; 0: not kept
	Conversations         vigil.ConversationService
	Grooming              *grooming.Detector
	ConversationRetention time.Duration // how long a conversation's state is kept after its last message
	Logger                *slog.Logger

	Cases    vigil.CaseService // review queues and cases; nil: no review
	Media    vigil.MediaStore  // encrypted media kept for review
	Notifier vigil.Notifier    // webhook delivery; nil: no webhooks
	Jobs     vigil.JobService  // background content jobs; nil: none
	Rules    vigil.RuleService // what to do with matches and risks; nil: nothing
	Feeds    vigil.FeedService // the feeds this server publishes; nil: none
	// Subscriptions are the feeds this instance pulls (by vigil feed
	// sync); their state shows on /readyz and in metrics. Nil: none.
	Subscriptions vigil.SubscriptionService
	// FeedLoop, if set, syncs feeds and exchanges inside this server
	// (vigil serve --feed-sync); its rounds and failing sources show on
	// /readyz and in metrics. The server does not run it.
	FeedLoop *feed.Loop
	// Incidents stores incidents and account facts; nil: no reporting.
	Incidents vigil.IncidentService
	// Preservation keeps legal holds (/v1/holds); nil: none.
	Preservation vigil.PreservationService
	// Complaints stores users' complaints (/v1/complaints); Transparency
	// computes the published figures (/v1/transparency). Nil: none.
	Complaints   vigil.ComplaintService
	Transparency vigil.TransparencyService
	// Retention is the deployment's retention of what was reported
	// (vigil serve --report-retention), which the incident pages show; the
	// purge in cmd/vigil applies it.
	Retention vigil.RetentionPolicy
	// NCMEC is what the deployment says about itself in CyberTipline
	// reports; nil: incidents are not rendered for NCMEC.
	NCMEC *report.NCMECConfig
	// DSA is what the deployment says about its decisions in DSA
	// statements of reasons; nil: incidents are not rendered for the EU
	// Transparency Database.
	DSA *report.DSAConfig
	// EU renders incidents as EU Centre reports from its template; nil:
	// incidents are not rendered for the EU Centre.
	EU *report.EU
	// NCMECValidator checks NCMEC renderings; nil: one on the embedded
	// schema.
	NCMECValidator *report.Validator
	// Submitter and SubmissionQueue send approved incidents to their
	// destinations (NCMEC, the DSA Transparency Database, a webhook);
	// nil: incidents are not sent.
	Submitter       *report.Submitter
	SubmissionQueue vigil.SubmissionQueue
	// Respond acts on detections and decisions (rules, cases, media,
	// events). Nil: one is made, on first use, over Rules, Cases, Media,
	// Notifier and CaseRetention; set it to share one with the job runner
	// and the re-matcher.
	Respond *respond.Service
	// CaseRetention is how long a case opened by a rule keeps its evidence
	// and media, for the Respond made on first use; 0 means
	// respond.DefaultCaseRetention.
	CaseRetention time.Duration
	UI            UIOptions // the review UI's break reminder
	// Sessions keeps the review UI's sessions and failed-login counts,
	// shared by every replica on the store; nil: nobody can log in.
	Sessions vigil.SessionService
	// BodyTimeout bounds the time to receive a JSON or form body, and
	// UploadTimeout an upload's or import's, from the end of the request
	// headers; a slower body is a 408 and its connection closed. Zero:
	// DefaultBodyTimeout, DefaultUploadTimeout.
	BodyTimeout, UploadTimeout time.Duration
	// HMA, if set before Open, also serves HMA's routes (/status, /h/,
	// /m/, /c/) with HMA's shapes, over the same store (see hma.go).
	HMA *HMAOptions
	// Classifiers rank uploads to POST /v1/match for review when a
	// classifier rule would act on their scores; nil: none (see
	// classify.go). Build them with ClassifierMetrics.
	Classifiers *classify.Set
	// ClassifierStateRefresh is how often curators' pauses are read back
	// from the store, so that a pause made on another replica takes
	// effect here (default DefaultClassifierStateRefresh).
	ClassifierStateRefresh time.Duration
	// Centre, if set, makes this server a centre: providers' reports are
	// received, triaged and decided (centre.go). Nil: the centre routes
	// answer 501.
	Centre *CentreOptions

	// Lookups keeps the per-key daily lookup counts that daily quotas are
	// checked against, shared by every replica on one store; nil: counts
	// and quotas are this process's alone. LookupLimits are the limits of
	// lookup keys (vigil.RoleLookup) without limits of their own;
	// LookupFlush is how often this server adds its counts to Lookups
	// (0: DefaultLookupFlush). See quota.go.
	Lookups      vigil.LookupCounter
	LookupLimits vigil.KeyLimits
	LookupFlush  time.Duration

	// PHM, if set, receives end-to-end encrypted messaging's private hash
	// matching vouchers on POST /v1/phm/vouchers (phm.go) and opens a case
	// through Flow for each account past its threshold (set its Respond to
	// Flow()); nil: the route answers 415 (unsupported).
	PHM *phmserver.Service

	ln     net.Listener
	server *http.Server
	mux    *http.ServeMux
	// exact holds the routes of a method and a literal path by path (handle).
	exact    map[string][]exactRoute
	headers  securityHeaders
	metrics  *metrics
	hashers  sync.Pool
	keys     keyCache
	patterns []string // every route, for the OpenAPI check
	// hmaPatterns are the HMA-compatible routes, when served.
	hmaPatterns []string
	ui          *ui // review UI sessions and templates
	// unmatched answers requests no route takes (404, 405).
	unmatched http.Handler

	flowOnce sync.Once

	classifyMetricsOnce sync.Once
	classifyMetrics     *classify.Metrics

	hmaClientOnce sync.Once
	hmaHTTP       *http.Client // ?url= fetches of the HMA routes

	// phmReady is set by StartPHM: vouchers are let in.
	phmReady atomic.Bool

	quotas    *quotas
	stopFlush context.CancelFunc
	flushDone chan struct{}
	// stopStates ends the refresh of classifier states (nil: none runs).
	stopStates context.CancelFunc
	statesDone chan struct{}
}

// Flow returns the response service the server acts through: Respond, or
// one made over the server's stores the first time it is needed (so that
// configuration may go on after Open until the first request).
func (s *Server) Flow() *respond.Service {
	s.flowOnce.Do(func() {
		if s.Respond == nil {
			s.Respond = &respond.Service{Rules: s.Rules, Cases: s.Cases, Media: s.Media, Notifier: s.Notifier, Banks: s.Banks, Entries: s.Entries,
				CaseRetention: s.CaseRetention, Logger: s.Logger}
		}
	})
	return s.Respond
}

// NewServer returns a Server with its routes registered.
func NewServer() *Server {
	s := &Server{mux: http.NewServeMux(), metrics: newMetrics(), headers: securityHeaders{
		nosniff: []string{"nosniff"}, noStore: []string{"no-store"}, noReferrer: []string{"no-referrer"},
	}}
	s.quotas = newQuotas(s.metrics.reg)
	s.hashers.New = func() any { return hashing.NewHasher(s.Hashing) }
	s.server = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	s.routes()
	return s
}

// Open starts listening and serving in the background.
func (s *Server) Open() error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	s.metrics.indexStatus = s.Matcher.Status
	if s.Subscriptions != nil {
		s.metrics.reg.MustRegister(subscriptionCollector{s.Subscriptions})
	}
	if s.FeedLoop != nil {
		s.metrics.reg.MustRegister(feedLoopCollector{s.FeedLoop})
	}
	if s.PHM != nil {
		if s.PHM.Stats == nil {
			s.PHM.Stats = &phmserver.Stats{}
		}
		s.metrics.reg.MustRegister(phmCollector{s.PHM})
	}
	if s.Grooming == nil {
		s.Grooming = grooming.NewDetector(grooming.Options{})
	}
	if s.BodyTimeout <= 0 {
		s.BodyTimeout = DefaultBodyTimeout
	}
	if s.UploadTimeout <= 0 {
		s.UploadTimeout = DefaultUploadTimeout
	}
	if s.HMA != nil {
		if s.Items == nil {
			return fmt.Errorf("the HMA-compatible routes need Items, the content item store")
		}
		s.hmaRoutes()
	}
	if err := s.LookupLimits.Validate(); err != nil {
		return fmt.Errorf("default lookup limits: %w", err)
	}
	if err := s.startClassifierStates(); err != nil {
		return err
	}
	// A backstop for what no route's deadline covers (the mux's own
	// redirects); instrument sets each route's own deadline.
	s.server.ReadTimeout = max(s.BodyTimeout, s.UploadTimeout)
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Addr, err)
	}
	s.ln = ln
	s.quotas.counter, s.quotas.defaults, s.quotas.logger = s.Lookups, s.LookupLimits, s.Logger
	if s.Lookups != nil {
		flush := s.LookupFlush
		if flush <= 0 {
			flush = DefaultLookupFlush
		}
		ctx, cancel := context.WithCancel(context.Background())
		s.stopFlush, s.flushDone = cancel, make(chan struct{})
		s.quotas.start(ctx, flush, s.flushDone)
	}
	go func() {
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Logger.Error("serve", "err", err)
		}
	}()
	return nil
}

// URL returns the base URL the server listens on.
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Close stops accepting requests, waits up to ctx for those in flight and
// adds the lookups counted since the last flush to the store.
func (s *Server) Close(ctx context.Context) error {
	err := s.server.Shutdown(ctx)
	if s.stopFlush != nil {
		s.stopFlush()
		<-s.flushDone
	}
	if s.stopStates != nil {
		s.stopStates()
		<-s.statesDone
	}
	return err
}

// ServeHTTP implements http.Handler: security headers, then routing.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Canonical names and values made once (securityHeaders): no
	// allocation per request. A handler that changes one (Set, Add) gets
	// a slice of its own; none writes into these.
	h["X-Content-Type-Options"] = s.headers.nosniff
	h["Cache-Control"] = s.headers.noStore
	h["Referrer-Policy"] = s.headers.noReferrer
	if e, ok := s.exact[r.URL.Path]; ok && r.URL.RawPath == "" {
		// A path with no wildcard, spelt as registered, and its method
		// exactly (a HEAD to a GET route goes to the mux): the route the
		// mux would choose, as no pattern is more specific than a
		// literal one and none names a host (TestExactRoutes), found
		// with one map read instead of the mux's two walks below.
		for i := range e {
			if e[i].method == r.Method {
				r.Pattern = e[i].pattern
				e[i].h.ServeHTTP(w, r)
				return
			}
		}
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		// No route (a redirect has its target as pattern).
		s.unmatched.ServeHTTP(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// securityHeaders are the values ServeHTTP puts on every response, each a
// slice of one made when the server is.
type securityHeaders struct {
	nosniff, noStore, noReferrer []string
}

// exactRoute is a route whose pattern is a method and a literal path
// (no wildcard, no trailing slash, no host).
type exactRoute struct {
	method, pattern string
	h               http.Handler
}

// handle registers pattern with the mux and, if it is a method and a
// literal path, in s.exact as well.
func (s *Server) handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || method == "" || !strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") || strings.ContainsAny(path, "{}%") {
		return
	}
	if s.exact == nil {
		s.exact = map[string][]exactRoute{}
	}
	s.exact[path] = append(s.exact[path], exactRoute{method: method, pattern: pattern, h: h})
}

// route registers pattern for the given roles (admin is always allowed;
// none means any valid key). The pattern is also the metrics label.
func (s *Server) route(pattern string, h http.HandlerFunc, roles ...vigil.Role) {
	s.patterns = append(s.patterns, pattern)
	if len(roles) == 1 && roles[0] == vigil.RoleAdmin {
		h = s.auditAdmin(h)
	}
	s.handle(pattern, s.instrument(pattern, s.authenticate(roles, h)))
}

// public registers a pattern served without a key (health checks only).
func (s *Server) public(pattern string, h http.HandlerFunc) {
	s.patterns = append(s.patterns, pattern)
	s.handle(pattern, s.instrument(pattern, h))
}

func (s *Server) routes() {
	const (
		admin    = vigil.RoleAdmin
		curator  = vigil.RoleCurator
		matcher  = vigil.RoleMatcher
		reviewer = vigil.RoleReviewer
		lookup   = vigil.RoleLookup
	)
	s.public("GET /healthz", s.handleHealth)
	s.public("GET /readyz", s.handleReady)
	s.route("GET /metrics", s.metrics.handler().ServeHTTP, admin)
	s.route("GET /v1/openapi.json", s.handleOpenAPI)

	s.route("POST /v1/hash", s.handleHash, matcher, curator)
	s.route("POST /v1/match", s.handleMatch, matcher, curator)
	s.route("POST /v1/phm/vouchers", s.handlePHMVouchers, matcher)
	// The one route of lookup keys: other platforms' hosted lookups. Not
	// /v1/match: a platform that sent its uploads here would make this
	// deployment receive, and for review hold, another platform's media.
	s.route("POST /v1/lookup", s.handleLookup, matcher, curator, lookup)
	s.route("GET /v1/index/status", s.handleIndexStatus, matcher, curator)

	s.route("POST /v1/banks", s.handleCreateBank, curator)
	s.route("GET /v1/banks", s.handleListBanks, curator, matcher, reviewer)
	s.route("GET /v1/banks/{name}", s.handleGetBank, curator, matcher, reviewer)
	s.route("PATCH /v1/banks/{name}", s.handleUpdateBank, curator)
	s.route("DELETE /v1/banks/{name}", s.handleDisableBank, curator)
	s.route("POST /v1/banks/{name}/entries", s.handleAddEntries, curator)
	s.route("POST /v1/banks/{name}/import", s.handleImport, curator)
	s.route("GET /v1/banks/{name}/entries", s.handleListEntries, curator, reviewer)
	s.route("GET /v1/banks/{name}/export", s.handleExport, curator)
	s.route("GET /v1/entries/{id}", s.handleGetEntry, curator, reviewer)
	s.route("POST /v1/entries/{id}/retract", s.handleRetract, curator)

	s.route("POST /v1/conversations/score", s.handleScoreConversation, matcher, curator)
	s.route("POST /v1/conversations/{id}/messages", s.handleAppendMessages, matcher, curator)
	s.route("GET /v1/conversations/{id}", s.handleGetConversation, matcher, curator, reviewer)

	s.route("GET /v1/rematches", s.handleListRematches, curator, reviewer)
	s.route("GET /v1/classifiers", s.handleListClassifiers, curator, reviewer)
	s.route("PUT /v1/classifiers/{name}", s.handleSetClassifier, curator)
	s.jobRoutes()
	s.caseRoutes()
	s.incidentRoutes()
	s.holdRoutes()
	s.complaintRoutes()
	s.transparencyRoutes()
	s.quarantineRoutes()
	s.ruleRoutes()
	s.centreRoutes()

	// Feeds are whole lists: only curators (of subscribing instances) read
	// them, and on a centre its registered providers, with the key they
	// report with (a curator key would also open the centre's banks to
	// them); both send their review counts back.
	s.providerRoute("GET /v1/feeds/{name}/head", s.handleFeedHead, curator)
	s.providerRoute("GET /v1/feeds/{name}/batches/{n}", s.handleFeedBatch, curator)
	s.providerRoute("GET /v1/feeds/{name}/proof", s.handleFeedProof, curator)
	s.providerRoute("POST /v1/feeds/{name}/feedback", s.handleFeedFeedback, curator)
	s.route("GET /v1/feeds/{name}/feedback", s.handleListFeedFeedback, curator)

	s.route("POST /v1/keys", s.handleCreateKey, admin)
	s.route("GET /v1/keys", s.handleListKeys, admin)
	s.route("DELETE /v1/keys/{id}", s.handleRevokeKey, admin)
	s.route("PUT /v1/keys/{id}/limits", s.handleSetKeyLimits, admin)
	s.route("GET /v1/lookups", s.handleLookupCounts, admin)

	s.uiRoutes()
	// No catch-all pattern: one ("/") would match every method and so
	// keep the mux from answering 405; ServeHTTP handles what is left.
	s.unmatched = s.instrument("unmatched", http.HandlerFunc(s.handleUnmatched))
}

// handleUnmatched answers a request no route takes: 405 with Allow when
// its path is served under other methods, else 404, both as JSON errors.
// The mux's own handler for it tells which (and sets Allow); its
// plain-text body is dropped.
func (s *Server) handleUnmatched(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	c := captureWriter{header: http.Header{}}
	h.ServeHTTP(&c, r)
	if c.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", c.header.Get("Allow"))
		if s.HMA != nil && isHMAPath(r.URL.Path) {
			hmaMethodNotAllowed(w)
			return
		}
		writeErrorBody(w, http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("%s is not served for %s; allowed: %s", r.URL.Path, r.Method, c.header.Get("Allow")))
		return
	}
	writeError(w, r, vigil.Errorf(vigil.ENOTFOUND, "no such endpoint: %s %s", r.Method, r.URL.Path))
}

// captureWriter keeps the status and headers a handler writes, and
// discards its body.
type captureWriter struct {
	header http.Header
	status int
}

func (c *captureWriter) Header() http.Header         { return c.header }
func (c *captureWriter) Write(b []byte) (int, error) { return len(b), nil }
func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReady reports ready once the indexes are loaded; until then 503,
// with the load's progress, so that a load balancer sends no lookups to a
// replica still reading a large store.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if st := s.Matcher.Status(); st.Loading != nil || st.UpdatedAt.IsZero() {
		body := map[string]any{"status": "loading"}
		if st.Loading != nil {
			body["entries_loaded"], body["entries_total"] = st.Loading.EntriesLoaded, st.Loading.EntriesTotal
		}
		w.Header().Set("Retry-After", retryAfter)
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	body := map[string]any{"status": "ready"}
	// A feed that fails to sync does not make the server unready: its bank
	// keeps its last good state. Only ids: /readyz needs no key, and the
	// errors name publishers (they are in vigil feed list and metrics).
	if failing := s.failingSubscriptions(r.Context()); len(failing) > 0 {
		body["feeds_failing"] = failing
	}
	if s.FeedLoop != nil {
		body["feed_sync"] = feedLoopReady(s.FeedLoop)
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleIndexStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Matcher.Status())
}

// Routes returns every registered route pattern ("METHOD /path").
func (s *Server) Routes() []string { return append([]string(nil), s.patterns...) }

// HMARoutes returns the patterns of the HMA-compatible routes (none
// unless HMA was set before Open).
func (s *Server) HMARoutes() []string { return append([]string(nil), s.hmaPatterns...) }
