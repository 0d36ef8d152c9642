package http

import (
	"log/slog"
	"net/http"
	"net/textproto"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigil-oss/vigil"
)

// metrics live on a private registry: no global state, several servers per
// process in tests.
type metrics struct {
	reg         *prometheus.Registry
	latency     *prometheus.HistogramVec
	matches     *prometheus.CounterVec
	indexStatus func() vigil.IndexStatus
	// phmReceived and phmErrors count the PHM vouchers received and those
	// whose processing failed (phm.go).
	phmReceived, phmErrors prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "vigil_http_request_duration_seconds",
		Help:    "HTTP request latency by route and status class (499: the client closed the request first).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "status"})
	m.matches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_matches_total",
		Help: "Matches returned, by bank and signal type (suppressed ones counted under their negative bank).",
	}, []string{"bank", "signal_type"})
	m.phmReceived = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vigil_phm_vouchers_received_total",
		Help: "Well-formed PHM vouchers received on POST /v1/phm/vouchers (matching or not: the service does not say).",
	})
	m.phmErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "vigil_phm_voucher_errors_total",
		Help: "PHM vouchers whose processing failed (logged; the platform is answered as for any voucher).",
	})
	m.reg.MustRegister(m.latency, m.matches, m.phmReceived, m.phmErrors, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	m.reg.MustRegister(indexCollector{m})
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *metrics) countMatches(results []vigil.MatchResult) {
	for _, r := range results {
		for _, mt := range r.Matches {
			m.matches.WithLabelValues(mt.Bank, string(mt.SignalType)).Inc()
		}
		for _, mt := range r.SuppressedBy {
			m.matches.WithLabelValues(mt.Bank, string(mt.SignalType)).Inc()
		}
	}
}

var (
	indexEntriesDesc = prometheus.NewDesc("vigil_index_entries", "Active entries in the in-memory index, by signal type.", []string{"signal_type"}, nil)
	indexBytesDesc   = prometheus.NewDesc("vigil_index_bytes", "Approximate memory held by the index, by signal type.", []string{"signal_type"}, nil)
)

// indexCollector reads the index size at scrape time.
type indexCollector struct{ m *metrics }

func (c indexCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- indexEntriesDesc
	ch <- indexBytesDesc
}

func (c indexCollector) Collect(ch chan<- prometheus.Metric) {
	if c.m.indexStatus == nil {
		return
	}
	for t, st := range c.m.indexStatus().Types {
		ch <- prometheus.MustNewConstMetric(indexEntriesDesc, prometheus.GaugeValue, float64(st.Entries), string(t))
		ch <- prometheus.MustNewConstMetric(indexBytesDesc, prometheus.GaugeValue, float64(st.Bytes), string(t))
	}
}

// recorder captures what the access log and metrics need.
type recorder struct {
	http.ResponseWriter
	status  int
	bytes   int64
	key     *vigil.Key
	content string // SHA-256 of uploaded content, for the access log
	err     error  // internal error behind a 500
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// instrument wraps every route: it bounds the time to receive the body,
// refuses an encoded body, records latency and writes one access-log line
// per request: who (key), what (route, content digest), outcome and time
// taken.
func (s *Server) instrument(route string, next http.Handler) http.Handler {
	latency := &routeLatency{vec: s.metrics.latency, route: route}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		r.Body = s.limitBodyTime(w, r, route)
		if err := checkContentEncoding(textproto.MIMEHeader(r.Header)); err != nil {
			// Refused here, in front of every route, so that no body
			// reader (upload, JSON, import, form) takes compressed
			// bytes for the content itself.
			writeError(rec, r, err)
		} else {
			next.ServeHTTP(rec, r)
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		if rec.status >= 500 && r.Context().Err() != nil {
			// Whatever the handler made of its cancelled work, the
			// client left first.
			rec.status, rec.err = statusClientClosedRequest, nil
		}
		d := time.Since(start)
		latency.observe(rec.status, d)
		// On the stack: room for every attribute below, so that the
		// key's do not grow the slice onto the heap (550 B a request).
		var attrBuf [11]slog.Attr
		attrs := append(attrBuf[:0],
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", route),
			slog.Int("status", rec.status), slog.Int64("bytes", rec.bytes), slog.Duration("duration", d),
			slog.String("remote", r.RemoteAddr),
		)
		if rec.key != nil {
			attrs = append(attrs, slog.Int64("key_id", rec.key.ID), slog.String("key", rec.key.Name), slog.String("role", string(rec.key.Role)))
		}
		if rec.content != "" {
			attrs = append(attrs, slog.String("content_sha256", rec.content))
		}
		level := slog.LevelInfo
		if rec.err != nil {
			level = slog.LevelError
			attrs = append(attrs, slog.String("err", rec.err.Error()))
		}
		s.Logger.LogAttrs(r.Context(), level, "access", attrs...)
	})
}

// routeLatency is one route's children of the latency histogram, found
// the first time each status class is seen (so that, as before, a route
// and class never answered have no series) and kept, rather than looked
// up by their label values on every request.
type routeLatency struct {
	vec   *prometheus.HistogramVec
	route string
	obs   [7]atomic.Pointer[prometheus.Observer] // by statusIndex
}

func (l *routeLatency) observe(status int, d time.Duration) {
	slot := &l.obs[statusIndex(status)]
	o := slot.Load()
	if o == nil {
		h := l.vec.WithLabelValues(l.route, statusClass(status))
		o = &h
		slot.Store(o) // a race stores the same child twice: harmless
	}
	(*o).Observe(d.Seconds())
}

// statusIndex numbers the labels of statusClass: 0–5 the classes, 6 the
// client's going away.
func statusIndex(code int) int {
	if code == statusClientClosedRequest {
		return 6
	}
	return max(0, min(code/100, 5))
}

// statusClass is the metrics label of a status: its class, but a client
// that went away is its own outcome rather than one more 4xx.
func statusClass(code int) string {
	if code == statusClientClosedRequest {
		return "499"
	}
	return []string{"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"}[max(0, min(code/100, 5))]
}
