package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/classify"
)

func TestClassifyCommand(t *testing.T) {
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, `{"model":"fake-1","results":[{"label":"csam","score":%g}]}`, float64(len(b)%100)/100)
	}))
	defer srv.Close()
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("garbage")) }))
	defer dead.Close()
	t.Setenv("VIGIL_CLASSIFIER_SECRET_FAKE", "tok")

	dir := t.TempDir()
	img, err := os.ReadFile(filepath.Join(testImages, "synthetic/synth-smooth-rgb-129x300.png"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "a.png"), img, 0o644)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("a note"), 0o644)

	out, _, err := runMain(t, "", "classify", "--classifier", "fake=http:"+srv.URL, "--classifier", "liar=http:"+dead.URL, dir)
	if err == nil {
		t.Error("exit status zero although the text file went to no classifier")
	}
	var lines []classifyLine
	for _, s := range strings.Split(strings.TrimSpace(out), "\n") {
		var l classifyLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("bad JSON line %q: %v", s, err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 2 {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	a := lines[0]
	if a.MediaType != "image/png" || len(a.SHA256) != 64 || len(a.Classifiers) != 2 || a.Error != "" {
		t.Fatalf("image line: %+v", a)
	}
	if fake := a.Classifiers[0]; fake.Classifier != "fake" || fake.ModelVersion != "fake-1" || len(fake.Scores) != 1 || fake.Scores[0].Label != "csam" {
		t.Errorf("fake classifier: %+v", fake)
	}
	if liar := a.Classifiers[1]; liar.Error != "bad reply" || liar.Scores != nil {
		t.Errorf("lying classifier: %+v", liar)
	}
	if auth != "Bearer tok" {
		t.Errorf("authorization %q", auth)
	}
	if b := lines[1]; b.Classifiers != nil || !strings.Contains(b.Error, "no classifier's policy allows text/plain") {
		t.Errorf("text line: %+v", b)
	}

	// Usage errors: no classifier, a bad one.
	if r := runExec(t, "", "classify", dir); r.code != 2 {
		t.Errorf("no classifier: exit %d", r.code)
	}
	if r := runExec(t, "", "classify", "--classifier", "x=ftp:nope", dir); r.code != 2 {
		t.Errorf("bad classifier: exit %d (%s)", r.code, r.stderr)
	}
}

// TestServeClassifierEndToEnd runs `vigil serve --classifier` with a
// classifier rule: an upload to /v1/match and a content job are both
// classified, and each opens a classifier case with the score.
func TestServeClassifierEndToEnd(t *testing.T) {
	var calls atomic.Int32
	cls := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"model":"fake-2","results":[{"label":"csam","score":0.97}]}`)
	}))
	defer cls.Close()
	rulesFile := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rulesFile, []byte(`rules:
  - name: model-review
    when: {kind: classifier, classifier: fake, label: csam, min_score: 0.9}
    action: {type: case, queue: default, priority: 85}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, "--rules", rulesFile, "--classifier", "fake=http:"+cls.URL)
	img, err := os.ReadFile(filepath.Join(testImages, "synthetic/synth-smooth-rgb-129x300.png"))
	if err != nil {
		t.Fatal(err)
	}
	code, body := srv.call("POST", "/v1/match?user_id=u-1", "image/png", bytes.NewReader(img))
	var mr struct {
		Classifiers []classify.Outcome
		Actions     struct{ Cases []int64 }
	}
	if json.Unmarshal(body, &mr); code != 200 || len(mr.Actions.Cases) != 1 || len(mr.Classifiers) != 1 || len(mr.Classifiers[0].Scores) != 1 {
		t.Fatalf("match %d %s", code, body)
	}
	code, body = srv.call("GET", "/v1/cases/"+strconv.FormatInt(mr.Actions.Cases[0], 10), "", nil)
	var c vigil.Case
	if json.Unmarshal(body, &c); code != 200 || c.Kind != vigil.CaseKindClassifier || c.Priority != 85 || len(c.Scores) != 1 || c.Scores[0].ModelVersion != "fake-2" {
		t.Fatalf("case %d %s", code, body)
	}

	// A content job about other content is classified too.
	code, body = srv.call("POST", "/v1/jobs?user_id=u-2&content_id=post-2", "image/png", bytes.NewReader(append(img, 0)))
	var job vigil.Job
	if json.Unmarshal(body, &job); code != 202 {
		t.Fatalf("submit %d %s", code, body)
	}
	srv.waitJob(&job)
	var res struct{ Actions struct{ Cases []int64 } }
	if err := json.Unmarshal(job.Result, &res); err != nil || len(res.Actions.Cases) != 1 || res.Actions.Cases[0] == c.ID {
		t.Fatalf("job result %s (%v)", job.Result, err)
	}
	if calls.Load() != 2 {
		t.Errorf("%d classifier calls, want 2", calls.Load())
	}
	code, body = srv.call("GET", "/v1/classifiers", "", nil)
	if code != 200 || !strings.Contains(string(body), `"name":"fake"`) || !strings.Contains(string(body), `"cases":2`) {
		t.Errorf("classifiers %d %s", code, body)
	}
}

