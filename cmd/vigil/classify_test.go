package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
