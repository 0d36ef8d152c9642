package http_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/classify"
	vhttp "github.com/vigil-oss/vigil/http"
)

// scenesMP4 returns a benign 320×240 MP4 (index at the front, so that it
// streams) of three two-second scenes of ffmpeg's test patterns.
func scenesMP4(tb testing.TB) []byte {
	tb.Helper()
	if os.Getenv("VIGIL_SKIP_FFMPEG") != "" {
		tb.Skip("VIGIL_SKIP_FFMPEG set")
	}
	path := filepath.Join(tb.TempDir(), "scenes.mp4")
	graph := "smptebars=size=320x240:rate=10:duration=2,format=yuv420p[a];rgbtestsrc=size=320x240:rate=10:duration=2,format=yuv420p[b];" +
		"yuvtestsrc=size=320x240:rate=10:duration=2,format=yuv420p[c];[a][b][c]concat=n=3:v=1:a=0"
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-y", "-filter_complex", graph, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// frameClassifier speaks the uniform contract for JPEG frames: its score
// for label "x" is the frame's mean red level, so that every frame has
// its own. hold, if set, says which calls (numbered from 1 in arrival
// order) never answer.
type frameClassifier struct {
	*httptest.Server
	mu     sync.Mutex
	calls  int
	scores []float64
	hold   func(call int) bool
	stuck  chan struct{}
}

func newFrameClassifier(t *testing.T, hold func(int) bool) *frameClassifier {
	f := &frameClassifier{hold: hold, stuck: make(chan struct{})}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Input struct {
				MediaURL string `json:"mediaUrl"`
			} `json:"input"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(&req); err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		data, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(req.Input.MediaURL, "data:image/jpeg;base64,"))
		img, jerr := jpeg.Decode(bytes.NewReader(data))
		if err != nil || jerr != nil {
			http.Error(w, "not a JPEG frame", http.StatusBadRequest)
			return
		}
		var sum, n float64
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, _, _, _ := img.At(x, y).RGBA()
				sum += float64(r)
				n++
			}
		}
		score := math.Round(sum/n/0xffff*1000) / 1000
		f.mu.Lock()
		f.calls++
		held := f.hold != nil && f.hold(f.calls)
		if !held {
			f.scores = append(f.scores, score)
		}
		f.mu.Unlock()
		if held {
			<-f.stuck
		}
		fmt.Fprintf(w, `{"model":"frames-1","results":[{"label":"x","score":%g}]}`, score)
	}))
	t.Cleanup(func() { close(f.stuck); f.Close() })
	return f
}

// withFrameClassifier configures classifier "frames", which takes up to
// eight frames of each video uploaded to /v1/match.
func withFrameClassifier(url string) func(*vhttp.Server) {
	return func(s *vhttp.Server) {
		set, err := classify.Build([]classify.Config{{Name: "frames", Kind: classify.KindHTTP, URL: url, Timeout: 2 * time.Second,
			Policy: classify.Policy{Video: classify.VideoPolicy{Frames: 8}}}},
			classify.Deps{Metrics: s.ClassifierMetrics(), Logger: s.Logger})
		if err != nil {
			panic(err)
		}
		s.Classifiers = set
	}
}

func classifierRule(t *testing.T, ts *testServer, classifier string) {
	t.Helper()
	if code := ts.do(t, vigil.RoleAdmin, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "default", "roles": []string{"reviewer"}}), nil); code != 201 {
		t.Fatal("create queue")
	}
	rule := map[string]any{"name": "model-review", "when": map[string]any{"kind": "classifier", "classifier": classifier, "label": "x", "min_score": 0.01},
		"action": map[string]any{"type": "case", "queue": "default", "priority": 60}}
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/rules", "", jsonBody(rule), nil); code != 201 {
		t.Fatal("create rule")
	}
}

// TestMatchVideoClassifier: a video uploaded to /v1/match has its scene
// frames, kept as vPDQ hashing decoded them, classified one by one; the
// video's score is the highest frame score, and the case it opens names
// the frame and time behind it, which the review page shows and whose
// blurred still it serves.
func TestMatchVideoClassifier(t *testing.T) {
	video := scenesMP4(t)
	fc := newFrameClassifier(t, nil)
	ts := mustOpenServer(t, withFrameClassifier(fc.URL))
	classifierRule(t, ts, "frames")
	var resp struct {
		Signals     []vigil.Signal
		Classifiers []classify.Outcome
		Actions     *actions
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "video/mp4", bytes.NewReader(video), &resp); code != 200 {
		t.Fatalf("match %d", code)
	}
	if len(resp.Signals) == 0 || resp.Signals[0].Type != vigil.SignalVPDQ {
		t.Fatalf("not hashed as a video: %+v", resp.Signals)
	}
	if len(resp.Classifiers) != 1 || resp.Classifiers[0].Video == nil || resp.Classifiers[0].Video.Frames != 3 || resp.Classifiers[0].Partial {
		t.Fatalf("classifiers = %+v", resp.Classifiers)
	}
	fc.mu.Lock()
	frameScores := slices.Clone(fc.scores)
	fc.mu.Unlock()
	if len(frameScores) != 3 {
		t.Fatalf("classifier saw %d frames, want one per scene (3)", len(frameScores))
	}
	if resp.Actions == nil || len(resp.Actions.Cases) != 1 {
		t.Fatalf("actions = %+v", resp.Actions)
	}
	var c caseWithHistory
	if code := ts.do(t, vigil.RoleReviewer, "GET", fmt.Sprintf("/v1/cases/%d", resp.Actions.Cases[0]), "", nil, &c); code != 200 {
		t.Fatalf("get case %d", code)
	}
	if len(c.Scores) != 1 || c.Scores[0].Video == nil {
		t.Fatalf("case scores = %+v", c.Scores)
	}
	s := c.Scores[0]
	if s.Score != slices.Max(frameScores) || s.Video.Scored != 3 || s.Video.Sent != 3 || len(s.Video.Frames) == 0 {
		t.Fatalf("video score %v (video %+v), frame scores %v", s.Score, s.Video, frameScores)
	}
	at := s.Video.Frames[0].Timestamp
	if !slices.Contains([]float64{0, 2, 4}, at) || s.Video.Frames[0].Number != int(at*10) {
		t.Errorf("frame behind the score: %+v, want the first frame of a scene", s.Video.Frames[0])
	}

	ui := newUIClient(t, ts)
	ui.login(t, ts.keys[vigil.RoleReviewer])
	code, _, page := ui.get(t, fmt.Sprintf("/ui/cases/%d", c.ID))
	want := fmt.Sprintf(`href="/ui/cases/%d/preview?t=%.3f"`, c.ID, at)
	if code != 200 || !strings.Contains(page, `class="frame-time"`) || !strings.Contains(page, want) || !strings.Contains(page, fmt.Sprintf("0:0%d.0</a>", int(at))) {
		t.Errorf("case page %d lacks the frame time (%s):\n%s", code, want, page)
	}
	// The blurred still of each scene's frame differs from the others.
	stills := map[string]bool{}
	for _, t0 := range []string{"0", "2.000", "4.000"} {
		code, _, png := ui.get(t, fmt.Sprintf("/ui/cases/%d/preview?t=%s", c.ID, t0))
		if code != 200 || !strings.HasPrefix(png, "\x89PNG") {
			t.Fatalf("preview at %s: %d", t0, code)
		}
		stills[png] = true
	}
	if len(stills) != 3 {
		t.Errorf("%d distinct blurred stills of three scenes", len(stills))
	}
	if code, _, _ := ui.get(t, fmt.Sprintf("/ui/cases/%d/preview?t=-1", c.ID)); code != 400 {
		t.Errorf("preview at -1 s: %d, want 400", code)
	}
}

// TestMatchVideoClassifierPartial: when a frame's call never answers, the
// match still answers within the classifier's timeout, with a partial
// result that says how many frames were scored, and the case shows it.
func TestMatchVideoClassifierPartial(t *testing.T) {
	video := scenesMP4(t)
	// Whichever frame's call comes second is held past the timeout.
	fc := newFrameClassifier(t, func(call int) bool { return call == 2 })
	ts := mustOpenServer(t, withFrameClassifier(fc.URL))
	classifierRule(t, ts, "frames")
	var resp struct {
		Classifiers []classify.Outcome
		Actions     *actions
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "video/mp4", bytes.NewReader(video), &resp); code != 200 {
		t.Fatalf("match %d", code)
	}
	if len(resp.Classifiers) != 1 {
		t.Fatalf("classifiers = %+v", resp.Classifiers)
	}
	o := resp.Classifiers[0]
	if !o.Partial || o.Video.Frames != 3 || o.Video.Scored != 2 || o.Video.Failed["timed out"] != 1 || len(o.Scores) != 1 {
		t.Fatalf("outcome = %+v (video %+v)", o, o.Video)
	}
	if resp.Actions == nil || len(resp.Actions.Cases) != 1 {
		t.Fatalf("actions = %+v", resp.Actions)
	}
	ui := newUIClient(t, ts)
	ui.login(t, ts.keys[vigil.RoleReviewer])
	if code, _, page := ui.get(t, fmt.Sprintf("/ui/cases/%d", resp.Actions.Cases[0])); code != 200 || !strings.Contains(page, "partial: 2 of 3 sent") {
		t.Errorf("case page %d does not say the result is partial:\n%s", code, page)
	}
}
