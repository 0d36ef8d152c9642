package http

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/classify"
)

// ClassifierMetrics returns the classifier metrics on the server's
// registry, for classify.Build: made on first use, so that a server
// without classifiers exports none.
func (s *Server) ClassifierMetrics() *classify.Metrics {
	s.classifyMetricsOnce.Do(func() {
		s.classifyMetrics = classify.NewMetrics(s.metrics.reg)
		s.metrics.reg.MustRegister(classifierFlagCollector{s})
	})
	return s.classifyMetrics
}

// classifies reports whether uploads are to be classified: classifiers
// are configured and a rule would act on their scores.
func (s *Server) classifies(ctx context.Context) bool {
	return s.Classifiers.Len() > 0 && s.Flow().Classifies(ctx)
}

// classifierResponse is one classifier of GET /v1/classifiers: how it is
// configured, whether its breaker is open, and what review said of the
// cases holding its scores, per label and score band.
type classifierResponse struct {
	ID          int64                 `json:"id"` // position in the configuration, for paging
	Name        string                `json:"name"`
	Kind        string                `json:"kind,omitempty"`
	Endpoint    string                `json:"endpoint,omitempty"`
	Configured  bool                  `json:"configured"` // false: only statistics remain of it
	BreakerOpen bool                  `json:"breaker_open"`
	Policy      *classify.Policy      `json:"policy,omitempty"`
	Floor       *vigil.PrecisionFloor `json:"precision_floor,omitempty"`
	Bands       []bandResponse        `json:"bands"`
	// Flagged says review precision fell below the floor: a curator
	// should look at the classifier (its model, its rules' min_score),
	// and may pause it (PUT /v1/classifiers/{name}).
	Flagged    bool   `json:"flagged"`
	FlagReason string `json:"flag_reason,omitempty"`
	// Paused says a curator paused the classifier: it is not called.
	// State is the curator's last decision on it, if any.
	Paused bool                   `json:"paused"`
	State  *vigil.ClassifierState `json:"state,omitempty"`
}

type bandResponse struct {
	*vigil.ClassifierBandStats
	Precision *float64 `json:"precision,omitempty"`
}

// classifierStats returns the review statistics by classifier (all, or
// the decisions since since), or nil when the review store keeps none.
func (s *Server) classifierStats(ctx context.Context, since time.Time) (map[string][]*vigil.ClassifierBandStats, []string, error) {
	st, ok := s.Cases.(vigil.ClassifierStatsService)
	if !ok {
		return nil, nil, nil
	}
	all, err := st.ClassifierStats(ctx, since)
	if err != nil {
		return nil, nil, err
	}
	by := map[string][]*vigil.ClassifierBandStats{}
	var order []string
	for _, b := range all {
		if by[b.Classifier] == nil {
			order = append(order, b.Classifier)
		}
		by[b.Classifier] = append(by[b.Classifier], b)
	}
	return by, order, nil
}

// flags checks every configured classifier against its precision floor:
// over all decisions, or those of the floor's window. It returns the
// reasons of the flagged ones, by name.
func (s *Server) flags(ctx context.Context, all map[string][]*vigil.ClassifierBandStats) (map[string]string, error) {
	out := map[string]string{}
	recent := map[time.Duration]map[string][]*vigil.ClassifierBandStats{}
	now := time.Now()
	for _, g := range s.Classifiers.Guards() {
		stats := all
		if w := g.Floor.Window; w > 0 {
			if recent[w] == nil {
				by, _, err := s.classifierStats(ctx, now.Add(-w))
				if err != nil {
					return nil, err
				}
				recent[w] = by
			}
			stats = recent[w]
		}
		if why, flagged := g.Floor.Check(stats[g.Name]); flagged {
			out[g.Name] = why
		}
	}
	return out, nil
}

