package main

import (
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/vigil-oss/vigil/phm/translog"
)

// TestPHMWitnessServer: the witness built from its files cosigns over
// HTTP, saves its state, and after a restart from the same files knows the
// size it cosigned (a stale request gets 409 with that size); a short
// token is refused at start.
func TestPHMWitnessServer(t *testing.T) {
	dir := t.TempDir()
	// Random keys are fine here: no assertion depends on their bytes.
	skey, vkey, err := note.GenerateKey(rand.Reader, "vigil.example/phm")
	if err != nil {
		t.Fatal(err)
	}
	logSigner, _ := note.NewSigner(skey)
	wskey, _, err := translog.GenerateCosignerKey(rand.Reader, "witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyFile, tokenFile, state := write("witness.key", wskey), write("token", "a-long-operator-token\n"), filepath.Join(dir, "state.json")
	lg, err := translog.CreateLog(filepath.Join(dir, "log"), "vigil.example/phm")
	if err != nil {
		t.Fatal(err)
	}
	lg.Append([]byte("one\n"))
	cp, err := lg.Sign(logSigner)
	if err != nil {
		t.Fatal(err)
	}
	c := &PHMTableCommand{&Main{Logger: slog.New(slog.DiscardHandler)}}
	post := func(h http.Handler, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/add-checkpoint", strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer a-long-operator-token")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	srv, err := c.witnessServer(keyFile, vkey, "", state, tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if w := post(srv, "old 0\n\n"+string(cp)); w.Code != http.StatusOK || !strings.HasPrefix(w.Body.String(), "— witness.example/w1 ") {
		t.Fatalf("cosign: %d %s", w.Code, w.Body)
	}
	// Restarted from the same files, it remembers size 1.
	srv, err = c.witnessServer(keyFile, vkey, "", state, tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Witness.Last.N != 1 {
		t.Fatalf("restarted witness at size %d", srv.Witness.Last.N)
	}
	if w := post(srv, "old 0\n\n"+string(cp)); w.Code != http.StatusConflict || w.Body.String() != "1\n" {
		t.Fatalf("stale request after a restart: %d %q", w.Code, w.Body)
	}
	write("short", "short")
	if _, err := c.witnessServer(keyFile, vkey, "", state, filepath.Join(dir, "short")); err == nil {
		t.Fatal("a short token was accepted")
	}
	if _, _, err := runMain(t, "", "phm", "witness", "stop"); err == nil {
		t.Fatal("phm witness stop accepted")
	}
}
