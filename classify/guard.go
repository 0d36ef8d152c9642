package classify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-oss/vigil"
)

// Defaults of a Guard's bounds.
const (
	DefaultTimeout         = 2 * time.Second
	DefaultConcurrency     = 8
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
	// retryBackoff is the pause before the first retry, doubled after.
	retryBackoff = 50 * time.Millisecond
)

// Errors of a call Guard did not make. None counts against the breaker.
var (
	ErrPolicy = errors.New("the policy sends this content to no classifier of that name")
	ErrOpen   = errors.New("circuit breaker open")
	ErrBusy   = errors.New("concurrency limit reached")
	// ErrPaused is a call to a classifier a curator paused.
	ErrPaused = errors.New("classifier paused by a curator")
)

// Policy says which content a deployment sends to a classifier. Content
// goes only where the policy allows it: both lists must admit it.
type Policy struct {
	// MediaTypes are media types ("image/jpeg") or whole kinds ("image/*");
	// empty means "image/*".
	MediaTypes []string `json:"media_types" yaml:"media_types"`
	// Sources are entry points (Content.Source: "match", "cli"); empty
	// means all of them.
	Sources []string `json:"sources,omitempty" yaml:"sources"`
	// Video says whether frames of videos go to the classifier, and how
	// many; MediaTypes does not apply to them (they are image/jpeg).
	Video VideoPolicy `json:"video,omitzero" yaml:"video"`
}

func (p Policy) allowsSource(source string) bool {
	return len(p.Sources) == 0 || slices.Contains(p.Sources, source)
}

// Allows reports whether c may go to the classifier.
func (p Policy) Allows(c Content) bool {
	if !p.allowsSource(c.Source) {
		return false
	}
	if c.Frame != nil {
		return p.Video.Frames > 0
	}
	mt, _, err := mime.ParseMediaType(c.MediaType)
	if err != nil {
		return false
	}
	types := p.MediaTypes
	if len(types) == 0 {
		types = []string{"image/*"}
	}
	for _, t := range types {
		if t == mt || strings.HasSuffix(t, "/*") && strings.HasPrefix(mt, strings.TrimSuffix(t, "*")) {
			return true
		}
	}
	return false
}

// Guard is one configured classifier with its bounds. It is safe for
// concurrent use.
type Guard struct {
	Name string
	Kind string
	// Floor is the review precision below which the classifier is flagged
	// to curators.
	Floor vigil.PrecisionFloor

	c        Classifier
	policy   Policy
	timeout  time.Duration
	retries  int
	sem      chan struct{}
	breaker  breaker
	metrics  *Metrics
	logger   *slog.Logger
	describe string // kind and endpoint, for the status (never a secret)
	paused   atomic.Bool
}

// GuardOptions are a Guard's bounds; zero fields take the defaults.
type GuardOptions struct {
	Policy          Policy
	Timeout         time.Duration // bounds a whole call, retries included
	Retries         int           // further attempts after a passing failure
	Concurrency     int           // calls at once; more wait for a slot, within Timeout
	BreakerFailures int           // consecutive failures that open the breaker
	BreakerCooldown time.Duration // how long it stays open before a trial call
	Floor           vigil.PrecisionFloor
	Metrics         *Metrics         // nil: none counted
	Logger          *slog.Logger     // the access log; nil: discard
	Now             func() time.Time // nil: time.Now
}

