package main

import (
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil/sqlite"
)

func TestBankImportMatchExport(t *testing.T) {
	data := newDataDir(t)
	img := filepath.Join(testImages, "synthetic/synth-smooth-rgb-129x300.png")
	const imgPDQ = "da4b8b371a4aeb359ae1ef409a41049a5fb7f0aca503f49ea1bc70abb1bc700b"
	if _, _, err := runMain(t, "", "bank", "create", "--data", data, "--description", "test list", "hotline"); err != nil {
		t.Fatal(err)
	}
	list := "signal_type,value,source,source_entry_id,category\npdq," + imgPDQ + ",ncmec,N-1,A1\n"
	out, _, err := runMain(t, list, "bank", "import", "--data", data, "hotline", "-")
	if err != nil || !strings.Contains(out, `"added":1`) {
		t.Fatalf("import: %q %v", out, err)
	}
	// A bad list imports nothing and says which line is wrong.
	bad := list + "pdq,nothex,ncmec,N-2,A1\n"
	if _, _, err := runMain(t, bad, "bank", "import", "--data", data, "hotline", "-"); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("bad import: %v", err)
	}
	out, _, err = runMain(t, "", "match", "--data", data, img)
	if err != nil {
		t.Fatal(err)
	}
	var l matchLine
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err)
	}
	if !l.Matched || l.Results[0].Matches[0].SourceEntryID != "N-1" || l.Results[0].Matches[0].Bank != "hotline" {
		t.Fatalf("match: %+v", l)
	}
	out, _, err = runMain(t, "", "bank", "export", "--data", data, "hotline")
	if err != nil || strings.Count(out, "\n") != 2 || !strings.Contains(out, imgPDQ+",ncmec,N-1,A1") {
		t.Fatalf("export: %q %v", out, err)
	}
	out, _, err = runMain(t, "", "bank", "list", "--data", data)
	if err != nil || !strings.Contains(out, `"active_entries":1`) {
		t.Fatalf("list: %q %v", out, err)
	}
}

func TestKeyCreatePrintsSecretAlone(t *testing.T) {
	data := newDataDir(t)
	out, _, err := runMain(t, "", "key", "create", "--data", data, "--role", "matcher")
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(out); len(f) != 1 || !strings.HasPrefix(f[0], "vgl_") || out != f[0]+"\n" {
		t.Fatalf("key create printed %q", out)
	}
	if _, _, err := runMain(t, "", "key", "create", "--data", data, "--role", "wizard"); err == nil {
		t.Fatal("unknown role accepted")
	}
	out, _, _ = runMain(t, "", "key", "list", "--data", data)
	if !strings.Contains(out, `"role":"matcher"`) || strings.Contains(out, "vgl_") && !strings.Contains(out, `"hint"`) {
		t.Fatalf("key list: %q", out)
	}
	os.RemoveAll(data)
}

// TestBankImportRefusesUnmatchableKeyword checks that the CLI import
// refuses a keyword of only invisible characters, naming its line, and
// that `vigil match` still starts afterwards (issue 10: once stored, such
// a keyword made serve and match refuse to start).
func TestBankImportRefusesUnmatchableKeyword(t *testing.T) {
	data := newDataDir(t)
	if _, _, err := runMain(t, "", "bank", "create", "--data", data, "words"); err != nil {
		t.Fatal(err)
	}
	_, _, err := runMain(t, "telegram\n\u200b\u0301\n", "bank", "import", "--data", data, "--signal-type", "keyword", "words", "-")
	if err == nil || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "cannot match") {
		t.Fatalf("import of an invisible keyword: %v", err)
	}
	img := filepath.Join(testImages, "synthetic/synth-smooth-rgb-129x300.png")
	if _, _, err := runMain(t, "", "match", "--data", data, img); err != nil {
		t.Fatalf("match after a refused import: %v", err)
	}
	// One such keyword stored by an older version must not stop match
	// (or serve) from loading its indexes.
	db, err := sql.Open("sqlite", filepath.Join(data, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`INSERT INTO entries (bank_id, signal_type, value, added_by, added_at, seq)
		SELECT id, 'keyword', CAST(? AS BLOB), 'old', '2026-01-01T00:00:00.000000000Z', 1000000 FROM banks WHERE name = 'words'`, "​")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := runMain(t, "", "match", "--data", data, img); err != nil {
		t.Fatalf("match with an unmatchable keyword stored: %v", err)
	}
}

