package classify

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/vpdq"
)

// videoFrames returns n benign stand-ins for a video's frames, one a
// second: the classifiers under test read only the frame number written
// in them, never decode them.
func videoFrames(n int) []VideoFrame {
	var out []VideoFrame
	for i := range n {
		out = append(out, VideoFrame{Number: 30 * i, Timestamp: float64(i), Data: fmt.Appendf(nil, "\xff\xd8\xff frame %d", i)})
	}
	return out
}

// frameOf returns the index a request's frame stand-in carries.
func frameOf(t *testing.T, req uniformRequest) int {
	data, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(req.Input.MediaURL, "data:image/jpeg;base64,"))
	if err != nil {
		t.Errorf("frame not sent as a JPEG data URL: %q", req.Input.MediaURL)
		return -1
	}
	var i int
	if _, err := fmt.Sscanf(string(data), "\xff\xd8\xff frame %d", &i); err != nil {
		t.Errorf("frame data %q", data)
		return -1
	}
	return i
}

func videoGuard(name, url string, o GuardOptions) *Guard {
	if o.Policy.Video.Frames == 0 {
		o.Policy.Video.Frames = 16
	}
	return NewGuard(name, KindHTTP, url, &HTTP{URL: url}, o)
}

// TestClassifyFramesMax: a video's score for a label is its highest frame
// score, with every frame that scored it; labels keep their own frames.
func TestClassifyFramesMax(t *testing.T) {
	scores := []float64{0.1, 0.9, 0.3, 0.9, 0.2}
	srv := uniformServer(t, func(w http.ResponseWriter, req uniformRequest) {
		i := frameOf(t, req)
		fmt.Fprintf(w, `{"model":"m-2","results":[{"label":"x","score":%v},{"label":"y","score":%v}]}`, scores[i], float64(i)/10)
	})
	var logs bytes.Buffer
	set := NewSet(videoGuard("pigeon", srv.URL, GuardOptions{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
	outs := set.ClassifyFrames(context.Background(), videoFrames(5), "match", "cafe")
	if len(outs) != 1 {
		t.Fatalf("outcomes = %+v", outs)
	}
	o := outs[0]
	if o.Error != "" || o.Partial || o.ModelVersion != "m-2" || o.Video == nil || o.Video.Frames != 5 || o.Video.Scored != 5 || len(o.Scores) != 2 {
		t.Fatalf("outcome = %+v (video %+v)", o, o.Video)
	}
	x, y := o.Scores[0], o.Scores[1]
	wantX := []vigil.ScoreFrame{{Number: 30, Timestamp: 1}, {Number: 90, Timestamp: 3}}
	if x.Label != "x" || x.Score != 0.9 || !slices.Equal(x.Video.Frames, wantX) || x.Video.Scored != 5 || x.Video.Sent != 5 {
		t.Errorf("x = %+v (video %+v)", x, x.Video)
	}
	if y.Label != "y" || y.Score != 0.4 || !slices.Equal(y.Video.Frames, []vigil.ScoreFrame{{Number: 120, Timestamp: 4}}) {
		t.Errorf("y = %+v (video %+v)", y, y.Video)
	}
	for _, s := range o.Scores {
		if err := s.Validate(); err != nil {
			t.Errorf("score %s cannot be stored: %v", s.Label, err)
		}
	}
	// One access-log line per frame call, naming the frame and the video.
	if n := strings.Count(logs.String(), `"frame_time":`); n != 5 || !strings.Contains(logs.String(), `"frame":120`) || !strings.Contains(logs.String(), `"content_sha256":"cafe"`) {
		t.Errorf("access log:\n%s", logs.String())
	}
}

// TestClassifyFramesSlow: frames a slow classifier does not answer in
// time are left out of a partial result, which says how many frames
// were scored; the others' scores stand.
func TestClassifyFramesSlow(t *testing.T) {
	release := make(chan struct{})
	srv := uniformServer(t, func(w http.ResponseWriter, req uniformRequest) {
		i := frameOf(t, req)
		if i == 2 || i == 3 {
			<-release // never answers within the timeout
		}
		fmt.Fprintf(w, `{"results":[{"label":"x","score":%v}]}`, float64(i)/10)
	})
	defer close(release)
	// The timeout is what bounds the stuck frames; the others answer at
	// once, far inside it.
	set := NewSet(videoGuard("slow", srv.URL, GuardOptions{Timeout: 2 * time.Second}))
	outs := set.ClassifyFrames(context.Background(), videoFrames(5), "match", "")
	o := outs[0]
	if !o.Partial || o.Error != "" || o.Video.Scored != 3 || o.Video.Failed["timed out"] != 2 || len(o.Scores) != 1 {
		t.Fatalf("outcome = %+v (video %+v)", o, o.Video)
	}
	if s := o.Scores[0]; s.Score != 0.4 || !s.Video.Partial() || s.Video.Scored != 3 || s.Video.Sent != 5 || s.Video.Frames[0].Timestamp != 4 {
		t.Errorf("score = %+v (video %+v)", s, s.Video)
	}
}

// TestClassifyFramesFailing: the breaker applies per frame call. A dead
// classifier is called until its breaker opens, and the video's other
// frames, waiting for a slot meanwhile, are kept from it; with no frame
// scored the outcome is an error.
func TestClassifyFramesFailing(t *testing.T) {
	var calls atomic.Int32
	srv := uniformServer(t, func(w http.ResponseWriter, req uniformRequest) {
		calls.Add(1)
		http.Error(w, "down", http.StatusInternalServerError)
	})
	reg := prometheus.NewRegistry()
	set := NewSet(videoGuard("dead", srv.URL, GuardOptions{Concurrency: 1, BreakerFailures: 2, Metrics: NewMetrics(reg)}))
	outs := set.ClassifyFrames(context.Background(), videoFrames(6), "match", "")
	o := outs[0]
	if o.Scores != nil || o.Error != "circuit breaker open" || o.Partial || o.Video.Scored != 0 ||
		o.Video.Failed["failed"] != 2 || o.Video.Failed["circuit breaker open"] != 4 {
		t.Fatalf("outcome = %+v (video %+v)", o, o.Video)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("the dead classifier was called %d times, want 2 (then its breaker opened)", n)
	}
	if n := metric(t, reg, "vigil_classifier_calls_total", "dead", "breaker_open"); n != 4 {
		t.Errorf("breaker_open calls = %v", n)
	}
}

// TestClassifyFramesLying: frames whose replies are lies (a score out of
// range, a label twice) are refused as bad replies; the honest frames'
// scores stand, as a partial result.
func TestClassifyFramesLying(t *testing.T) {
	srv := uniformServer(t, func(w http.ResponseWriter, req uniformRequest) {
		switch frameOf(t, req) {
		case 0:
			io.WriteString(w, `{"results":[{"label":"x","score":1.5}]}`)
		case 1:
			io.WriteString(w, `{"results":[{"label":"x","score":0.2},{"label":"x","score":0.99}]}`)
		default:
			io.WriteString(w, `{"results":[{"label":"x","score":0.3}]}`)
		}
	})
	outs := NewSet(videoGuard("liar", srv.URL, GuardOptions{BreakerFailures: 10})).ClassifyFrames(context.Background(), videoFrames(4), "match", "")
	o := outs[0]
	if !o.Partial || o.Video.Failed["bad reply"] != 2 || o.Video.Scored != 2 || len(o.Scores) != 1 || o.Scores[0].Score != 0.3 {
		t.Fatalf("outcome = %+v (video %+v)", o, o.Video)
	}
	if f := o.Scores[0].Video.Frames; len(f) != 2 || f[0].Number != 60 || f[1].Number != 90 {
		t.Errorf("frames behind the score: %+v", f)
	}
}

// TestClassifyFramesPolicy: frames go only to classifiers whose policy
// takes video frames from the source, within their frame and byte caps,
// and never to a paused one.
func TestClassifyFramesPolicy(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]int{}
	srv := uniformServer(t, func(w http.ResponseWriter, req uniformRequest) {
		mu.Lock()
		seen[req.Model] = append(seen[req.Model], frameOf(t, req))
		mu.Unlock()
		io.WriteString(w, `{"results":[{"label":"x","score":0.5}]}`)
	})
	g := func(name string, p Policy) *Guard {
		return NewGuard(name, KindHTTP, srv.URL, &HTTP{URL: srv.URL, Model: name}, GuardOptions{Policy: p})
	}
	frames := videoFrames(9)
	one := len(frames[0].Data)
	paused := g("paused", Policy{Video: VideoPolicy{Frames: 9}})
	paused.SetPaused(true)
	set := NewSet(
		g("images", Policy{}),
		g("three", Policy{Video: VideoPolicy{Frames: 3}}),
		g("bytes", Policy{Video: VideoPolicy{Frames: 9, MaxBytes: 5 * one}}),
		g("cli", Policy{Video: VideoPolicy{Frames: 9}, Sources: []string{"cli"}}),
		paused,
	)
	if o, ok := set.KeepOptions("match"); !ok || o.MaxFrames != 9 || o.MaxBytes != DefaultVideoBytes {
		t.Errorf("KeepOptions(match) = %+v, %v", o, ok)
	}
	if _, ok := NewSet(g("images", Policy{})).KeepOptions("match"); ok {
		t.Error("a set of image classifiers asks for video frames")
	}
	outs := set.ClassifyFrames(context.Background(), frames, "match", "")
	var names []string
	for _, o := range outs {
		names = append(names, o.Classifier)
	}
	if !slices.Equal(names, []string{"three", "bytes"}) {
		t.Fatalf("classifiers asked: %v", names)
	}
	for name, want := range map[string][]int{"three": {0, 4, 8}, "bytes": {0, 2, 4, 6, 8}} {
		got := slices.Sorted(slices.Values(seen[name]))
		if !slices.Equal(got, want) {
			t.Errorf("%s got frames %v, want %v", name, got, want)
		}
	}
	// A frame is image/jpeg, but the media types of a policy are for
	// whole content: frames do not pass them, content does not pass the
	// video option.
	frame := Content{Data: frames[0].Data, MediaType: "image/jpeg", Source: "match", Frame: &FrameRef{}}
	if (Policy{}).Allows(frame) || !(Policy{Video: VideoPolicy{Frames: 1}}).Allows(frame) {
		t.Error("the video option does not decide on frames")
	}
	if (Policy{Video: VideoPolicy{Frames: 1}, MediaTypes: []string{"text/*"}}).Allows(image) {
		t.Error("the video option admits whole images")
	}
}

// TestClassifyFramesFromKeeper: the frames vpdq's Keeper keeps go to a
// classifier as they are, in frame order.
func TestClassifyFramesFromKeeper(t *testing.T) {
	kept := []vpdq.KeptFrame{{Number: 0, Timestamp: 0, JPEG: []byte("a")}, {Number: 60, Timestamp: 2, JPEG: []byte("b")}}
	f := Frames(kept)
	if len(f) != 2 || f[1].Number != 60 || f[1].Timestamp != 2 || string(f[1].Data) != "b" {
		t.Errorf("Frames = %+v", f)
	}
}

func TestSpread(t *testing.T) {
	frames := videoFrames(10)
	nums := func(fs []VideoFrame) []int {
		var out []int
		for _, f := range fs {
			out = append(out, f.Number/30)
		}
		return out
	}
	one := len(frames[0].Data)
	for _, c := range []struct {
		n, bytes int
		want     []int
	}{
		{16, 1 << 20, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{4, 1 << 20, []int{0, 3, 6, 9}},
		{1, 1 << 20, []int{0}},
		{2, 1 << 20, []int{0, 9}},
		{10, 5 * one, []int{0, 2, 4, 6, 8}},
		{10, one / 2, nil},
	} {
		if got := nums(spread(frames, c.n, c.bytes)); !slices.Equal(got, c.want) {
			t.Errorf("spread(10 frames, %d, %d) = %v, want %v", c.n, c.bytes, got, c.want)
		}
	}
}

// TestPausedGuard: a paused classifier is not called, by image or by
// frame, and the pause shows in the metrics; resumed, it is called again.
func TestPausedGuard(t *testing.T) {
	var calls atomic.Int32
	srv := uniformServer(t, func(w http.ResponseWriter, req uniformRequest) {
		calls.Add(1)
		io.WriteString(w, `{"results":[{"label":"x","score":0.5}]}`)
	})
	reg := prometheus.NewRegistry()
	g := videoGuard("p", srv.URL, GuardOptions{Metrics: NewMetrics(reg)})
	set := NewSet(g)
	g.SetPaused(true)
	if !g.Paused() || metric(t, reg, "vigil_classifier_paused", "p", "") != 1 {
		t.Error("pause not shown")
	}
	if set.Allows(image) || len(set.Classify(context.Background(), image)) != 0 || len(set.ClassifyFrames(context.Background(), videoFrames(2), "match", "")) != 0 {
		t.Error("a paused classifier was asked")
	}
	if _, _, err := g.Classify(context.Background(), image); err != ErrPaused {
		t.Errorf("direct call to a paused guard: %v", err)
	}
	if calls.Load() != 0 {
		t.Errorf("paused classifier called %d times", calls.Load())
	}
	g.SetPaused(false)
	if outs := set.Classify(context.Background(), image); len(outs) != 1 || outs[0].Error != "" || calls.Load() != 1 {
		t.Errorf("resumed: %+v", outs)
	}
	if metric(t, reg, "vigil_classifier_paused", "p", "") != 0 {
		t.Error("resume not shown")
	}
}

func TestVideoConfig(t *testing.T) {
	cfgs, err := ParseConfig(strings.NewReader(`classifiers:
  - name: pigeon
    kind: http
    url: http://127.0.0.1:1/v1/classify
    policy: {video: {frames: 8, max_bytes: 1048576}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if v := cfgs[0].Policy.Video; v.Frames != 8 || v.MaxBytes != 1<<20 {
		t.Errorf("video policy = %+v", v)
	}
	for _, bad := range []string{
		`{frames: -1}`, `{frames: 257}`, `{frames: 1, max_bytes: 67108865}`, `{max_bytes: 10}`, `{frames: 1, seconds: 3}`,
	} {
		_, err := ParseConfig(strings.NewReader("classifiers:\n  - {name: p, kind: http, url: 'http://h/', policy: {video: " + bad + "}}\n"))
		if vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("video %s: %v", bad, err)
		}
	}
	_, err = ParseConfig(strings.NewReader("classifiers:\n  - {name: p, kind: http, url: 'http://h/', policy: {media_types: [video/*], video: {frames: 4}}}\n"))
	if err == nil || !strings.Contains(vigil.ErrorMessage(err), "choose one") {
		t.Errorf("whole videos and frames both: %v", err)
	}
}