// NewGuard wraps c, named name, of the given kind.
func NewGuard(name, kind, endpoint string, c Classifier, o GuardOptions) *Guard {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.BreakerFailures <= 0 {
		o.BreakerFailures = DefaultBreakerFailures
	}
	if o.BreakerCooldown <= 0 {
		o.BreakerCooldown = DefaultBreakerCooldown
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	g := &Guard{
		Name: name, Kind: kind, Floor: o.Floor, c: c, policy: o.Policy, timeout: o.Timeout, retries: max(o.Retries, 0),
		sem: make(chan struct{}, o.Concurrency), metrics: o.Metrics, logger: o.Logger, describe: endpoint,
		breaker: breaker{failures: o.BreakerFailures, cooldown: o.BreakerCooldown, now: o.Now},
	}
	g.metrics.breakerState(name, false)
	g.metrics.pausedState(name, false)
	return g
}

// Policy returns the guard's policy.
func (g *Guard) Policy() Policy { return g.policy }

// Endpoint describes where the classifier runs (its URL or command).
func (g *Guard) Endpoint() string { return g.describe }

// Paused reports whether a curator paused the classifier: it is not
// called until resumed.
func (g *Guard) Paused() bool { return g.paused.Load() }

// SetPaused pauses or resumes the classifier (the caller stores the
// choice, and audits it; see vigil.ClassifierStateService).
func (g *Guard) SetPaused(paused bool) {
	g.paused.Store(paused)
	g.metrics.pausedState(g.Name, paused)
}

// BreakerOpen reports whether the breaker keeps calls away now.
func (g *Guard) BreakerOpen() bool { return g.breaker.isOpen() }

// Classify asks the classifier about c, within the policy and the bounds,
// and returns its scores. Every call, made or refused, is access-logged.
func (g *Guard) Classify(ctx context.Context, c Content) ([]vigil.ClassifierScore, string, error) {
	start := time.Now()
	attempts := 0
	res, err := g.call(ctx, c, &attempts)
	outcome := "ok"
	switch {
	case errors.Is(err, ErrPolicy):
		outcome = "not_allowed"
	case errors.Is(err, ErrOpen):
		outcome = "breaker_open"
	case errors.Is(err, ErrPaused):
		outcome = "paused"
	case errors.Is(err, ErrBusy):
		outcome = "busy"
	case errors.Is(err, ErrBadReply):
		outcome = "bad_reply"
	case err != nil && ctx.Err() != nil:
		outcome = "cancelled"
	case err != nil:
		outcome = "error"
	}
	d := time.Since(start)
	g.metrics.observe(g.Name, outcome, attempts > 0, d)
	attrs := []slog.Attr{
		slog.String("classifier", g.Name), slog.String("kind", g.Kind), slog.String("source", c.Source),
		slog.String("media_type", c.MediaType), slog.Int("bytes", len(c.Data)), slog.String("outcome", outcome),
		slog.Int("attempts", attempts), slog.Duration("duration", d),
	}
	if c.Frame != nil {
		attrs = append(attrs, slog.Int("frame", c.Frame.Number), slog.Float64("frame_time", c.Frame.Timestamp))
	}
	if c.SHA256 != "" {
		attrs = append(attrs, slog.String("content_sha256", c.SHA256))
	}
	level := slog.LevelInfo
	if err != nil && outcome != "not_allowed" && outcome != "paused" {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	g.logger.LogAttrs(ctx, level, "classify", attrs...)
	if err != nil {
		return nil, "", err
	}
	scores := make([]vigil.ClassifierScore, len(res.Labels))
	for i, l := range res.Labels {
		scores[i] = vigil.ClassifierScore{Classifier: g.Name, Label: l.Label, Score: l.Score, ModelVersion: res.ModelVersion}
	}
	return scores, res.ModelVersion, nil
}

func (g *Guard) call(ctx context.Context, c Content, attempts *int) (Result, error) {
	if !g.policy.Allows(c) {
		return Result{}, ErrPolicy
	}
	if g.Paused() {
		return Result{}, ErrPaused
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	if g.breaker.isOpen() {
		return Result{}, ErrOpen
	}
	// A call waits for a slot within its time bound: a burst is smoothed
	// rather than left unscored, and the caller's wait stays bounded.
	select {
	case g.sem <- struct{}{}:
	case <-ctx.Done():
		return Result{}, fmt.Errorf("%w: no slot within the timeout", ErrBusy)
	}
	g.metrics.inFlight(g.Name, 1)
	defer func() {
		<-g.sem
		g.metrics.inFlight(g.Name, -1)
	}()
	// The breaker is asked once the call has its slot, not before: calls
	// that waited (a video's frames, a burst) while the ones ahead of
	// them failed find it open, rather than all going to a classifier
	// known to be down.
	if !g.breaker.allow() {
		return Result{}, ErrOpen
	}
	backoff := retryBackoff
	for {
		*attempts++
		res, err := g.c.Classify(ctx, c)
		if err == nil {
			g.breaker.success()
			return res, nil
		}
		if !Retryable(err) || *attempts > g.retries || ctx.Err() != nil {
			g.fail(ctx, err)
			return Result{}, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			g.fail(ctx, err)
			return Result{}, fmt.Errorf("%w (then %w)", err, ctx.Err())
		case <-t.C:
		}
		backoff *= 2
	}
}

// fail counts a failure against the breaker, unless the caller gave up:
// a client hanging up says nothing of the classifier.
func (g *Guard) fail(ctx context.Context, err error) {
	if parent := context.Cause(ctx); errors.Is(parent, context.Canceled) {
		g.breaker.release()
		return
	}
	if g.breaker.failure() {
		g.logger.Warn("classifier breaker opened", "classifier", g.Name, "err", err)
		g.metrics.breakerState(g.Name, true)
	}
}

// breaker is a circuit breaker: after failures consecutive failures it
// opens, refusing calls for cooldown; then it lets one trial call through
// (half open), whose success closes it and whose failure opens it again.
type breaker struct {
	failures int
	cooldown time.Duration
	now      func() time.Time

	mu        sync.Mutex
	count     int       // consecutive failures
	openUntil time.Time // zero when closed
	trial     bool      // a trial call is out
}

func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openUntil.IsZero() && (b.trial || b.now().Before(b.openUntil))
}

// allow reports whether a call may go ahead; a call allowed while half
// open is the trial, and must end in success, failure or release.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil.IsZero() {
		return true
	}
	if b.trial || b.now().Before(b.openUntil) {
		return false
	}
	b.trial = true
	return true
}

