package http_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/classify"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/sqlite"
)

// fakeClassifier speaks the uniform contract with the score it holds, or
// fails with 503 while down.
type fakeClassifier struct {
	*httptest.Server
	score atomic.Value // float64
	down  atomic.Bool
	calls atomic.Int32
}

func newFakeClassifier(t *testing.T, score float64) *fakeClassifier {
	f := &fakeClassifier{}
	f.score.Store(score)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		io.Copy(io.Discard, r.Body)
		if f.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, `{"model":"fake-1","results":[{"label":"csam","score":%g},{"label":"other","score":0.01}]}`, f.score.Load().(float64))
	}))
	t.Cleanup(f.Close)
	return f
}

// withClassifier configures a server with classifier "fake" at url.
func withClassifier(url string, floor vigil.PrecisionFloor) func(*vhttp.Server) {
	return func(s *vhttp.Server) {
		set, err := classify.Build([]classify.Config{{Name: "fake", Kind: classify.KindHTTP, URL: url, Timeout: 2 * time.Second,
			Breaker: classify.Breaker{Failures: 1, Cooldown: time.Hour}, Floor: floor}},
			classify.Deps{Metrics: s.ClassifierMetrics(), Logger: s.Logger})
		if err != nil {
			panic(err)
		}
		s.Classifiers = set
	}
}

type classifiedMatch struct {
	Matched     bool
	Classifiers []classify.Outcome
	Actions     *actions
}

// TestMatchClassifierOpensCase: an upload a classifier scores above a
// classifier rule's floor opens a classifier case showing the score and
// model version; when the classifier goes down, /v1/match still answers,
// its breaker opens and later uploads are not sent to it.
func TestMatchClassifierOpensCase(t *testing.T) {
	fake := newFakeClassifier(t, 0.93)
	ts := mustOpenServer(t, withClassifier(fake.URL, vigil.PrecisionFloor{MinScore: 0.5, MinDecisions: 2, MinPrecision: 0.6}))
	if code := ts.do(t, vigil.RoleAdmin, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "default", "roles": []string{"reviewer"}}), nil); code != 201 {
		t.Fatal("create queue")
	}
	img := testImage(t)
	// Without a classifier rule the classifier is not asked.
	var resp classifiedMatch
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "", bytes.NewReader(img), &resp); code != 200 || resp.Classifiers != nil || fake.calls.Load() != 0 {
		t.Fatalf("without a classifier rule: %d %+v (%d calls)", code, resp, fake.calls.Load())
	}
	rule := map[string]any{"name": "model-review", "when": map[string]any{"kind": "classifier", "classifier": "fake", "label": "csam", "min_score": 0.8},
		"action": map[string]any{"type": "case", "queue": "default", "priority": 75}}
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/rules", "", jsonBody(rule), nil); code != 201 {
		t.Fatal("create rule")
	}
	auto := map[string]any{"name": "model-block", "corroboration": 2, "when": map[string]any{"kind": "classifier", "classifier": "fake", "min_score": 0.99},
		"action": map[string]any{"type": "auto", "auto": "block", "queue": "default"}}
	var refused apiError
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/rules", "", jsonBody(auto), &refused); code != 400 || !strings.Contains(refused.Error.Message, "a classifier score has none") {
		t.Errorf("auto action on a classifier rule: %d %q, want 400", code, refused.Error.Message)
	}

	resp = classifiedMatch{}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match?content_id=post-1", "", bytes.NewReader(img), &resp); code != 200 {
		t.Fatalf("match %d", code)
	}
	if len(resp.Classifiers) != 1 || resp.Classifiers[0].Error != "" || len(resp.Classifiers[0].Scores) != 2 || resp.Actions == nil || len(resp.Actions.Cases) != 1 {
		t.Fatalf("classified match = %+v", resp)
	}
	var c caseWithHistory
	if code := ts.do(t, vigil.RoleReviewer, "GET", fmt.Sprintf("/v1/cases/%d", resp.Actions.Cases[0]), "", nil, &c); code != 200 {
		t.Fatalf("get case %d", code)
	}
	if c.Kind != vigil.CaseKindClassifier || c.Priority != 75 || len(c.Scores) != 2 || c.Scores[0].Classifier != "fake" ||
		c.Scores[0].Label != "csam" || c.Scores[0].Score != 0.93 || c.Scores[0].ModelVersion != "fake-1" || c.Content.MediaID == "" {
		t.Fatalf("classifier case = %+v", c.Case)
	}

	// The review UI shows the scores, with the reminder that they decide
	// nothing.
	ui := newUIClient(t, ts)
	ui.login(t, ts.keys[vigil.RoleReviewer])
	if code, _, page := ui.get(t, fmt.Sprintf("/ui/cases/%d", c.ID)); code != 200 || !strings.Contains(page, `id="scores"`) ||
		!strings.Contains(page, "<td>fake</td>") || !strings.Contains(page, ">0.93<") || !strings.Contains(page, "<td>fake-1</td>") {
		t.Errorf("case page %d lacks the scores:\n%s", code, page)
	}

	// The classifier goes down: the match answers, without scores.
	fake.down.Store(true)
	other := flatImage(t)
	for i := range 2 {
		resp = classifiedMatch{}
		if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "", bytes.NewReader(other), &resp); code != 200 || len(resp.Classifiers) != 1 || resp.Classifiers[0].Scores != nil {
			t.Fatalf("match %d with the classifier down: %d %+v", i, code, resp)
		}
		want := []string{"failed", "circuit breaker open"}[i]
		if resp.Classifiers[0].Error != want {
			t.Errorf("match %d: classifier error %q, want %q", i, resp.Classifiers[0].Error, want)
		}
	}
	if n := fake.calls.Load(); n != 2 {
		t.Errorf("%d calls to the classifier, want 2 (none while its breaker is open)", n)
	}

	// The classifiers list shows the open breaker and the bands counted.
	var cls struct {
		Classifiers []struct {
			Name        string
			BreakerOpen bool `json:"breaker_open"`
			Flagged     bool
			Bands       []struct{ Label string }
		}
	}
	if code := ts.do(t, vigil.RoleCurator, "GET", "/v1/classifiers", "", nil, &cls); code != 200 || len(cls.Classifiers) != 1 ||
		!cls.Classifiers[0].BreakerOpen || cls.Classifiers[0].Flagged || len(cls.Classifiers[0].Bands) != 2 {
		t.Fatalf("classifiers %d %+v", code, cls)
	}
}