func (s *Server) handleListClassifiers(w http.ResponseWriter, r *http.Request) {
	p, err := readPage(r.URL.Query(), smallPages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	stats, order, err := s.classifierStats(r.Context(), time.Time{})
	if err != nil {
		writeError(w, r, err)
		return
	}
	flagged, err := s.flags(r.Context(), stats)
	if err != nil {
		writeError(w, r, err)
		return
	}
	states, err := s.syncClassifierStates(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	var out []classifierResponse
	seen := map[string]bool{}
	for _, g := range s.Classifiers.Guards() {
		seen[g.Name] = true
		out = append(out, s.describeClassifier(g, flagged, states))
	}
	for _, name := range order {
		if !seen[name] {
			out = append(out, classifierResponse{Name: name})
		}
	}
	for i := range out {
		out[i].ID = int64(i + 1)
		out[i].Bands = []bandResponse{}
		for _, b := range stats[out[i].Name] {
			out[i].Bands = append(out[i].Bands, bandResponse{ClassifierBandStats: b, Precision: knownPrecision(b.Precision())})
		}
	}
	page, next := cutPage(p, out, func(c classifierResponse) int64 { return c.ID })
	writePage(w, "classifiers", page, next)
}

var classifierFlaggedDesc = prometheus.NewDesc("vigil_classifier_precision_flagged",
	"1 for a classifier whose review precision fell below its floor: a curator should look at it.", []string{"classifier"}, nil)

// classifierFlagCollector reads review precision at scrape time, as
// GET /v1/classifiers does, so that the metric and the API agree.
type classifierFlagCollector struct{ s *Server }

func (c classifierFlagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- classifierFlaggedDesc }

func (c classifierFlagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stats, _, err := c.s.classifierStats(ctx, time.Time{})
	var flagged map[string]string
	if err == nil {
		flagged, err = c.s.flags(ctx, stats)
	}
	if err != nil {
		c.s.Logger.Error("classifier precision for metrics", "err", err)
		return
	}
	for _, g := range c.s.Classifiers.Guards() {
		v := 0.0
		if flagged[g.Name] != "" {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(classifierFlaggedDesc, prometheus.GaugeValue, v, g.Name)
	}
}

// describeClassifier is a configured classifier's entry in
// GET /v1/classifiers, without its bands.
func (s *Server) describeClassifier(g *classify.Guard, flagged map[string]string, states map[string]*vigil.ClassifierState) classifierResponse {
	pol, floor := g.Policy(), g.Floor
	c := classifierResponse{Name: g.Name, Kind: g.Kind, Endpoint: g.Endpoint(), Configured: true, BreakerOpen: g.BreakerOpen(),
		Policy: &pol, Floor: &floor, Paused: g.Paused(), State: states[g.Name]}
	c.FlagReason = flagged[g.Name]
	c.Flagged = c.FlagReason != ""
	return c
}

// DefaultClassifierStateRefresh is how often a server reads curators'
// classifier pauses back from the store.
const DefaultClassifierStateRefresh = 30 * time.Second

// classifierStates returns the store of classifier states, or nil.
func (s *Server) classifierStates() vigil.ClassifierStateService {
	st, _ := s.Cases.(vigil.ClassifierStateService)
	return st
}

// syncClassifierStates reads the stored states and pauses or resumes the
// configured classifiers as they say; it returns them by name.
func (s *Server) syncClassifierStates(ctx context.Context) (map[string]*vigil.ClassifierState, error) {
	store := s.classifierStates()
	if store == nil || s.Classifiers.Len() == 0 {
		return nil, nil
	}
	all, err := store.ClassifierStates(ctx)
	if err != nil {
		return nil, err
	}
	by := make(map[string]*vigil.ClassifierState, len(all))
	for _, st := range all {
		by[st.Name] = st
	}
	for _, g := range s.Classifiers.Guards() {
		paused := by[g.Name] != nil && by[g.Name].Paused
		if paused != g.Paused() {
			s.Logger.Info("classifier state", "classifier", g.Name, "paused", paused)
			g.SetPaused(paused)
		}
	}
	return by, nil
}

// startClassifierStates applies the stored states before the server
// serves (a pause outlives a restart) and keeps reading them, for pauses
// made on other replicas.
func (s *Server) startClassifierStates() error {
	if s.classifierStates() == nil || s.Classifiers.Len() == 0 {
		return nil
	}
	if _, err := s.syncClassifierStates(context.Background()); err != nil {
		return fmt.Errorf("load classifier states: %w", err)
	}
	every := s.ClassifierStateRefresh
	if every <= 0 {
		every = DefaultClassifierStateRefresh
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopStates, s.statesDone = cancel, make(chan struct{})
	go func() {
		defer close(s.statesDone)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := s.syncClassifierStates(ctx); err != nil && ctx.Err() == nil {
					s.Logger.Error("refresh classifier states", "err", err)
				}
			}
		}
	}()
	return nil
}

type classifierStateRequest struct {
	Paused *bool  `json:"paused"`
	Reason string `json:"reason,omitempty"`
}

// handleSetClassifier pauses or resumes a configured classifier: a
// curator's answer to a flag (or to anything else). The state is stored
// with its audit record in one transaction, applied here at once and on
// other replicas at their next refresh. Vigil never pauses a classifier
// by itself: a flag asks a human.
func (s *Server) handleSetClassifier(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	g := s.Classifiers.Guard(name)
	if g == nil {
		writeError(w, r, vigil.Errorf(vigil.ENOTFOUND, "classifier %q is not configured", name))
		return
	}
	store := s.classifierStates()
	if store == nil {
		writeError(w, r, vigil.Errorf(vigil.EUNSUPPORTED, "this server's store keeps no classifier states"))
		return
	}
	var req classifierStateRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if req.Paused == nil {
		writeError(w, r, badRequest("paused is required: true to pause the classifier, false to resume it"))
		return
	}
	st := &vigil.ClassifierState{Name: name, Paused: *req.Paused, Reason: req.Reason, UpdatedBy: actor(r)}
	rec := auditRecord(r, vigil.AuditClassifierState, "classifier:"+name, map[string]any{"paused": st.Paused, "reason": st.Reason})
	if err := s.change(r, rec, func(ctx context.Context) error { return store.SetClassifierState(ctx, st) }); err != nil {
		writeError(w, r, err)
		return
	}
	g.SetPaused(st.Paused)
	s.Logger.Info("classifier state", "classifier", name, "paused", st.Paused, "by", st.UpdatedBy)
	stats, _, err := s.classifierStats(r.Context(), time.Time{})
	if err != nil {
		writeError(w, r, err)
		return
	}
	flagged, err := s.flags(r.Context(), stats)
	if err != nil {
		writeError(w, r, err)
		return
	}
	c := s.describeClassifier(g, flagged, map[string]*vigil.ClassifierState{name: st})
	for i, o := range s.Classifiers.Guards() {
		if o == g {
			c.ID = int64(i + 1)
		}
	}
	c.Bands = []bandResponse{}
	for _, b := range stats[name] {
		c.Bands = append(c.Bands, bandResponse{ClassifierBandStats: b, Precision: knownPrecision(b.Precision())})
	}
	writeJSON(w, http.StatusOK, c)
}
