package http

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-oss/vigil/feed"
)

// feedLoopReady is the feed loop's part of /readyz: its rounds and the
// names of failing sources, never their errors (/readyz needs no key, and
// errors name publishers and hosts; they are in metrics' labels by name
// only, and in vigil feed list).
func feedLoopReady(l *feed.Loop) map[string]any {
	states, rounds, last := l.Status()
	out := map[string]any{"interval": l.Interval.String(), "rounds": rounds, "sources": len(states)}
	if !last.IsZero() {
		out["last_round"] = last.UTC().Format(time.RFC3339)
	}
	var failing []string
	for _, st := range states {
		if st.Error != "" {
			failing = append(failing, st.Name)
		}
	}
	if len(failing) > 0 {
		out["failing"] = failing
	}
	return out
}

var (
	feedLoopRunsDesc    = prometheus.NewDesc("vigil_feed_loop_syncs_total", "Syncs the in-server feed loop ran, by source and result (ok, error).", []string{"source", "result"}, nil)
	feedLoopFailingDesc = prometheus.NewDesc("vigil_feed_loop_failing", "1 if the source's last sync in the feed loop failed, else 0.", []string{"source"}, nil)
	feedLoopLastOKDesc  = prometheus.NewDesc("vigil_feed_loop_last_success_timestamp_seconds", "When the source last synced without error (Unix time).", []string{"source"}, nil)
	feedLoopRoundsDesc  = prometheus.NewDesc("vigil_feed_loop_rounds_total", "Rounds the in-server feed loop completed.", nil, nil)
)

// feedLoopCollector reads the feed loop's state at scrape time.
type feedLoopCollector struct{ l *feed.Loop }

func (c feedLoopCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- feedLoopRunsDesc
	ch <- feedLoopFailingDesc
	ch <- feedLoopLastOKDesc
	ch <- feedLoopRoundsDesc
}

func (c feedLoopCollector) Collect(ch chan<- prometheus.Metric) {
	states, rounds, _ := c.l.Status()
	ch <- prometheus.MustNewConstMetric(feedLoopRoundsDesc, prometheus.CounterValue, float64(rounds))
	for _, st := range states {
		failing := 0.0
		if st.Error != "" {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(feedLoopRunsDesc, prometheus.CounterValue, float64(st.Succeeded), st.Name, "ok")
		ch <- prometheus.MustNewConstMetric(feedLoopRunsDesc, prometheus.CounterValue, float64(st.Failures), st.Name, "error")
		ch <- prometheus.MustNewConstMetric(feedLoopFailingDesc, prometheus.GaugeValue, failing, st.Name)
		if !st.LastOK.IsZero() {
			ch <- prometheus.MustNewConstMetric(feedLoopLastOKDesc, prometheus.GaugeValue, float64(st.LastOK.Unix()), st.Name)
		}
	}
}