// TestClassifierFlagged: the precision floor flags a classifier whose
// cases reviewers keep refusing, in the API and the metric.
func TestClassifierFlagged(t *testing.T) {
	fake := newFakeClassifier(t, 0.91)
	ts := mustOpenServer(t, withClassifier(fake.URL, vigil.PrecisionFloor{MinScore: 0.5, MinDecisions: 2, MinPrecision: 0.6, Window: time.Hour}))
	if code := ts.do(t, vigil.RoleAdmin, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "default", "roles": []string{"reviewer"}}), nil); code != 201 {
		t.Fatal("create queue")
	}
	rule := map[string]any{"name": "model-review", "when": map[string]any{"kind": "classifier", "classifier": "fake", "label": "csam", "min_score": 0.8},
		"action": map[string]any{"type": "case", "queue": "default", "priority": 75}}
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/rules", "", jsonBody(rule), nil); code != 201 {
		t.Fatal("create rule")
	}
	for i, img := range [][]byte{testImage(t), flatImage(t)} {
		var resp classifiedMatch
		if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "", bytes.NewReader(img), &resp); code != 200 || resp.Actions == nil || len(resp.Actions.Cases) != 1 {
			t.Fatalf("match %d: %d %+v", i, code, resp)
		}
		if code := ts.do(t, vigil.RoleReviewer, "POST", fmt.Sprintf("/v1/cases/%d/decision", resp.Actions.Cases[0]), "", jsonBody(map[string]string{"verdict": "false_positive"}), nil); code != 200 {
			t.Fatalf("decide %d", code)
		}
	}
	var cls struct {
		Classifiers []struct {
			Flagged    bool
			FlagReason string `json:"flag_reason"`
			Bands      []struct {
				Label          string
				Band           int
				FalsePositives int `json:"false_positives"`
				Precision      *float64
			}
		}
	}
	if code := ts.do(t, vigil.RoleReviewer, "GET", "/v1/classifiers", "", nil, &cls); code != 200 || len(cls.Classifiers) != 1 {
		t.Fatalf("classifiers %d %+v", code, cls)
	}
	c := cls.Classifiers[0]
	if !c.Flagged || !strings.Contains(c.FlagReason, "precision 0.00 over 2 decisions in the last 1h0m0s") {
		t.Errorf("not flagged: %+v", c)
	}
	var top *struct {
		Label          string
		Band           int
		FalsePositives int `json:"false_positives"`
		Precision      *float64
	}
	for i := range c.Bands {
		if c.Bands[i].Label == "csam" {
			top = &c.Bands[i]
		}
	}
	if top == nil || top.Band != 9 || top.FalsePositives != 2 || top.Precision == nil || *top.Precision != 0 {
		t.Errorf("csam band = %+v", top)
	}
	resp, raw := ts.raw(t, vigil.RoleAdmin, "GET", "/metrics")
	body := string(raw)
	if resp.StatusCode != 200 || !strings.Contains(body, `vigil_classifier_precision_flagged{classifier="fake"} 1`) ||
		!strings.Contains(body, `vigil_classifier_calls_total{classifier="fake",outcome="ok"} 2`) {
		t.Errorf("metrics lack the classifier:\n%s", grepLines(body, "vigil_classifier"))
	}
}

