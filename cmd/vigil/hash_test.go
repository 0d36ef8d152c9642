package main

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil/provenance"
	"github.com/vigil-oss/vigil/provenance/c2patest"
)

const testImages = "../../pdq/testdata"

func TestHashCommand(t *testing.T) {
	dir := t.TempDir()
	img, err := os.ReadFile(filepath.Join(testImages, "synthetic/synth-smooth-rgb-129x300.png"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "a.png"), img, 0o644)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("not an image"), 0o644)
	os.WriteFile(filepath.Join(dir, "c.png"), nil, 0o644)

	out, _, err := runMain(t, "", "hash", "--workers", "2", dir)
	if err == nil {
		t.Fatal("exit status zero although two inputs failed")
	}
	var lines []hashLine
	for _, s := range strings.Split(strings.TrimSpace(out), "\n") {
		var l hashLine
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("bad JSON line %q: %v", s, err)
		}
		lines = append(lines, l)
	}
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3:\n%s", len(lines), out)
	}
	// Lexical walk order: b.txt, c.png, sub/a.png.
	if !strings.Contains(lines[0].Error, "b.txt: not an image") || !strings.Contains(lines[1].Error, "empty") {
		t.Errorf("errors not reported per file: %+v %+v", lines[0], lines[1])
	}
	a := lines[2]
	if a.PDQ != "da4b8b371a4aeb359ae1ef409a41049a5fb7f0aca503f49ea1bc70abb1bc700b" || a.Quality == nil || *a.Quality != 100 || len(a.SHA256) != 64 || len(a.MD5) != 32 || len(a.SHA1) != 40 {
		t.Errorf("image line: %+v", a)
	}

	// Standard input and text format.
	out, _, err = runMain(t, string(img), "hash", "--format", "text", "-")
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Split(strings.TrimSpace(out), "\t"); len(f) != 6 || f[0] != a.PDQ || f[1] != "100" || f[5] != "-" {
		t.Errorf("text line %q", out)
	}
}

func TestHashCommandDihedral(t *testing.T) {
	out, _, err := runMain(t, "", "hash", "--dihedral", filepath.Join(testImages, "synthetic/synth-smooth-rgb-129x300.png"))
	if err != nil {
		t.Fatal(err)
	}
	var l hashLine
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err)
	}
	// From the reference's --pdqdih-across output.
	if l.Dihedral["rot90"] != "d47a6b0a147b5528fe80824dfe80ab5509de51fe18ceae65a15faf25a1b5255a" || l.Dihedral["orig"] != l.PDQ || len(l.Dihedral) != 8 {
		t.Errorf("dihedral: %+v", l.Dihedral)
	}
}

func TestHashCommandVideo(t *testing.T) {
	if os.Getenv("VIGIL_SKIP_FFMPEG") != "" {
		t.Skip("VIGIL_SKIP_FFMPEG set")
	}
	video := "../../vpdq/testdata/sample-videos/test-padded-dimensions.mp4"
	want, err := os.ReadFile("../../vpdq/testdata/expected/test-padded-dimensions.txt")
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runMain(t, "", "hash", "--every-frame", "--format", "vpdq", video)
	if err != nil {
		t.Fatal(err, errOut)
	}
	if out != string(want) {
		t.Fatalf("vpdq output differs from the reference's:\n%.300s", out)
	}
	out, _, err = runMain(t, "", "hash", video)
	if err != nil {
		t.Fatal(err)
	}
	var l hashLine
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err)
	}
	if l.Video == nil || len(l.Video.Frames) != 5 || l.Video.FrameRate != 30 || l.SHA256 == "" {
		t.Fatalf("default one frame per second: %+v", l.Video)
	}
}

// vigil hash reports a signed manifest's provenance and the generative-AI
// indication, trusting the signer only when told to.
func TestHashCommandProvenance(t *testing.T) {
	dir := t.TempDir()
	e, s := generatedJPEG(t)
	file, trust := filepath.Join(dir, "generated.jpg"), filepath.Join(dir, "trust.pem")
	os.WriteFile(file, e.Data, 0o644)
	os.WriteFile(trust, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Root.Raw}), 0o644)
	for _, tc := range []struct {
		args  []string
		trust string
	}{{nil, provenance.Untrusted}, {[]string{"--c2pa-trust", trust}, provenance.Trusted}} {
		out, _, err := runMain(t, "", append(append([]string{"hash"}, tc.args...), file)...)
		if err != nil {
			t.Fatal(err)
		}
		var l hashLine
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatal(err)
		}
		c := l.Provenance.C2PA
		if c == nil || !c.SignatureValid || !c.BindingValid || c.Trust != tc.trust || c.ClaimGenerator != "Vigil Test Generator/1.0" ||
			l.GenerativeAI == nil || l.GenerativeAI.DigitalSourceType != "trainedAlgorithmicMedia" || l.PDQ == "" {
			t.Fatalf("line %s", out)
		}
	}
	if _, _, err := runMain(t, "", "hash", "--c2pa-trust", file, file); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("a trust file without certificates: %v", err)
	}
}

