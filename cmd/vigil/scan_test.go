package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/sqlite"
)

const scanImgPDQ = "da4b8b371a4aeb359ae1ef409a41049a5fb7f0aca503f49ea1bc70abb1bc700b"

// scanTree writes a known image, an unknown one and a text file.
func scanTree(t *testing.T) string {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"a/known.png":   "synthetic/synth-smooth-rgb-129x300.png",
		"b/unknown.png": "synthetic/synth-smooth-rgb-64x64.png",
	} {
		b, err := os.ReadFile(filepath.Join(testImages, src))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o644)
	return dir
}

func TestScanLocalResumable(t *testing.T) {
	data := newDataDir(t)
	if _, _, err := runMain(t, "", "bank", "create", "--data", data, "list"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runMain(t, scanImgPDQ+"\n", "bank", "import", "--data", data, "--signal-type", "pdq", "list", "-"); err != nil {
		t.Fatal(err)
	}
	dir := scanTree(t)
	state := filepath.Join(t.TempDir(), "scan.state")
	out, errOut, err := runMain(t, "", "scan", "--data", data, "--state", state, dir)
	if err != nil {
		t.Fatal(err, errOut)
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "known.png") || !strings.Contains(lines[0], `"bank":"list"`) {
		t.Fatalf("scan output %q", out)
	}
	if !strings.Contains(errOut, "scanned 3 files") || !strings.Contains(errOut, "1 matched") {
		t.Fatalf("summary %q", errOut)
	}
	// A re-run with the same state skips everything.
	out, errOut, err = runMain(t, "", "scan", "--data", data, "--state", state, dir)
	if err != nil || out != "" || !strings.Contains(errOut, "3 skipped") {
		t.Fatalf("re-run: %q %q %v", out, errOut, err)
	}
}

// TestScanStdin scans standard input ("-"), as the other file commands do.
func TestScanStdin(t *testing.T) {
	data := newDataDir(t)
	if _, _, err := runMain(t, "", "bank", "create", "--data", data, "list"); err != nil {
		t.Fatal(err)
	}
	img, err := os.ReadFile(filepath.Join(testImages, "synthetic/synth-smooth-rgb-129x300.png"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := runMain(t, scanImgPDQ+"\n", "bank", "import", "--data", data, "--signal-type", "pdq", "list", "-"); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runMain(t, string(img), "scan", "--data", data, "-")
	if err != nil {
		t.Fatal(err, errOut)
	}
	if !strings.Contains(out, `"path":"-"`) || !strings.Contains(out, `"bank":"list"`) || !strings.Contains(errOut, "1 matched") {
		t.Fatalf("scan - output %q, summary %q", out, errOut)
	}
}

func TestScanRemote(t *testing.T) {
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	db, err := sqlite.Open(ctx, t.TempDir(), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	banks, entries, keys := sqlite.NewBankService(db), sqlite.NewEntryService(db), sqlite.NewKeyService(db)
	b := &vigil.Bank{Name: "remote", Enabled: true}
	banks.CreateBank(ctx, b)
	entries.AddEntries(ctx, b.ID, "test", []*vigil.Entry{{SignalType: vigil.SignalPDQ, Value: scanImgPDQ}})
	m := matcher.New(banks, entries, logger)
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	srv := vhttp.NewServer()
	srv.Addr, srv.Banks, srv.Entries, srv.Keys, srv.Matcher, srv.Logger = "127.0.0.1:0", banks, entries, keys, m, logger
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		srv.Close(ctx)
	}()
	key, _ := keys.CreateKey(ctx, &vigil.Key{Name: "scanner", Role: vigil.RoleMatcher, CreatedBy: "test"})

	out, errOut, err := runMain(t, "", "scan", "--server", srv.URL(), "--key", key, scanTree(t))
	if err != nil || !strings.Contains(out, `"bank":"remote"`) || !strings.Contains(errOut, "1 matched") {
		t.Fatalf("remote scan: %q %q %v", out, errOut, err)
	}
	if _, _, err := runMain(t, "", "scan", "--server", srv.URL(), "--key", "vgl_wrong", scanTree(t)); err == nil {
		t.Fatal("wrong key: scan reported success")
	}
}

func TestScanFindsVideo(t *testing.T) {
	if os.Getenv("VIGIL_SKIP_FFMPEG") != "" {
		t.Skip("VIGIL_SKIP_FFMPEG set")
	}
	data := newDataDir(t)
	runMain(t, "", "bank", "create", "--data", data, "videos")
	stored, err := os.ReadFile("../../vpdq/testdata/expected/pattern-sd-grey-bar-r1.txt")
	if err != nil {
		t.Fatal(err)
	}
	value, err := vigil.CanonicalValue(vigil.SignalVPDQ, string(stored))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := runMain(t, value+"\n", "bank", "import", "--data", data, "--format", "text", "--signal-type", "vpdq", "videos", "-"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	video, _ := os.ReadFile("../../vpdq/testdata/sample-videos/pattern-sd-with-small-logo-bar.mp4")
	os.WriteFile(filepath.Join(dir, "clip.mp4"), video, 0o644)
	os.WriteFile(filepath.Join(dir, "readme.txt"), []byte("just text"), 0o644)
	out, errOut, err := runMain(t, "", "scan", "--data", data, dir)
	if err != nil || !strings.Contains(out, "clip.mp4") || !strings.Contains(out, `"query_percent"`) || !strings.Contains(errOut, "1 matched") {
		t.Fatalf("scan: %q %q %v", out, errOut, err)
	}
}

// TestScanKeepSignals keeps the signals of scanned files and shows that an
// entry added afterwards matches a file scanned before it existed.
func TestScanKeepSignals(t *testing.T) {
	ctx := context.Background()
	data := newDataDir(t)
	if _, _, err := runMain(t, "", "bank", "create", "--data", data, "list"); err != nil {
		t.Fatal(err)
	}
	dir := scanTree(t)
	if _, errOut, err := runMain(t, "", "scan", "--data", data, "--keep-signals", "24h", dir); err != nil {
		t.Fatal(err, errOut)
	}
	out, _, err := runMain(t, "", "hash", "--format", "text", filepath.Join(dir, "b/unknown.png"))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(out)
	if len(fields) < 1 || len(fields[0]) != 64 {
		t.Fatalf("hash output %q", out)
	}
	unknownPDQ := fields[0]

	logger := slog.New(slog.DiscardHandler)
	db, err := sqlite.Open(ctx, data, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	banks, entries, signals := sqlite.NewBankService(db), sqlite.NewEntryService(db), sqlite.NewSignalStore(db)
	kept := 0
	if err := signals.ForEachSeenSignal(ctx, vigil.SignalPDQ, func(*vigil.SeenSignal) error { kept++; return nil }); err != nil {
		t.Fatal(err)
	}
	if kept != 2 { // the two images; the text file has no PDQ
		t.Fatalf("kept %d PDQ signals, want 2", kept)
	}
	m := matcher.New(banks, entries, logger)
	m.SetSignalStore(signals)
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := banks.FindBankByName(ctx, "list")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := entries.AddEntries(ctx, b.ID, "test", []*vigil.Entry{{SignalType: vigil.SignalPDQ, Value: unknownPDQ}}); err != nil {
		t.Fatal(err)
	}
	if err := m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	rs, err := signals.ListRematches(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Match.Value != unknownPDQ {
		t.Fatalf("rematches %+v, want one for the file scanned before its entry was added", rs)
	}

	if _, _, err := runMain(t, "", "scan", "--server", "http://127.0.0.1:1", "--key", "k", "--keep-signals", "1h", dir); err == nil {
		t.Error("--keep-signals with --server: no error")
	}
}

// TestScanRules runs the local store's rules on a scan's matches: a case
// opens for the matched file, once however often the tree is scanned.
func TestScanRules(t *testing.T) {
	data := newDataDir(t)
	if _, _, err := runMain(t, "", "bank", "create", "--data", data, "list"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runMain(t, scanImgPDQ+"\n", "bank", "import", "--data", data, "--signal-type", "pdq", "list", "-"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, data, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cases := sqlite.NewCaseService(db)
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "default", Roles: []vigil.Role{vigil.RoleReviewer}}); err != nil {
		t.Fatal(err)
	}
	rule := &vigil.Rule{Name: "any-match", Enabled: true, Source: vigil.RuleSourceAPI, UpdatedBy: "test",
		When: vigil.RuleConditions{Kind: "match"}, Action: vigil.RuleAction{Type: vigil.ActionCase, Queue: "default"}}
	if err := sqlite.NewRuleService(db).CreateRule(ctx, rule); err != nil {
		t.Fatal(err)
	}
	db.Close()

	dir := scanTree(t)
	for range 2 {
		out, errOut, err := runMain(t, "", "scan", "--data", data, "--rules", dir)
		if err != nil || !strings.Contains(out, `"actions":{"rules":[{"name":"any-match"`) || !strings.Contains(out, `"cases":[1]`) {
			t.Fatalf("scan --rules: %q %q %v", out, errOut, err)
		}
	}
	db, err = sqlite.Open(ctx, data, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cs, err := sqlite.NewCaseService(db).ListCases(ctx, vigil.CaseFilter{})
	if err != nil || len(cs) != 1 || !strings.HasSuffix(cs[0].Content.ContentID, "known.png") || cs[0].Content.SHA256 == "" {
		t.Fatalf("cases %+v %v, want one for known.png", cs, err)
	}
	if _, _, err := runMain(t, "", "scan", "--server", "http://127.0.0.1:1", "--key", "k", "--rules", dir); err == nil {
		t.Fatal("--rules with --server: no error")
	}
}
