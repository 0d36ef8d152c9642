package http

import (
	"context"
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
	// should look at the classifier (its model, its rules' min_score).
	Flagged    bool   `json:"flagged"`
	FlagReason string `json:"flag_reason,omitempty"`
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
	var out []classifierResponse
	seen := map[string]bool{}
	for _, g := range s.Classifiers.Guards() {
		seen[g.Name] = true
		pol, floor := g.Policy(), g.Floor
		c := classifierResponse{Name: g.Name, Kind: g.Kind, Endpoint: g.Endpoint(), Configured: true, BreakerOpen: g.BreakerOpen(),
			Policy: &pol, Floor: &floor}
		c.FlagReason = flagged[g.Name]
		c.Flagged = c.FlagReason != ""
		out = append(out, c)
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