// TestPauseClassifier: a curator pauses a flagged classifier with
// PUT /v1/classifiers/NAME; it is not called while paused, the pause is
// audited, shown in the list and the metrics, and outlives a restart;
// resumed, it is called again. Other roles may not pause.
func TestPauseClassifier(t *testing.T) {
	fake := newFakeClassifier(t, 0.93)
	ts := mustOpenServer(t, withClassifier(fake.URL, vigil.PrecisionFloor{}))
	classifierRule(t, ts, "fake")
	img := testImage(t)
	match := func() classifiedMatch {
		t.Helper()
		var resp classifiedMatch
		if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "", bytes.NewReader(img), &resp); code != 200 {
			t.Fatalf("match %d", code)
		}
		return resp
	}
	if resp := match(); len(resp.Classifiers) != 1 || fake.calls.Load() != 1 {
		t.Fatalf("before the pause: %+v, %d calls", resp, fake.calls.Load())
	}

	pause := map[string]any{"paused": true, "reason": "precision fell after the model update"}
	for _, c := range []struct {
		role vigil.Role
		path string
		body any
		want int
	}{
		{vigil.RoleReviewer, "/v1/classifiers/fake", pause, 403},
		{vigil.RoleMatcher, "/v1/classifiers/fake", pause, 403},
		{vigil.RoleCurator, "/v1/classifiers/nosuch", pause, 404},
		{vigil.RoleCurator, "/v1/classifiers/fake", map[string]any{"reason": "no verdict"}, 400},
		{vigil.RoleCurator, "/v1/classifiers/fake", map[string]any{"paused": "yes"}, 400},
		{vigil.RoleCurator, "/v1/classifiers/fake", map[string]any{"paused": true, "reason": "bad\x00reason"}, 400},
	} {
		if code := ts.do(t, c.role, "PUT", c.path, "", jsonBody(c.body), nil); code != c.want {
			t.Errorf("PUT %s as %s with %v: %d, want %d", c.path, c.role, c.body, code, c.want)
		}
	}
	var got struct {
		Name   string
		Paused bool
		State  *vigil.ClassifierState
	}
	if code := ts.do(t, vigil.RoleCurator, "PUT", "/v1/classifiers/fake", "", jsonBody(pause), &got); code != 200 {
		t.Fatalf("pause: %d", code)
	}
	if !got.Paused || got.State == nil || !got.State.Paused || got.State.Reason != pause["reason"] || !strings.Contains(got.State.UpdatedBy, "curator") {
		t.Fatalf("paused classifier = %+v (state %+v)", got, got.State)
	}

	// Paused: not called; the match still answers.
	if resp := match(); len(resp.Classifiers) != 0 || fake.calls.Load() != 1 {
		t.Errorf("paused classifier asked: %+v, %d calls", resp.Classifiers, fake.calls.Load())
	}
	var cls struct {
		Classifiers []struct {
			Name   string
			Paused bool
			State  *vigil.ClassifierState
		}
	}
	if code := ts.do(t, vigil.RoleReviewer, "GET", "/v1/classifiers", "", nil, &cls); code != 200 || len(cls.Classifiers) != 1 ||
		!cls.Classifiers[0].Paused || cls.Classifiers[0].State == nil || cls.Classifiers[0].State.Reason != pause["reason"] {
		t.Errorf("list: %d %+v", code, cls)
	}
	_, raw := ts.raw(t, vigil.RoleAdmin, "GET", "/metrics")
	if !strings.Contains(string(raw), `vigil_classifier_paused{classifier="fake"} 1`) {
		t.Errorf("metrics lack the pause:\n%s", grepLines(string(raw), "vigil_classifier_paused"))
	}
	recs, err := ts.Audit.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var audited []string
	for _, r := range recs {
		if r.Action == vigil.AuditClassifierState {
			audited = append(audited, r.Target+" "+r.Detail)
		}
	}
	if len(audited) != 1 || !strings.Contains(audited[0], `classifier:fake {"paused":true,"reason":"precision fell`) {
		t.Errorf("audit records of the pause: %q", audited)
	}

	// A restart (or another replica on the same store) starts paused.
	set, err := classify.Build([]classify.Config{{Name: "fake", Kind: classify.KindHTTP, URL: fake.URL}}, classify.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	again := vhttp.NewServer()
	again.Addr, again.Keys, again.Matcher, again.Logger = "127.0.0.1:0", ts.Keys, ts.Matcher, ts.Logger
	again.Cases, again.Audit, again.Classifiers = sqlite.NewCaseService(ts.db), ts.Audit, set
	if err := again.Open(); err != nil {
		t.Fatal(err)
	}
	defer again.Close(context.Background())
	if !set.Guard("fake").Paused() {
		t.Error("the pause did not outlive a restart")
	}

	// An admin resumes it: called again, on this server at once and on
	// the other when it next reads the states (here, its list).
	if code := ts.do(t, vigil.RoleAdmin, "PUT", "/v1/classifiers/fake", "", jsonBody(map[string]any{"paused": false}), &got); code != 200 || got.Paused {
		t.Fatalf("resume: %d %+v", code, got)
	}
	if resp := match(); len(resp.Classifiers) != 1 || fake.calls.Load() != 2 {
		t.Errorf("resumed classifier not asked: %+v, %d calls", resp.Classifiers, fake.calls.Load())
	}
	req, _ := http.NewRequest("GET", again.URL()+"/v1/classifiers", nil)
	req.Header.Set("Authorization", "Bearer "+ts.keys[vigil.RoleCurator])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || set.Guard("fake").Paused() {
		t.Errorf("the other server still has it paused (%d)", res.StatusCode)
	}
}
