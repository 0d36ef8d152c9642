package http_test

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/classify"
	vhttp "github.com/vigil-oss/vigil/http"
)

// BenchmarkMatchVideoClassifier measures what classifying a video's
// frames adds to POST /v1/match of a video: the same benign 6-second
// 320×240 MP4 of three scenes to three servers, one without classifiers
// (the baseline: hashing and matching), one whose classifier takes video
// frames but is down with its breaker open (the frames are kept, scaled
// and encoded, no call is made), and one whose classifier answers each
// frame after 5 ms (three calls, at once). A classifier rule is loaded on
// all three; its floor is above the score, so no case opens. One client;
// the servers take turns, ten rounds of b.N/10 requests each, so that a
// noisy machine weighs on all three alike. It reports each one's p50 and
// mean in milliseconds, and the CPU time per request of this process and
// its reaped children (ffprobe, ffmpeg), the figure to compare on a
// shared machine, where wall time includes time spent descheduled.
//
//	go test -run XXX -bench MatchVideoClassifier -benchtime 100x -count 3 ./http/
func BenchmarkMatchVideoClassifier(b *testing.B) {
	cls := slowClassifier(b, "x")
	video := scenesMP4(b)
	withFrames := func(path string) func(*vhttp.Server) {
		return func(s *vhttp.Server) {
			set, err := classify.Build([]classify.Config{{Name: "frames", Kind: classify.KindHTTP, URL: cls.URL + path,
				Breaker: classify.Breaker{Failures: 1, Cooldown: time.Hour}, Policy: classify.Policy{Video: classify.VideoPolicy{Frames: 16}}}},
				classify.Deps{Metrics: s.ClassifierMetrics(), Logger: s.Logger})
			if err != nil {
				panic(err)
			}
			s.Classifiers = set
		}
	}
	type target struct {
		name    string
		ts      *testServer
		lat     []time.Duration
		elapsed time.Duration
		cpu     time.Duration
	}
	var targets []*target
	for _, tc := range []struct {
		name string
		opts []func(*vhttp.Server)
	}{
		{"without", nil},
		{"kept-only", []func(*vhttp.Server){withFrames("/down")}},
		{"with", []func(*vhttp.Server){withFrames("/up")}},
	} {
		ts := mustOpenServer(b, tc.opts...)
		if code := ts.do(b, vigil.RoleAdmin, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "default"}), nil); code != 201 {
			b.Fatal("create queue")
		}
		rule := map[string]any{"name": "model-review", "when": map[string]any{"kind": "classifier", "classifier": "frames", "min_score": 0.8},
			"action": map[string]any{"type": "case", "queue": "default"}}
		if code := ts.do(b, vigil.RoleCurator, "POST", "/v1/rules", "", jsonBody(rule), nil); code != 201 {
			b.Fatal("create rule")
		}
		// Warm up; on "kept-only", the failure opens the breaker.
		ts.do(b, vigil.RoleMatcher, "POST", "/v1/match", "video/mp4", bytes.NewReader(video), nil)
		targets = append(targets, &target{name: tc.name, ts: ts})
	}
	const rounds = 10
	client := &http.Client{}
	run := func(t *target, n int) {
		url, auth := t.ts.URL()+"/v1/match", "Bearer "+t.ts.keys[vigil.RoleMatcher]
		t0, cpu0 := time.Now(), processCPU()
		for range n {
			req, _ := http.NewRequest("POST", url, bytes.NewReader(video))
			req.Header.Set("Authorization", auth)
			req.Header.Set("Content-Type", "video/mp4")
			s := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatalf("%s: status %d", t.name, resp.StatusCode)
			}
			t.lat = append(t.lat, time.Since(s))
		}
		t.elapsed += time.Since(t0)
		t.cpu += processCPU() - cpu0
	}
	b.ResetTimer()
	for range rounds {
		for _, t := range targets {
			run(t, max(b.N/rounds, 1))
		}
	}
	b.StopTimer()
	for _, t := range targets {
		slices.Sort(t.lat)
		b.ReportMetric(float64(t.lat[len(t.lat)/2].Microseconds())/1000, t.name+"-p50-ms")
		b.ReportMetric(t.elapsed.Seconds()*1000/float64(len(t.lat)), t.name+"-mean-ms")
		b.ReportMetric(t.cpu.Seconds()*1000/float64(len(t.lat)), t.name+"-cpu-ms")
	}
}

// processCPU returns the CPU time (user and system) of this process and
// of its reaped children.
func processCPU() time.Duration {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	return time.Duration(self.Utime.Nano() + self.Stime.Nano() + children.Utime.Nano() + children.Stime.Nano())
}
