package main

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil/sqlite"
)

func TestAuditVerifyCommand(t *testing.T) {
	data := newDataDir(t)
	runMain(t, "", "bank", "create", "--data", data, "one")
	runMain(t, "", "key", "create", "--data", data, "--role", "curator")
	runMain(t, "", "bank", "export", "--data", data, "one")
	out, _, err := runMain(t, "", "audit", "verify", "--data", data)
	if err != nil || !strings.Contains(out, "ok: 3 records") {
		t.Fatalf("verify: %q %v", out, err)
	}
	out, _, _ = runMain(t, "", "audit", "list", "--data", data)
	// Keys are named by id and name; the bank's record has the id the
	// store gave it, being written with the bank.
	if !strings.Contains(out, `"action":"key.create","target":"key:1:curator"`) || !strings.Contains(out, `"actor":"cli"`) ||
		!strings.Contains(out, `\"id\":1,\"name\":\"one\"`) {
		t.Fatalf("list: %q", out)
	}
	// Rewrite record 2 behind the store's back.
	raw, err := sql.Open("sqlite", filepath.Join(data, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER audit_log_no_update`, `UPDATE audit_log SET detail = '{"role":"admin"}' WHERE seq = 2`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	out, _, err = runMain(t, "", "audit", "verify", "--data", data)
	if err == nil || !strings.Contains(out, "BROKEN at record 2") {
		t.Fatalf("tampered log: %q %v", out, err)
	}
}
