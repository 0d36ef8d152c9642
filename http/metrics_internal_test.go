package http

import (
	"testing"
	"time"
)

// TestRouteLatency checks the kept children against the histogram's own
// series: each observation lands under its route and status class, a
// class never seen has no series, and the 499 of a client gone is its own.
func TestRouteLatency(t *testing.T) {
	m := newMetrics()
	l := &routeLatency{vec: m.latency, route: "POST /v1/lookup"}
	for _, st := range []int{200, 201, 200, 404, 499, 500, 503, 200} {
		l.observe(st, time.Millisecond)
	}
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, mf := range mfs {
		if mf.GetName() != "vigil_http_request_duration_seconds" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range mt.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["route"] != "POST /v1/lookup" {
				t.Errorf("route label %q", labels["route"])
			}
			got[labels["status"]] = mt.GetHistogram().GetSampleCount()
		}
	}
	want := map[string]uint64{"2xx": 4, "4xx": 1, "499": 1, "5xx": 2}
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("status %s: %d observations, want %d", k, got[k], v)
		}
	}
	for _, c := range []int{0, 99, 100, 299, 499, 599, 1000, -5} {
		if statusClass(c) != []string{"0xx", "1xx", "2xx", "3xx", "4xx", "5xx", "499"}[statusIndex(c)] {
			t.Errorf("status %d: index %d, class %s", c, statusIndex(c), statusClass(c))
		}
	}
}
