package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlite"
)

// TestAuditTamperDetected edits the database file behind the store's back,
// as someone with access to the disk could, and checks that verification
// names the first record changed.
func TestAuditTamperDetected(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	audit := sqlite.NewAuditService(db)
	for _, target := range []string{"bank:a", "bank:b", "bank:c", "bank:d"} {
		if err := audit.AppendAudit(ctx, &vigil.AuditRecord{Actor: "key:alice", Action: vigil.AuditBankCreate, Target: target}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	raw, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	// The triggers refuse plain edits…
	if _, err := raw.Exec(`UPDATE audit_log SET actor = 'key:mallory' WHERE seq = 2`); err == nil {
		t.Fatal("update of the audit log was allowed")
	}
	// …but whoever holds the file can drop them; the chain still tells.
	for _, q := range []string{`DROP TRIGGER audit_log_no_update`, `UPDATE audit_log SET actor = 'key:mallory' WHERE seq = 2`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	db, err = sqlite.Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n, brk, err := sqlite.NewAuditService(db).VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if brk == nil || brk.Seq != 2 {
		t.Fatalf("tampered record not found: checked %d, break %+v", n, brk)
	}
}
