package witness

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/vigil-oss/vigil/phm/translog"
)

const origin = "vigil.example/phm"

// seeded is a deterministic reader for key generation: the tests' keys are
// the same on every run.
type seeded struct{ b byte }

func (s *seeded) Read(p []byte) (int, error) {
	for i := range p {
		s.b++
		p[i] = s.b
	}
	return len(p), nil
}

type fixture struct {
	log     *translog.Log
	logKey  note.Signer
	server  *Server
	saved   []translog.Checkpoint
	wv      note.Verifier
	handler http.Handler
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	skey, vkey, err := note.GenerateKey(&seeded{1}, origin)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{}
	if f.logKey, err = note.NewSigner(skey); err != nil {
		t.Fatal(err)
	}
	lv, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	wskey, wvkey, err := translog.GenerateCosignerKey(&seeded{9}, "witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := translog.ParseCosignerKey(wskey, func() time.Time { return time.Unix(1_790_000_000, 0) })
	if err != nil {
		t.Fatal(err)
	}
	if f.wv, err = translog.NewCosignVerifier(wvkey); err != nil {
		t.Fatal(err)
	}
	if f.log, err = translog.CreateLog(t.TempDir(), origin); err != nil {
		t.Fatal(err)
	}
	f.server = &Server{Witness: &translog.Witness{Signer: signer, Origin: origin, Log: lv}, Token: "operator-token",
		Save: func(c translog.Checkpoint) error { f.saved = append(f.saved, c); return nil }}
	f.handler = f.server
	return f
}

func (f *fixture) append(t *testing.T, recs ...string) []byte {
	t.Helper()
	for _, r := range recs {
		if _, err := f.log.Append([]byte(r + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := f.log.Sign(f.logKey)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func body(old int64, proof []tlog.Hash, cp []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
	b.WriteString("\n")
	b.Write(cp)
	return b.String()
}

func (f *fixture) post(t *testing.T, token, b string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/add-checkpoint", strings.NewReader(b))
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

// TestAddCheckpoint: the first checkpoint is cosigned, an extension with
// its proof is cosigned, and the cosignature verifies with the witness's
// key on the checkpoint; a fork of the same size, a rollback, a bad proof,
// another log's checkpoint, a stale old size and a missing token are
// refused, and nothing refused is saved.
func TestAddCheckpoint(t *testing.T) {
	f := newFixture(t)
	cp2 := f.append(t, "one", "two")
	ok := func(w *httptest.ResponseRecorder, cp []byte) {
		t.Helper()
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		signed := append(append([]byte{}, cp...), w.Body.Bytes()...)
		if _, err := note.Open(signed, note.VerifierList(f.wv)); err != nil {
			t.Fatalf("cosignature does not verify: %v\n%s", err, signed)
		}
	}
	ok(f.post(t, "operator-token", body(0, nil, cp2)), cp2)

	// Refusals, none of which moves the witness.
	if w := f.post(t, "", body(2, nil, cp2)); w.Code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", w.Code)
	}
	if w := f.post(t, "wrong", body(2, nil, cp2)); w.Code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", w.Code)
	}
	if w := f.post(t, "operator-token", body(0, nil, cp2)); w.Code != http.StatusConflict || w.Body.String() != "2\n" {
		t.Fatalf("stale old size: %d %q", w.Code, w.Body)
	}
	fork, err := translog.CreateLog(t.TempDir(), origin)
	if err != nil {
		t.Fatal(err)
	}
	fork.Append([]byte("another\n"))
	fork.Append([]byte("history\n"))
	fcp, _ := fork.Sign(f.logKey)
	if w := f.post(t, "operator-token", body(2, nil, fcp)); w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("fork of the same size: %d %s", w.Code, w.Body)
	}
	cp3 := f.append(t, "three")
	if w := f.post(t, "operator-token", body(2, []tlog.Hash{{1}}, cp3)); w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("bad proof: %d %s", w.Code, w.Body)
	}
	otherKey, _, _ := note.GenerateKey(&seeded{5}, "other.example/log")
	os, _ := note.NewSigner(otherKey)
	other, _ := note.Sign(&note.Note{Text: "other.example/log\n3\n" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n"}, os)
	if w := f.post(t, "operator-token", body(2, nil, other)); w.Code != http.StatusForbidden {
		t.Fatalf("another log's checkpoint: %d %s", w.Code, w.Body)
	}
	if w := f.post(t, "operator-token", "old 2\nnot base64!\n\n"+string(cp3)); w.Code != http.StatusBadRequest {
		t.Fatalf("malformed: %d", w.Code)
	}
	if w := f.post(t, "operator-token", body(2, nil, []byte(strings.Repeat("x", MaxRequestBytes)))); w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("too large: %d", w.Code)
	}
	if len(f.saved) != 1 || f.server.Witness.Last.N != 2 {
		t.Fatalf("refusals moved the witness: saved %d, at %d", len(f.saved), f.server.Witness.Last.N)
	}

	// The genuine extension, with its proof.
	proof, err := f.log.ProveTree(3, 2)
	if err != nil {
		t.Fatal(err)
	}
	ok(f.post(t, "operator-token", body(2, proof, cp3)), cp3)
	if len(f.saved) != 2 || f.saved[1].N != 3 {
		t.Fatalf("saved %+v", f.saved)
	}
	// A rollback to the old tree is refused.
	if w := f.post(t, "operator-token", body(3, nil, cp2)); w.Code != http.StatusBadRequest {
		t.Fatalf("rollback: %d %s", w.Code, w.Body)
	}
	// A save that fails gives out no cosignature and keeps the old state.
	f.server.Save = func(translog.Checkpoint) error { return fmt.Errorf("disk full") }
	cp4 := f.append(t, "four")
	proof, _ = f.log.ProveTree(4, 3)
	if w := f.post(t, "operator-token", body(3, proof, cp4)); w.Code != http.StatusInternalServerError || bytes.Contains(w.Body.Bytes(), []byte("— ")) {
		t.Fatalf("failed save: %d %s", w.Code, w.Body)
	}
	if f.server.Witness.Last.N != 3 {
		t.Fatalf("a failed save moved the witness to %d", f.server.Witness.Last.N)
	}
}

func TestRoutes(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		method, path string
		want         int
	}{{"GET", "/healthz", 200}, {"GET", "/add-checkpoint", 405}, {"GET", "/other", 404}} {
		w := httptest.NewRecorder()
		f.handler.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		if w.Code != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, w.Code, c.want)
		}
	}
}

// FuzzParseAddCheckpoint: no body makes the parser panic, and what it
// accepts is within the limits.
func FuzzParseAddCheckpoint(f *testing.F) {
	h := base64.StdEncoding.EncodeToString(make([]byte, 32))
	f.Add([]byte("old 0\n\n" + origin + "\n1\n" + h + "\n\n— x abc\n"))
	f.Add([]byte("old 3\n" + h + "\n" + h + "\n\ncheckpoint"))
	f.Add([]byte("old -1\n\nx"))
	f.Add([]byte("old 01\n\nx"))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := ParseAddCheckpoint(b)
		if err != nil {
			return
		}
		if req.Old < 0 || len(req.Proof) > MaxProofHashes || len(req.Checkpoint) == 0 || len(req.Checkpoint) > MaxRequestBytes {
			t.Fatalf("accepted %+v", req)
		}
	})
}