// TestBankRetract retracts an entry from the command line: it stops
// matching, the audit log records it as the API's retraction does, and a
// second retraction or a missing reason is refused.
func TestBankRetract(t *testing.T) {
	data := newDataDir(t)
	img := filepath.Join(testImages, "synthetic/synth-smooth-rgb-129x300.png")
	runMain(t, "", "bank", "create", "--data", data, "hotline")
	if _, _, err := runMain(t, scanImgPDQ+"\n", "bank", "import", "--data", data, "--signal-type", "pdq", "hotline", "-"); err != nil {
		t.Fatal(err)
	}
	if out, _, _ := runMain(t, "", "match", "--data", data, img); !strings.Contains(out, `"matched":true`) {
		t.Fatalf("before retraction: %s", out)
	}
	r := runExec(t, "", "bank", "retract", "--data", data, "--reason", "source withdrew it", "1")
	var e struct {
		ID            int64  `json:"id"`
		RetractedBy   string `json:"retracted_by"`
		RetractReason string `json:"retract_reason"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &e); r.code != 0 || err != nil || e.ID != 1 || e.RetractedBy != "cli" || e.RetractReason != "source withdrew it" {
		t.Fatalf("retract: %+v %v", r, err)
	}
	if out, _, _ := runMain(t, "", "match", "--data", data, img); !strings.Contains(out, `"matched":false`) {
		t.Fatalf("retracted entry still matches: %s", out)
	}
	out, _, _ := runMain(t, "", "audit", "list", "--data", data)
	last := strings.Split(strings.TrimSpace(out), "\n")
	var rec struct{ Actor, Action, Target, Detail string }
	if err := json.Unmarshal([]byte(last[len(last)-1]), &rec); err != nil || rec.Actor != "cli" || rec.Action != "entry.retract" ||
		rec.Target != "entry:1" || rec.Detail != `{"reason":"source withdrew it"}` {
		t.Fatalf("audit record %+v %v", rec, err)
	}
	if r := runExec(t, "", "bank", "retract", "--data", data, "--reason", "again", "1"); r.code != 1 || !strings.Contains(r.stderr, "already retracted") {
		t.Fatalf("second retraction: %+v", r)
	}
	if r := runExec(t, "", "bank", "retract", "--data", data, "--reason", "  ", "1"); r.code != 2 || !strings.Contains(r.stderr, "needs --reason") {
		t.Fatalf("blank reason: %+v", r)
	}
	if out, _, _ := runMain(t, "", "audit", "verify", "--data", data); !strings.Contains(out, "chain intact") {
		t.Fatalf("verify: %s", out)
	}
}

// TestBankImportFormats imports HMA's CSV and a vPDQ file, each told apart
// by its first line.
func TestBankImportFormats(t *testing.T) {
	data := newDataDir(t)
	if _, _, err := runMain(t, "", "bank", "create", "--data", data, "shared"); err != nil {
		t.Fatal(err)
	}
	const pdq = "da4b8b371a4aeb359ae1ef409a41049a5fb7f0aca503f49ea1bc70abb1bc700b"
	hma := "signal_type,signal_str,collab,category,tags\npdq," + pdq + ",TX Collab,POSITIVE_CLASS,tag1\n"
	if out, _, err := runMain(t, hma, "bank", "import", "--data", data, "shared", "-"); err != nil || !strings.Contains(out, `"added":1`) {
		t.Fatalf("hma import: %q %v", out, err)
	}
	file := filepath.Join(t.TempDir(), "clip-3.vpdq")
	frames := "0,100," + pdq + ",0.000\n1,99," + pdq + ",1.000\n"
	if err := os.WriteFile(file, []byte(frames), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runMain(t, "", "bank", "import", "--data", data, "--source", "iwf", "shared", file); err != nil || !strings.Contains(out, `"added":1`) {
		t.Fatalf("vpdq import: %q %v", out, err)
	}
	out, _, err := runMain(t, "", "bank", "export", "--data", data, "shared")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pdq," + pdq + ",TX Collab,,tag1", "vpdq,\"0,100," + pdq + ",0.000;1,99," + pdq + ",1.000\",iwf,clip-3.vpdq,"} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %q:\n%s", want, out)
		}
	}
	if _, _, err := runMain(t, frames, "bank", "import", "--data", data, "--format", "xml", "shared", "-"); err == nil {
		t.Error("--format xml accepted")
	}
}
