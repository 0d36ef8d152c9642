package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