func (b *breaker) success() {
	b.mu.Lock()
	b.count, b.openUntil, b.trial = 0, time.Time{}, false
	b.mu.Unlock()
}

// release ends a call that says nothing of the classifier's health.
func (b *breaker) release() {
	b.mu.Lock()
	b.trial = false
	b.mu.Unlock()
}

// failure counts a failure and reports whether it opened the breaker.
func (b *breaker) failure() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.count++
	wasTrial := b.trial
	b.trial = false
	if wasTrial || b.count >= b.failures {
		opened := b.openUntil.IsZero() || wasTrial
		b.openUntil = b.now().Add(b.cooldown)
		return opened
	}
	return false
}

// Metrics counts classifier calls, per classifier, on a registry.
type Metrics struct {
	calls    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	open     *prometheus.GaugeVec
	flight   *prometheus.GaugeVec
	paused   *prometheus.GaugeVec
}

// NewMetrics registers the classifier metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_classifier_calls_total",
			Help: "Classifier calls by classifier and outcome (ok, error, bad_reply, breaker_open, busy, not_allowed, paused, cancelled).",
		}, []string{"classifier", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vigil_classifier_duration_seconds",
			Help:    "Time of classifier calls that reached the classifier, retries included.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"classifier"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_classifier_breaker_open",
			Help: "1 while the classifier's circuit breaker keeps calls away.",
		}, []string{"classifier"}),
		flight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_classifier_in_flight",
			Help: "Classifier calls under way.",
		}, []string{"classifier"}),
		paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_classifier_paused",
			Help: "1 while a curator has paused the classifier: it is not called.",
		}, []string{"classifier"}),
	}
	reg.MustRegister(m.calls, m.duration, m.open, m.flight, m.paused)
	return m
}

func (m *Metrics) observe(name, outcome string, called bool, d time.Duration) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(name, outcome).Inc()
	if called {
		m.duration.WithLabelValues(name).Observe(d.Seconds())
	}
	if outcome == "ok" {
		m.open.WithLabelValues(name).Set(0)
	}
}

func (m *Metrics) breakerState(name string, open bool) {
	if m == nil {
		return
	}
	v := 0.0
	if open {
		v = 1
	}
	m.open.WithLabelValues(name).Set(v)
}

func (m *Metrics) pausedState(name string, paused bool) {
	if m == nil {
		return
	}
	v := 0.0
	if paused {
		v = 1
	}
	m.paused.WithLabelValues(name).Set(v)
}

func (m *Metrics) inFlight(name string, d float64) {
	if m != nil {
		m.flight.WithLabelValues(name).Add(d)
	}
}