// generatedJPEG is a test picture carrying a C2PA manifest, signed by a
// test chain, that declares it made by a trained algorithm.
func generatedJPEG(t *testing.T) (*c2patest.Embedded, *c2patest.Signer) {
	t.Helper()
	img, err := os.ReadFile(filepath.Join(testImages, "bridge-mods/aaa-orig.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c2patest.NewSigner("ES256")
	if err != nil {
		t.Fatal(err)
	}
	e, err := c2patest.EmbedJPEG(img, c2patest.Manifest{ClaimGenerator: "Vigil Test Generator/1.0", Signer: s,
		Actions: []c2patest.Action{{Action: "c2pa.created", DigitalSourceType: c2patest.TrainedAlgorithmicMedia}}})
	if err != nil {
		t.Fatal(err)
	}
	return e, s
}

// vigil hash and vigil classify report a manifest's RFC 3161 time-stamp:
// a signer whose certificate expired yesterday, time-stamped two days ago
// by a TSA the trust file names, is trusted, with the stamped time.
func TestHashCommandTimestamp(t *testing.T) {
	img, err := os.ReadFile(filepath.Join(testImages, "bridge-mods/aaa-orig.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c2patest.NewSignerValid("ES256", time.Now().Add(-72*time.Hour), time.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	a, err := c2patest.NewTSA()
	if err != nil {
		t.Fatal(err)
	}
	signedAt := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)
	e, err := c2patest.EmbedJPEG(img, c2patest.Manifest{ClaimGenerator: "Vigil Test Generator/1.0", Signer: s,
		Actions:   []c2patest.Action{{Action: "c2pa.created", DigitalSourceType: c2patest.TrainedAlgorithmicMedia}},
		Timestamp: &c2patest.Timestamp{TSA: a, At: signedAt}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file, trust := filepath.Join(dir, "generated.jpg"), filepath.Join(dir, "trust.pem")
	os.WriteFile(file, e.Data, 0o644)
	os.WriteFile(trust, append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Root.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Root.Raw})...), 0o644)
	out, _, err := runMain(t, "", "hash", "--c2pa-trust", trust, file)
	if err != nil {
		t.Fatal(err)
	}
	var l hashLine
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err)
	}
	c := l.Provenance.C2PA
	if c == nil || c.Trust != provenance.Trusted || c.Timestamp == nil || !c.Timestamp.Valid || !c.Timestamp.Time.Equal(signedAt) ||
		!strings.Contains(out, `"timestamp":{"header":"sigTst2","time":"`+signedAt.Format(time.RFC3339)+`","tsa":"CN=Vigil Test TSA`) {
		t.Fatalf("hash line %s", out)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"model":"fake-1","results":[{"label":"csam","score":0.1}]}`))
	}))
	defer srv.Close()
	out, _, err = runMain(t, "", "classify", "--classifier", "fake=http:"+srv.URL, "--c2pa-trust", trust, file)
	if err != nil {
		t.Fatalf("classify: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"trust":"trusted","timestamp":{"header":"sigTst2","time":"`+signedAt.Format(time.RFC3339)+`"`) ||
		!strings.Contains(out, `"valid":true`) {
		t.Fatalf("classify line %s", out)
	}
}

// vigil hash reads an MP4's C2PA manifest beside its vPDQ hashes.
func TestHashCommandVideoProvenance(t *testing.T) {
	mp4, err := os.ReadFile("../../vpdq/testdata/sample-videos/doorknob-hd-no-bar.mp4")
	if err != nil {
		t.Fatal(err)
	}
	s, err := c2patest.NewSigner("ES256")
	if err != nil {
		t.Fatal(err)
	}
	e, err := c2patest.EmbedBMFF(mp4, c2patest.Manifest{ClaimGenerator: "Vigil Test Generator/1.0", Signer: s,
		Actions: []c2patest.Action{{Action: "c2pa.created", DigitalSourceType: c2patest.TrainedAlgorithmicMedia}}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file, trust := filepath.Join(dir, "generated.mp4"), filepath.Join(dir, "trust.pem")
	os.WriteFile(file, e.Data, 0o644)
	os.WriteFile(trust, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Root.Raw}), 0o644)
	out, _, err := runMain(t, "", "hash", "--c2pa-trust", trust, file)
	if err != nil {
		t.Fatal(err)
	}
	var l hashLine
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err)
	}
	if l.Video == nil || len(l.Video.Frames) == 0 || l.Provenance == nil || l.Provenance.C2PA == nil ||
		!l.Provenance.C2PA.BindingValid || l.GenerativeAI == nil || !l.GenerativeAI.Verified() {
		t.Fatalf("line %s", out)
	}
}