// vigil classify runs the provenance readers beside the classifiers: a
// signed C2PA manifest declaring a generative source shows in the line.
func TestClassifyCommandProvenance(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"model":"fake-1","results":[{"label":"csam","score":0.1}]}`))
	}))
	defer srv.Close()
	e, _ := generatedJPEG(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "generated.jpg")
	os.WriteFile(file, e.Data, 0o644)
	out, _, err := runMain(t, "", "classify", "--classifier", "fake=http:"+srv.URL, file)
	if err != nil {
		t.Fatalf("classify: %v\n%s", err, out)
	}
	var l struct {
		Provenance map[string]json.RawMessage `json:"provenance"`
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &l); err != nil {
		t.Fatalf("bad JSON line %q: %v", out, err)
	}
	if _, ok := l.Provenance["c2pa"]; !ok || !strings.Contains(string(l.Provenance["generative_ai"]), "trainedAlgorithmicMedia") {
		t.Fatalf("provenance missing from %s", out)
	}
}

// TestClassifyCommandVideo: a video given to vigil classify has its scene
// frames sent to the classifiers whose policy takes video frames from
// source cli, as JPEGs, and the line carries the video's score with the
// frames behind it.
func TestClassifyCommandVideo(t *testing.T) {
	if os.Getenv("VIGIL_SKIP_FFMPEG") != "" {
		t.Skip("VIGIL_SKIP_FFMPEG set")
	}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		if !bytes.Contains(b, []byte("data:image/jpeg;base64,")) {
			http.Error(w, "not a frame", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `{"model":"frames-1","results":[{"label":"x","score":%g}]}`, float64(len(b)%100)/100)
	}))
	defer srv.Close()
	cfg := filepath.Join(t.TempDir(), "classifiers.yaml")
	os.WriteFile(cfg, []byte("classifiers:\n  - name: frames\n    kind: http\n    url: "+srv.URL+"\n    policy: {sources: [cli], video: {frames: 4}}\n"), 0o644)
	video := "../../vpdq/testdata/sample-videos/pattern-sd-with-small-logo-bar.mp4"
	out, errOut, err := runMain(t, "", "classify", "--classifiers", cfg, video)
	if err != nil {
		t.Fatal(err, errOut, out)
	}
	var line classifyLine
	if err := json.Unmarshal([]byte(out), &line); err != nil {
		t.Fatalf("bad JSON line %q: %v", out, err)
	}
	if len(line.Classifiers) != 1 {
		t.Fatalf("line = %+v", line)
	}
	o := line.Classifiers[0]
	if o.Error != "" || o.Video == nil || o.Video.Frames < 1 || o.Video.Frames > 4 || o.Video.Scored != o.Video.Frames || int(calls.Load()) != o.Video.Frames {
		t.Fatalf("outcome = %+v (video %+v), %d calls", o, o.Video, calls.Load())
	}
	if len(o.Scores) != 1 || o.Scores[0].Video == nil || len(o.Scores[0].Video.Frames) == 0 {
		t.Fatalf("scores = %+v", o.Scores)
	}
}

// TestServeClassifierVideoJob: a video submitted as a content job has the
// scene frames its hashing kept sent to a classifier whose policy takes
// frames from source job, and the case the score opens names the frames.
func TestServeClassifierVideoJob(t *testing.T) {
	if os.Getenv("VIGIL_SKIP_FFMPEG") != "" {
		t.Skip("VIGIL_SKIP_FFMPEG set")
	}
	var calls atomic.Int32
	cls := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		b, _ := io.ReadAll(r.Body)
		if !bytes.Contains(b, []byte("data:image/jpeg;base64,")) {
			http.Error(w, "not a frame", http.StatusBadRequest)
			return
		}
		io.WriteString(w, `{"model":"frames-2","results":[{"label":"x","score":0.95}]}`)
	}))
	defer cls.Close()
	dir := t.TempDir()
	rulesFile, clsFile := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "classifiers.yaml")
	os.WriteFile(rulesFile, []byte("rules:\n  - name: frames-review\n    when: {kind: classifier, classifier: frames, label: x, min_score: 0.9}\n    action: {type: case, queue: default, priority: 70}\n"), 0o600)
	os.WriteFile(clsFile, []byte("classifiers:\n  - name: frames\n    kind: http\n    url: "+cls.URL+"\n    policy: {sources: [job], video: {frames: 2}}\n"), 0o600)
	srv := startServe(t, "--rules", rulesFile, "--classifiers", clsFile)
	video, err := os.ReadFile("../../vpdq/testdata/sample-videos/pattern-sd-with-small-logo-bar.mp4")
	if err != nil {
		t.Fatal(err)
	}
	code, body := srv.call("POST", "/v1/jobs?content_id=clip-1", "video/mp4", bytes.NewReader(video))
	var job vigil.Job
	if json.Unmarshal(body, &job); code != 202 {
		t.Fatalf("submit %d %s", code, body)
	}
	srv.waitJob(&job)
	var res struct{ Actions struct{ Cases []int64 } }
	if err := json.Unmarshal(job.Result, &res); err != nil || len(res.Actions.Cases) != 1 {
		t.Fatalf("job result %s (%v)", job.Result, err)
	}
	code, body = srv.call("GET", "/v1/cases/"+strconv.FormatInt(res.Actions.Cases[0], 10), "", nil)
	var c vigil.Case
	if json.Unmarshal(body, &c); code != 200 || len(c.Scores) != 1 || c.Scores[0].Video == nil || c.Scores[0].Video.Sent > 2 ||
		c.Scores[0].Video.Sent != int(calls.Load()) || len(c.Scores[0].Video.Frames) == 0 {
		t.Fatalf("case %d %s (%d calls)", code, body, calls.Load())
	}
}
